"""Title layout and layer rendering: seed-shaped layers, ink geometry, WCAG contrast, subject avoidance."""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest
from skimage import data

from easel.engines.compose import composite_subject, fit_reference, parse_backdrop_prompt, studio_backdrop
from easel.engines.compose.colour import contrast_ratio, parse_hex_colour, relative_luminance
from easel.engines.typeset import available_families, layout_title, measure_text, render_layers
from easel.engines.typeset.render import TextStyle
from tests.engines.test_compose import coffee_subject

SIZE = 384
TEXT_FIELDS = {
    "type", "sub_type", "content", "idx", "font_family", "font_size", "font_weight", "font_color", "direction",
    "alignment", "line_height", "opacity", "font_italic", "fontItalic", "font_line_through", "font_under_line",
    "top", "left", "width", "height", "text_shadow", "text_stroke",
}
MASK_FIELDS = {"type", "idx", "opacity", "top", "left", "width", "height", "color", "gradient", "radius",
               "box_shadow"}


@pytest.fixture(scope="module")
def subject() -> np.ndarray:
    return coffee_subject(SIZE)


@pytest.fixture(scope="module")
def scenes(subject: np.ndarray) -> dict[str, np.ndarray]:
    """Composites over three kinds of background: flat white, a lit studio, and a busy photo."""
    out = {}
    for prompt in ("纯白背景", "studio gray"):
        spec = parse_backdrop_prompt(prompt)
        backdrop = studio_backdrop((SIZE, SIZE), spec, subject_alpha=subject[..., 3])
        out[prompt] = composite_subject(backdrop, subject).image
    out["chelsea"] = composite_subject(fit_reference(data.chelsea(), (SIZE, SIZE)), subject).image
    return out


CASES = [(scene, sample) for scene in ("纯白背景", "studio gray", "chelsea") for sample in range(3)]


def layouts(scenes: dict[str, np.ndarray], subject: np.ndarray, scene: str, sample: int,
            title: str = "分享好时光", sub_title: str | None = "只为不一样的你"):
    return layout_title(scenes[scene], subject[..., 3], title, sub_title, seed=11, sample_idx=sample)


