"""The catalog: every public model name Easel serves. One line here plus one module adds a model."""

from __future__ import annotations

from typing import Any

from easel.catalog.background_generation import WanxBackgroundGeneration
from easel.catalog.base import CatalogModel
from easel.catalog.qwen_image_edit import QwenImageEdit
from easel.catalog.relight import Relight
from easel.catalog.style_repaint import WanxStyleRepaint
from easel.catalog.wanx_imageedit import WanxImageEdit
from easel.catalog.wanx_x_painting import WanxXPainting
from easel.engines.manager import Engines

MODELS: dict[str, CatalogModel] = {
    model.name: model
    for model in (
        WanxImageEdit(),
        WanxXPainting(),
        WanxBackgroundGeneration(),
        WanxStyleRepaint(),
        QwenImageEdit(),
        Relight(),
    )
}


def find_model(name: str) -> CatalogModel | None:
    return MODELS.get(name)


def model_listing(engines: Engines) -> dict[str, Any]:
    """GET /api/v1/models and `easel models`: every model, and the engine behind each engine task."""
    return {"data": [m.describe(engines) for m in MODELS.values()], "engines": engines.listing()}
