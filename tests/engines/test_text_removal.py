"""Text / watermark removal (wanx2.1-imageedit remove_watermark) on a real photo with rendered
Chinese and English text: the planted text is gone afterwards (by OCR), nothing outside the mask
changes, a prompt naming one script removes only that script, and the prompt parser reads the
documented wordings."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from easel.engines.text import detect_text, removal_target, remove_text, text_mask

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FONT_INDEX_SC = 2  # the collection holds JP, KR, SC, TC, HK



def render(rgb: np.ndarray, lines: list[tuple[str, tuple[int, int], int, tuple[int, int, int], float]]) -> np.ndarray:
    """Draw (text, (x, y), size, colour, opacity) lines onto a copy of the photo."""
    image = Image.fromarray(rgb).convert("RGBA")
    for text, xy, size, colour, opacity in lines:
        layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
        font = ImageFont.truetype(str(FONT), size, index=FONT_INDEX_SC)
        ImageDraw.Draw(layer).text(xy, text, font=font, fill=(*colour, round(255 * opacity)))
        image = Image.alpha_composite(image, layer)
    return np.asarray(image.convert("RGB"))


def chars_read(rgb: np.ndarray) -> Counter[str]:
    """Every character the sensitive two-pass OCR reads anywhere in the image."""
    return Counter(ch.lower() for region in detect_text(rgb, sensitive=True) for ch in region.text if not ch.isspace())


def planted(*texts: str) -> Counter[str]:
    return Counter(ch.lower() for text in texts for ch in text if not ch.isspace())


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return data.coffee()  # 400 x 600, no text of its own


@pytest.fixture(scope="module")
def captioned(photo: np.ndarray) -> np.ndarray:
    return render(
        photo,
        [
            ("版权所有 禁止转载", (30, 20), 34, (255, 255, 255), 1.0),
            ("Hello World", (330, 330), 36, (255, 230, 0), 1.0),
            ("SAMPLE 样图", (150, 150), 56, (255, 255, 255), 0.4),  # faint watermark across the cup
        ],
    )


def test_planted_text_is_gone_and_nothing_outside_the_mask_changes(captioned: np.ndarray) -> None:
    before = chars_read(captioned)
    text = planted("版权所有 禁止转载", "Hello World", "SAMPLE 样图")
    assert sum((before & text).values()) >= 0.9 * sum(text.values())  # the test text is readable at all

    result, mask = remove_text(captioned, "去除图像中的文字")

    left = sum((chars_read(result) & text).values())
    assert left <= 0.05 * sum(text.values())
    assert result.shape == captioned.shape and result.dtype == np.uint8
    assert np.array_equal(result[mask == 0], captioned[mask == 0])
    assert 0.005 < (mask > 0).mean() < 0.2  # the lines, not the photo


def test_english_prompt_removes_english_and_keeps_chinese(photo: np.ndarray) -> None:
    image = render(
        photo,
        [
            ("Morning Coffee", (40, 30), 40, (255, 255, 255), 1.0),
            ("早安咖啡 美好一天", (40, 320), 40, (255, 255, 255), 1.0),
        ],
    )
    result, mask = remove_text(image, "去除英文文字")
    read = chars_read(result)
    assert sum((read & planted("Morning Coffee")).values()) <= 1
    assert sum((read & planted("早安咖啡 美好一天")).values()) >= 7
    assert not mask[300:380].any()  # the Chinese line's rows were not touched


def test_mixed_line_is_split_by_script(photo: np.ndarray) -> None:
    image = render(photo, [("Café 咖啡时光 Morning", (20, 40), 40, (255, 255, 255), 1.0)])
    regions = detect_text(image)
    scripts = {r.script for r in regions}
    assert {"latin", "chinese"} <= scripts
    chinese = [r for r in regions if r.script == "chinese"]
    latin = [r for r in regions if r.script == "latin"]
    # The Chinese part lies between the two Latin words along the line.
    assert (
        min(r.polygon[:, 0].min() for r in latin)
        < chinese[0].polygon[:, 0].mean()
        < max(r.polygon[:, 0].max() for r in latin)
    )


def test_photo_without_text_is_returned_unchanged() -> None:
    clean = data.rocket()
    result, mask = remove_text(clean, "去除水印")
    assert not mask.any()
    assert np.array_equal(result, clean)


@pytest.mark.parametrize(
    ("prompt", "scripts", "marks"),
    [
        ("去除图像中的文字", {"chinese", "latin", "other"}, False),
        ("去除英文文字", {"latin"}, False),
        ("去除中文水印", {"chinese"}, True),
        ("去除品牌标识", {"chinese", "latin", "other"}, True),
        ("remove the logo", {"chinese", "latin", "other"}, True),
        ("水印", {"chinese", "latin", "other"}, True),
        ("去除英文，保留中文", {"latin"}, False),
        ("remove all text except the English", {"chinese", "other"}, False),
        ("", {"chinese", "latin", "other"}, False),
    ],
)
def test_prompt_names_scripts_and_marks(prompt: str, scripts: set[str], marks: bool) -> None:
    target = removal_target(prompt)
    assert set(target.scripts) == scripts
    assert target.marks == marks


def test_mask_stays_inside_the_grown_box_of_each_selected_line(captioned: np.ndarray) -> None:
    regions = detect_text(captioned)
    target = removal_target("")
    boxes = text_mask(captioned, regions, target, glyphs=False)
    strokes = text_mask(captioned, regions, target)
    assert boxes.any()
    assert not (strokes & ~boxes).any()
    assert strokes.sum() < boxes.sum()  # only the widened strokes, where they can be found
    latin_only = text_mask(captioned, regions, removal_target("去除英文文字"), glyphs=False)
    assert 0 < latin_only.sum() < boxes.sum()
    # Each grown box covers its line's glyphs: the opaque caption rows are fully inside.
    grey_diff = cv2.absdiff(captioned, data.coffee()).max(axis=2) > 60
    assert (boxes[grey_diff] > 0).mean() > 0.95
