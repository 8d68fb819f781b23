"""Cover-fit framing keeps heads and the edited area inside the crop (issue 13: x-painting cut off a cap).

Held out: matplotlib's grace_hopper.jpg (512x600, cap at the top), never used to tune anything."""

from __future__ import annotations

import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image

from easel.engines.framing import cover_crop, fitting_union, head_boxes, mask_box, union, window_start


def grace_hopper() -> Image.Image:
    return Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")


@pytest.mark.parametrize(("total", "window", "keep", "start"), [
    (1200, 1024, None, 88),  # nothing to keep: centred
    (1200, 1024, (100, 900), 88),  # the centred window already holds it
    (1200, 1024, (10, 700), 10),  # moved up just enough
    (1200, 1024, (300, 1190), 166),  # moved down just enough
    (1200, 1024, (0, 1100), 38),  # too long to hold: centred on it
])
def test_window_start(total: int, window: int, keep: tuple[int, int] | None, start: int) -> None:
    assert window_start(total, window, keep) == start


def test_mask_box_and_union() -> None:
    mask = np.zeros((50, 80), bool)
    mask[10:20, 30:41] = True
    assert mask_box(mask) == (30, 10, 41, 20)
    assert mask_box(np.zeros((5, 5), bool)) is None
    assert union([None, (0, 5, 10, 20), (5, 0, 30, 10)]) == (0, 0, 30, 20)


def test_portrait_into_a_square_keeps_the_whole_head() -> None:
    image = grace_hopper()
    heads = head_boxes(image)
    assert heads, "the face must be found"
    top = heads[0][1]
    assert top < 60, f"the head box must reach up to the cap, got top={top}"
    # into 1024x1024 the 512x600 picture is scaled by 2 to 1024x1200: 176 rows must go
    centred = cover_crop(image, (1024, 1024))
    framed = cover_crop(image, (1024, 1024), heads[:1])
    scaled = image.resize((1024, 1200), Image.Resampling.LANCZOS)
    top_rows = np.asarray(scaled)[: 2 * top + 1].astype(int)
    assert not np.array_equal(np.asarray(centred)[: top_rows.shape[0]], top_rows[: top_rows.shape[0]]), \
        "the centred crop loses the top rows (the case this test is about)"
    # the framed crop starts at most at the head's top: every row of the head is in it
    offset = next(y for y in range(0, 177) if np.abs(np.asarray(framed)[:8].astype(int)
                                                     - np.asarray(scaled)[y:y + 8].astype(int)).mean() < 1.0)
    assert offset <= 2 * top


def test_same_size_is_untouched() -> None:
    image = grace_hopper()
    assert cover_crop(image, image.size, [(0, 0, 10, 10)]) is image


def test_boxes_that_cannot_all_fit_keep_the_first() -> None:
    head, edit = (100, 0, 300, 400), (100, 900, 300, 1100)
    assert fitting_union([head, edit], (1024, 1024)) == head
    assert fitting_union([head, (100, 500, 300, 700)], (1024, 1024)) == (100, 0, 300, 700)
    assert fitting_union([], (10, 10)) is None