def ink_box(image: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(image.max(axis=2) > 0)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def plain(layer: dict) -> dict:
    """The layer with no shadow or stroke, drawn white, so its ink is only its glyphs."""
    return {**layer, "text_shadow": None, "text_stroke": None, "font_color": "#ffffff", "opacity": 1}


@pytest.mark.parametrize(("scene", "sample"), CASES)
def test_every_seed_field_is_present(scenes, subject, scene: str, sample: int) -> None:
    layout = layouts(scenes, subject, scene, sample)
    params = layout.params()
    assert params["sample_idx"] == sample
    kinds = [layer["type"] for layer in params["layers"]]
    assert kinds.count("text") == 2
    assert [layer["idx"] for layer in params["layers"]] == list(range(len(kinds)))
    for layer in params["layers"]:
        fields = TEXT_FIELDS if layer["type"] == "text" else MASK_FIELDS
        assert fields <= set(layer), fields - set(layer)
        gradient = layer.get("gradient")
        if gradient is not None:
            assert {"type", "gradient_units", "coords", "color_stops"} <= set(gradient)
            assert {"x1", "y1", "x2", "y2"} <= set(gradient["coords"])
            assert all({"offset", "color"} <= set(stop) for stop in gradient["color_stops"])
    titles = [layer for layer in params["layers"] if layer["type"] == "text"]
    assert [t["sub_type"] for t in titles] == ["Title", "SubTitle"]
    assert [t["content"] for t in titles] == ["分享好时光", "只为不一样的你"]
    assert layout.font_family in available_families()
    assert all(t["font_family"] == layout.font_family for t in titles)


@pytest.mark.parametrize(("scene", "sample"), CASES)
def test_layer_geometry_matches_rendered_ink(scenes, subject, scene: str, sample: int) -> None:
    for layer in layouts(scenes, subject, scene, sample).layers:
        if layer["type"] != "text":
            continue
        drawn = render_layers(np.zeros((SIZE, SIZE, 3), np.uint8), [plain(layer)])
        left, top, right, bottom = ink_box(drawn)
        assert abs(left - layer["left"]) <= 2 and abs(top - layer["top"]) <= 2
        assert abs(right - (layer["left"] + layer["width"])) <= 2
        assert abs(bottom - (layer["top"] + layer["height"])) <= 2


@pytest.mark.parametrize(("scene", "sample"), CASES)
def test_text_colour_contrast_meets_wcag(scenes, subject, scene: str, sample: int) -> None:
    layers = layouts(scenes, subject, scene, sample).layers
    for i, layer in enumerate(layers):
        if layer["type"] != "text":
            continue
        # The local background: everything drawn below this text layer, inside its box.
        under = render_layers(scenes[scene], layers[:i])
        region = under[layer["top"]:layer["top"] + layer["height"], layer["left"]:layer["left"] + layer["width"]]
        text_lum = relative_luminance(parse_hex_colour(layer["font_color"])[0])
        median = relative_luminance(tuple(np.median(region.reshape(-1, 3), axis=0)))
        assert contrast_ratio(text_lum, median) >= 4.5
        lums = relative_luminance(region.reshape(-1, 3))
        low, high = np.percentile(lums, [5, 95])
        assert min(contrast_ratio(text_lum, low), contrast_ratio(text_lum, high)) >= 4.5


@pytest.mark.parametrize(("scene", "sample"), CASES)
def test_text_avoids_the_subject(scenes, subject, scene: str, sample: int) -> None:
    for layer in layouts(scenes, subject, scene, sample).layers:
        if layer["type"] == "text":
            box = subject[layer["top"]:layer["top"] + layer["height"], layer["left"]:layer["left"] + layer["width"], 3]
            assert (box > 128).mean() < 0.02


def test_title_is_sized_to_the_canvas(scenes, subject) -> None:
    title = next(layer for layer in layouts(scenes, subject, "纯白背景", 0).layers if layer["type"] == "text")
    assert 0.3 * SIZE <= title["width"] <= 0.8 * SIZE or title["direction"] == "vertical"
    big = coffee_subject(768)
    backdrop = np.full((768, 768, 3), 255, np.uint8)
    title_big = next(layer for layer in layout_title(backdrop, big[..., 3], "分享好时光", None).layers
                     if layer["type"] == "text")
    assert title_big["font_size"] > 1.6 * title["font_size"]


def test_title_takes_the_free_side_of_a_tall_subject() -> None:
    alpha = np.zeros((SIZE, SIZE), np.uint8)
    alpha[:, : SIZE * 3 // 5] = 255  # subject fills the left 60%
    image = np.full((SIZE, SIZE, 3), 235, np.uint8)
    for layer in layout_title(image, alpha, "新品上市", "限时优惠").layers:
        assert layer["left"] >= SIZE * 3 // 5


def test_latin_title_and_no_subtitle(scenes, subject) -> None:
    layers = layout_title(scenes["studio gray"], subject[..., 3], "SALE", None).layers
    texts = [layer for layer in layers if layer["type"] == "text"]
    assert len(texts) == 1 and texts[0]["content"] == "SALE" and texts[0]["direction"] == "horizontal"


def test_layout_is_reproducible(scenes, subject) -> None:
    first = layouts(scenes, subject, "chelsea", 1).layers
    assert first == layouts(scenes, subject, "chelsea", 1).layers


def test_seed_example_layers_render_as_specified() -> None:
    """The seed document's own response layers: band fades downwards, the label is a filled pill."""
    band = {"type": "text_mask", "idx": 0, "color": "#f2eee4", "opacity": 0.8, "top": 0, "left": 0, "width": 384,
            "height": 170, "radius": 0,
            "gradient": {"type": "linear", "gradient_units": "pixels", "coords": {"x1": 0, "y1": 170, "x2": 0, "y2": 0},
                         "color_stops": [{"offset": 0, "color": "#f2eee400"}, {"offset": 1, "color": "#f2eee4ff"}]}}
    label = {"type": "text_mask", "idx": 2, "color": "#5b4c2f", "opacity": 1, "top": 200, "left": 100, "width": 150,
             "height": 40, "radius": 40, "box_shadow": "2px 0px #80808080",
             "gradient": {"type": "linear", "gradient_units": "pixels", "coords": {"x1": 0, "y1": 0, "x2": 0, "y2": 40},
                          "color_stops": [{"offset": 0, "color": "#5b4c2fff"}, {"offset": 1, "color": "#5b4c2fff"}]}}
    text = {"type": "text", "sub_type": "Title", "content": "只为不一样的你", "idx": 3, "font_size": 20,
            "font_family": "阿里巴巴普惠体", "direction": "horizontal", "alignment": "center", "font_color": "#f2ede3",
            "opacity": 1, "font_weight": "Medium", "font_italic": False, "font_line_through": False,
            "font_under_line": False, "top": 200, "left": 100, "width": 150, "height": 40, "line_height": 1,
            "text_shadow": 0}
    out = render_layers(np.zeros((SIZE, SIZE, 3), np.uint8), [band, label, text]).astype(int)
    assert np.abs(out[0, 10] - np.array([242, 238, 228]) * 0.8).max() <= 2  # opaque end at the top
    assert out[169, 10].max() <= 3  # transparent end at the band's bottom
    assert np.abs(out[203, 175] - [91, 76, 47]).max() <= 1  # label colour away from the text
    assert out[200, 100].max() < 60  # rounded corner left open
    glyphs = out[200:240, 100:250]
    assert (np.abs(glyphs - [242, 237, 227]).max(axis=2) <= 8).sum() > 100  # light text drawn on the label


def test_vertical_and_styled_text_geometry() -> None:
    cases = [
        {"direction": "vertical", "line_height": 1.05, "content": "竖排标题"},
        {"direction": "horizontal", "font_italic": True, "font_under_line": True, "content": "Italic 斜体"},
    ]
    for extra in cases:
        layer = {"type": "text", "idx": 0, "font_family": "Noto Sans CJK SC", "font_size": 40, "font_weight": "bold",
                 "font_color": "#ffffff", "alignment": "center", "opacity": 1, "text_shadow": None,
                 "text_stroke": None, **extra}
        style = TextStyle("Noto Sans CJK SC", "bold", 40, extra["direction"], extra.get("line_height", 1.0),
                          italic=extra.get("font_italic", False), underline=extra.get("font_under_line", False))
        width, height = measure_text(extra["content"], style)
        layer.update(left=37, top=21, width=width, height=height)
        left, top, right, bottom = ink_box(render_layers(np.zeros((SIZE, SIZE, 3), np.uint8), [layer]))
        assert (left, top, right - left, bottom - top) == (37, 21, width, height)


def test_stroke_and_shadow_are_drawn_outside_the_fill() -> None:
    base = {"type": "text", "idx": 0, "content": "描边", "font_family": "Noto Sans CJK SC", "font_size": 60,
            "font_weight": "bold", "font_color": "#ffffff", "alignment": "left", "direction": "horizontal",
            "line_height": 1, "opacity": 1, "top": 50, "left": 50, "width": 120, "height": 60}
    fill_only = render_layers(np.zeros((200, 300, 3), np.uint8), [{**base, "text_shadow": None, "text_stroke": None}])
    styled = render_layers(np.zeros((200, 300, 3), np.uint8),
                           [{**base, "text_stroke": "3px #ff0000ff", "text_shadow": "6px 6px #00ff00ff"}])
    red = (styled[..., 0] > 200) & (styled[..., 1] < 50)
    green = (styled[..., 1] > 200) & (styled[..., 0] < 50)
    assert red.sum() > 200 and green.sum() > 200
    assert (styled[fill_only.max(axis=2) == 255] == 255).all()  # the fill stays on top


def test_contrast_holds_on_a_patchy_background(subject) -> None:
    """A checkerboard of black and white: no single colour works, so a backing must be added."""
    board = ((np.indices((SIZE, SIZE)) // 24).sum(axis=0) % 2 * 255).astype(np.uint8)
    image = np.dstack([board] * 3)
    layers = layout_title(image, subject[..., 3], "分享好时光", "只为不一样的你", seed=3).layers
    assert any(layer["type"] == "text_mask" for layer in layers)
    for i, layer in enumerate(layers):
        if layer["type"] == "text":
            under = render_layers(image, copy.deepcopy(layers[:i]))
            region = under[layer["top"]:layer["top"] + layer["height"], layer["left"]:layer["left"] + layer["width"]]
            lums = relative_luminance(region.reshape(-1, 3))
            text_lum = relative_luminance(parse_hex_colour(layer["font_color"])[0])
            assert min(contrast_ratio(text_lum, lums.min()), contrast_ratio(text_lum, lums.max())) >= 4.5


def test_rejects_an_empty_title(scenes, subject) -> None:
    with pytest.raises(ValueError):
        layout_title(scenes["纯白背景"], subject[..., 3], "  ", None)


def test_blank_canvas_sizes_do_not_break_layout() -> None:
    for width, height in ((200, 600), (900, 240)):
        alpha = np.zeros((height, width), np.uint8)
        cv2.circle(alpha, (width // 2, height * 2 // 3), min(width, height) // 4, 255, -1)
        image = np.full((height, width, 3), 250, np.uint8)
        layers = layout_title(image, alpha, "八个字的长标题呀", "十个字的副标题也可以").layers
        for layer in layers:
            if layer["type"] == "text":
                assert layer["left"] >= 0 and layer["left"] + layer["width"] <= width
                assert layer["top"] >= 0 and layer["top"] + layer["height"] <= height


def test_emoji_and_symbols_come_from_a_fallback_face() -> None:
    """Noto CJK has no 🎉: they are drawn from the symbol fallback glyph by glyph, not as tofu boxes."""
    from PIL import Image, ImageDraw

    from easel.engines.typeset.fonts import SANS, load_font, text_runs

    runs = text_runs("新品🎉上市", SANS, "Bold", 64)
    assert [run for run, _ in runs] == ["新品", "🎉", "上市"]
    assert "Noto" in runs[0][1].getname()[0] and "Noto" not in runs[1][1].getname()[0]
    assert [run for run, _ in text_runs("❤️\u200d", SANS, "Bold", 64)] == ["❤"]  # selectors draw nothing

    def ink(text: str, font) -> np.ndarray:
        image = Image.new("L", (200, 120), 0)
        ImageDraw.Draw(image).text((10, 90), text, font=font, anchor="ls", fill=255)
        return np.asarray(image)

    tofu = ink("🎉", load_font(SANS, "Bold", 64))
    style = TextStyle(SANS, "Bold", 64)
    drawn = render_layers(np.zeros((160, 400, 3), np.uint8), [{
        "type": "text", "content": "新🎉", "font_family": SANS, "font_size": 64, "font_weight": "Bold",
        "font_color": "#ffffff", "top": 40, "left": 20, "width": measure_text("新🎉", style)[0],
        "height": measure_text("新🎉", style)[1], "alignment": "left", "direction": "horizontal"}])
    glyph = ink("🎉", runs[1][1])
    assert (glyph > 0).sum() > 2 * (tofu > 0).sum() or not np.array_equal(glyph > 0, tofu > 0)
    assert drawn.max() > 0 and measure_text("新🎉", style)[0] > measure_text("新", style)[0] * 1.6


def test_title_plates_keep_a_margin_from_the_frame(subject) -> None:
    """A plate (text_mask narrower than the frame) keeps 5 % of the short side from every edge."""
    plates = 0
    sizes, titles = ((384, 384), (640, 360), (360, 640)), ("八个字的长标题呀", "新品")
    cases = [(size, title, sample) for size in sizes for title in titles for sample in range(3)]
    for size, title, sample in cases:
        image = cv2.resize(data.chelsea(), size)  # a busy ground: titles get plates
        alpha = cv2.resize(subject[..., 3], size)
        sub_title = "副标题" if sample else None
        for layer in layout_title(image, alpha, title, sub_title, seed=5, sample_idx=sample).layers:
            if layer["type"] != "text_mask" or layer["width"] >= size[0]:
                continue  # a full-width band starts at the edge by design
            plates += 1
            margin = round(0.05 * min(size)) - 1
            assert layer["left"] >= margin and layer["top"] >= margin, (size, layer)
            assert layer["left"] + layer["width"] <= size[0] - margin, (size, layer)
            assert layer["top"] + layer["height"] <= size[1] - margin, (size, layer)
    assert plates, "the cases must produce plates for this test to mean anything"
