"""wanx-background-generation-v2 (seed 003): a new background behind an RGBA subject, plus title text.

On CPU engines: a reference image becomes the background, or a studio backdrop is built from the
colours the prompt names; scene content from text and edge-guided elements need a generative engine.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from easel.catalog.base import CatalogModel, RunContext, ValidRequest, parse_contract
from easel.catalog.capabilities import GENERATIVE_MISSING
from easel.engines.manager import Engines
from easel.errors import EaselError, EngineUnavailable, InvalidImageResolution, InvalidParameter
from easel.ids import random_seed
from easel.inputs.decode import ImageLimits
from easel.tasks.store import Outcome
from easel.wire_types import WireFloat, WireInt

SUBJECT_LIMITS = ImageLimits(min_side=64, max_side=2048, max_bytes=10 * 1024 * 1024,
                             formats=frozenset({"PNG", "WEBP", "TIFF"}))
REFERENCE_LIMITS = ImageLimits(min_side=64, max_side=8192, max_bytes=10 * 1024 * 1024)
MAX_EDGES = 10


class ReferenceEdge(BaseModel):
    model_config = ConfigDict(extra="ignore")

    foreground_edge: list[str] = Field(default_factory=list)
    foreground_edge_prompt: list[str] | None = None
    background_edge: list[str] = Field(default_factory=list)
    background_edge_prompt: list[str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ReferenceEdge:
        for side in ("foreground", "background"):
            edges, prompts = getattr(self, f"{side}_edge"), getattr(self, f"{side}_edge_prompt")
            if prompts is not None and len(prompts) != len(edges):
                raise ValueError(f"{side}_edge_prompt must have one entry per {side}_edge ({len(edges)})")
        if len(self.foreground_edge) + len(self.background_edge) > MAX_EDGES:
            raise ValueError(f"at most {MAX_EDGES} foreground and background edge elements in all")
        return self

    @property
    def count(self) -> int:
        return len(self.foreground_edge) + len(self.background_edge)


class BackgroundInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    base_image_url: str
    ref_image_url: str | None = None
    ref_prompt: str | None = None
    neg_ref_prompt: str | None = None
    reference_edge: ReferenceEdge | None = None
    title: str | None = Field(None, min_length=1, max_length=8)
    sub_title: str | None = Field(None, min_length=1, max_length=10)

    @field_validator("ref_image_url", "ref_prompt", "neg_ref_prompt", "title", "sub_title", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _rules(self) -> BackgroundInput:
        if not self.ref_image_url and not self.ref_prompt:
            raise ValueError("give at least one of ref_image_url and ref_prompt")
        if self.sub_title and not self.title:
            self.sub_title = None  # seed 003: a sub_title without a title is ignored
        return self


class BackgroundParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    n: WireInt = Field(1, ge=1, le=4)
    noise_level: int = Field(300, ge=0, le=999)
    ref_prompt_weight: WireFloat = Field(0.5, ge=0.0, le=1.0)
    scene_type: Literal["GENERAL", "ROOM", "COSMETIC"] = "GENERAL"
    model_version: Literal["v2", "v3"] = "v2"
    seed: WireInt | None = Field(None, ge=0, le=2147483647)


class WanxBackgroundGeneration(CatalogModel):
    name = "wanx-background-generation-v2"
    routes = frozenset({"background-generation/generation"})
    summary = "通义万相 图像背景生成: a background behind an RGBA subject, optional title text"

    def validate(self, body: dict[str, Any]) -> ValidRequest:
        inp = parse_contract(BackgroundInput, body.get("input"), "input")
        params = parse_contract(BackgroundParameters, body.get("parameters"), "parameters")
        if params.seed is None:
            params.seed = random_seed()
        urls = [("input.base_image_url", inp.base_image_url)]
        if inp.ref_image_url:
            urls.append(("input.ref_image_url", inp.ref_image_url))
        edge = inp.reference_edge or ReferenceEdge()
        urls += [(f"input.reference_edge.foreground_edge[{i}]", u) for i, u in enumerate(edge.foreground_edge)]
        urls += [(f"input.reference_edge.background_edge[{i}]", u) for i, u in enumerate(edge.background_edge)]
        request = {"input": inp.model_dump(), "parameters": params.model_dump()}
        return ValidRequest(function="", request=request, image_urls=urls)

    def capability_gap(self, request: ValidRequest, engines: Engines) -> EaselError | None:
        from easel.engines.compose import needs_generative as generative_reason

        inp = BackgroundInput.model_validate(request.request["input"])
        edges = bool(inp.reference_edge and inp.reference_edge.count)
        reason = generative_reason(inp.ref_prompt, has_reference_edge=edges)
        if reason is None:
            return None
        if inp.ref_image_url and not edges:
            reason += "; send ref_image_url alone to use the reference image as the background"
        return EngineUnavailable(f"{reason} ({GENERATIVE_MISSING}).")

    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        from easel.engines import compose, typeset

        inp = BackgroundInput.model_validate(request["input"])
        params = BackgroundParameters.model_validate(request["parameters"])
        subject = _subject(ctx.load_image(inp.base_image_url, SUBJECT_LIMITS, "base image"))
        size = (subject.shape[1], subject.shape[0])
        reference = None
        if inp.ref_image_url:
            ref = ctx.load_image(inp.ref_image_url, REFERENCE_LIMITS, "reference image")
            reference = compose.fit_reference(np.asarray(ref.convert("RGBA")), size)
        spec = compose.parse_backdrop_prompt(inp.ref_prompt) if inp.ref_prompt and reference is None else None
        variation = compose.variation_from_noise_level(params.noise_level)
        plain, texted, layer_sets = [], [], []
        for index in range(params.n):
            seed = (params.seed or 0) + index
            background = reference if reference is not None else compose.studio_backdrop(
                size, spec, seed=seed, variation=variation, subject_alpha=subject[:, :, 3])
            image = compose.composite_subject(background, subject, seed=seed, variation=variation).image
            plain.append(ctx.save_image(image, index))
            if inp.title:
                layout = typeset.layout_title(image, subject[:, :, 3], inp.title, inp.sub_title, seed=seed,
                                              sample_idx=index)
                texted.append(ctx.save_image(typeset.render_layers(image, layout.layers), index + params.n))
                layer_sets.append({"sample_idx": index, "layers": layout.layers})
        if not inp.title:
            return Outcome(results=plain, extra_output={"notes": _notes(inp, params, reference is not None)})
        text_results = {"urls": plain, "params": layer_sets}
        # the seed's table says text_results, its example text_result: both are sent
        extra = {"text_results": text_results, "text_result": text_results,
                 "notes": _notes(inp, params, reference is not None)}
        return Outcome(results=texted, extra_output=extra)

    def describe(self, engines: Engines) -> dict[str, Any]:
        entry = super().describe(engines)
        entry["inputs"] = {
            "ref_image_url": "available: the reference becomes the background (cover-fit), subject composited "
                             "with matte-aware edges, contact and cast shadows, colour harmonisation",
            "ref_prompt (studio backdrop: 纯白/纯色/渐变/影棚, solid, gradient, studio + colours)":
                "available: studio backdrop with floor and shadows in the named colours",
            "ref_prompt (scene content) and reference_edge": f"not available: {GENERATIVE_MISSING}",
            "title / sub_title": "available: layout engine (placement away from the subject, WCAG contrast)",
        }
        return entry


def _subject(image: Image.Image) -> np.ndarray:
    """The subject as RGBA; the seed requires a real transparent background."""
    if max(image.size) > 2048:
        raise InvalidImageResolution(f"base_image_url is {image.width}x{image.height}; its long side must be "
                                     "at most 2048 px.")
    rgba = np.asarray(image.convert("RGBA"))
    alpha = rgba[:, :, 3]
    if image.mode not in ("RGBA", "LA", "PA", "P") or alpha.min() > 250 or alpha.max() < 5:
        raise InvalidParameter(
            "base_image_url must be an RGBA image whose alpha channel cuts out the subject (transparent "
            "background); this image has no usable transparency."
        )
    return rgba


def _notes(inp: BackgroundInput, params: BackgroundParameters, has_reference: bool) -> list[str]:
    """What the CPU engine did with parameters that mean more to a generative model."""
    notes = []
    if inp.neg_ref_prompt:
        notes.append("neg_ref_prompt has no effect: the CPU engine does not generate content it could steer away "
                     "from.")
    if has_reference and inp.ref_prompt:
        notes.append("ref_prompt_weight has no effect: the reference image is used as the background.")
    notes.append(f"scene_type {params.scene_type} and model_version {params.model_version} select the same CPU "
                 "engine; noise_level sets how far the n variations differ.")
    return notes
