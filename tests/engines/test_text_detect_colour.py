"""The saturation image of the sensitive OCR pass: neutral marks over colourful texture."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_watermark_heldout import LIBERATION_SERIF, Mark, coverage, relief, stamped
from watermark_cases import BLACK, WHITE

from easel.engines.text.detect import desaturation_contrast, detect_faint, detect_text


def _chars(text: str) -> set[str]:
    return {ch.lower() for ch in text if not ch.isspace()}


@pytest.mark.parametrize("colour", [BLACK, WHITE])
def test_neutral_mark_over_colourful_relief_is_read(colour: tuple[float, float, float]) -> None:
    clean = relief()
    mark = Mark("Lumen Photo 2026", LIBERATION_SERIF, 0.085, 0, 0.35, colour, (0.5, 0.7))
    marked = stamped(clean, coverage(clean.shape[:2], mark), mark)
    grey_only = "".join(r.text for r in detect_faint(marked, desaturation=False))
    both = "".join(r.text for r in detect_text(marked, sensitive=True))
    wanted = _chars("LumenPhoto2026")
    assert len(_chars(both) & wanted) >= 8
    assert len(_chars(both) & wanted) > len(_chars(grey_only) & wanted)


def test_saturation_loss_is_where_the_mark_is() -> None:
    clean = relief()
    mark = Mark("Lumen Photo 2026", LIBERATION_SERIF, 0.085, 0, 0.35, BLACK, (0.5, 0.7))
    cover = coverage(clean.shape[:2], mark)
    loss = desaturation_contrast(stamped(clean, cover, mark))[..., 0].astype(np.float32) - 128
    assert loss[cover > 0.5].mean() > 3 * abs(loss[cover == 0].mean()) + 5


@pytest.mark.parametrize("name", ["coffee", "chelsea", "astronaut", "relief"])
def test_colourful_photos_without_marks_read_nothing(name: str) -> None:
    rgb = relief() if name == "relief" else getattr(data, name)()
    assert detect_text(rgb, sensitive=True) == []
