"""Line-art detection for super-resolution: photos always keep x4plus, drawn graphics go to x4plus-anime."""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib
import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image, ImageDraw, ImageFont
from skimage import data
from sklearn.datasets import load_sample_image

from easel.engines.base import EngineRequest, EngineTask, NullContext
from easel.engines.config import BackendConfig
from easel.engines.superres.backend import RealEsrganBackend, choose_model
from easel.engines.superres.lineart import classify

matplotlib.use("Agg")

DEV_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon", "page", "text", "brick",
              "grass", "gravel", "clock", "cell", "retina", "hubble_deep_field", "immunohistochemistry")


def rgb(image: np.ndarray | Image.Image) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return np.ascontiguousarray(array[..., :3])


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return rgb(Image.open(buffer).convert("RGB"))


def half(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return rgb(Image.fromarray(image).resize((w // 2, h // 2), Image.Resampling.LANCZOS))


def held_out_photos() -> dict[str, np.ndarray]:
    return {
        "grace_hopper": rgb(Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")),
        "china": load_sample_image("china.jpg"),
        "flower": load_sample_image("flower.jpg"),
    }


def cartoon(seed: int, size: int = 256) -> np.ndarray:
    """Flat-filled shapes with black outlines, drawn at 4x and downscaled (antialiased, like real art)."""
    rng = np.random.default_rng(seed)
    big = size * 4
    image = Image.new("RGB", (big, big), tuple(int(v) for v in rng.integers(150, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(10):
        x, y = rng.integers(0, big, 2)
        w, h = rng.integers(big // 10, big // 3, 2)
        box = (int(x - w // 2), int(y - h // 2), int(x + w // 2), int(y + h // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.integers(2):
            draw.ellipse(box, fill=fill, outline="black", width=12)
        else:
            draw.rectangle(box, fill=fill, outline="black", width=12)
    return rgb(image.resize((size, size), Image.Resampling.LANCZOS))


def screenshot() -> np.ndarray:
    """A settings dialog: title bar, lines of text, a button."""
    image = Image.new("RGB", (360, 240), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)
    draw.rectangle((0, 0, 360, 26), fill=(60, 110, 200))
    draw.text((8, 5), "Settings", fill="white", font=font)
    for i in range(8):
        draw.text((10, 36 + i * 21), f"option {i}: the quick brown fox jumps", fill="black", font=font)
    draw.rectangle((270, 200, 350, 230), fill=(40, 160, 80), outline="black")
    draw.text((298, 207), "OK", fill="white", font=font)
    return rgb(image)


def chart() -> np.ndarray:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(4, 3), dpi=80)
    x = np.linspace(0, 10, 200)
    axes.plot(x, np.sin(x))
    axes.bar([1, 3, 5], [0.5, 0.8, 0.3], alpha=0.5)
    axes.set_title("A chart")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return rgb(Image.open(buffer).convert("RGB"))


def photo_variants(image: np.ndarray) -> list[np.ndarray]:
    return [image, jpeg(image, 80), jpeg(image, 50), half(image)]


@pytest.mark.parametrize("name", DEV_PHOTOS)
def test_development_photos_are_never_line_art(name: str) -> None:
    for variant in photo_variants(rgb(getattr(data, name)())):
        verdict = classify(variant)
        assert not verdict.line_art, (name, verdict)


@pytest.mark.parametrize("name", ["grace_hopper", "china", "flower"])
def test_held_out_photos_are_never_line_art(name: str) -> None:
    for variant in photo_variants(held_out_photos()[name]):
        verdict = classify(variant)
        assert not verdict.line_art, (name, verdict)


def test_a_photo_on_a_white_page_is_not_line_art() -> None:
    # A product shot or slide: most of the area is flat white, but the photo must not be cartoonised.
    page = Image.new("RGB", (512, 512), "white")
    page.paste(Image.fromarray(data.coffee()).resize((256, 171)), (100, 100))
    verdict = classify(rgb(page))
    assert verdict.flat_share > 0.5  # the page itself is flat ...
    assert not verdict.line_art  # ... the photo block vetoes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constructed_cartoons_are_line_art_at_full_and_half_size(seed: int) -> None:
    image = cartoon(seed)
    assert classify(image).line_art
    assert classify(half(image)).line_art


@pytest.mark.parametrize("make", [screenshot, chart])
def test_screenshots_and_charts_are_line_art(make: Callable[[], np.ndarray]) -> None:
    assert classify(make()).line_art


def test_choose_model_routes_line_art_only_from_the_default_model() -> None:
    art, photo = cartoon(0), rgb(data.astronaut())
    model, note = choose_model(art, "x4plus")
    assert model == "x4plus-anime" and "instead of x4plus" in note and "line art" in note
    model, note = choose_model(photo, "x4plus")
    assert model == "x4plus" and "photo model" in note
    assert choose_model(art, "x4plus", route_line_art=False)[0] == "x4plus"
    assert choose_model(art, "animevideov3")[0] == "animevideov3"  # an explicit choice is kept
    assert choose_model(photo, "animevideov3")[0] == "animevideov3"


def run_backend(image: np.ndarray, **config: object) -> tuple[Image.Image, list[str]]:
    backend = RealEsrganBackend(BackendConfig(backend="realesrgan", **config))
    ctx = NullContext()
    request = EngineRequest(image=Image.fromarray(image), params={"factor": 2})
    return backend.run(EngineTask.UPSCALE, request, ctx)[0], ctx.notes


def test_backend_notes_which_model_ran_and_why() -> None:
    art = cartoon(1, size=96)
    out, notes = run_backend(art)
    assert out.size == (192, 192)
    assert len(notes) == 1 and "x4plus-anime instead of x4plus" in notes[0]
    face = np.ascontiguousarray(data.astronaut()[60:84, 190:214])
    out, notes = run_backend(face)
    assert out.size == (48, 48)
    assert len(notes) == 1 and "x4plus, the photo model" in notes[0]


def test_backend_routing_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_upscale(image: np.ndarray, factor: float, model: str, runtime: str) -> np.ndarray:
        asked.append(model)
        return image

    monkeypatch.setattr("easel.engines.superres.upscale", fake_upscale)
    art = cartoon(0)
    assert classify(art).line_art
    _, notes = run_backend(art, extra={"route_line_art": False})
    assert asked == ["x4plus"]
    assert notes == ["Upscaled with Real-ESRGAN x4plus, the configured model."]
    run_backend(art)
    assert asked == ["x4plus", "x4plus-anime"]


def test_backend_runtime_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    """`[upscale] extra = {runtime = "ncnn"}` runs the ncnn graph even where torch would be picked."""
    from easel.engines.superres import realesrgan

    asked: list[str | None] = []

    def recording_upscale(image: np.ndarray, factor: float, model: str, runtime: str | None = None) -> np.ndarray:
        asked.append(runtime)
        return realesrgan.upscale(image, factor, model, runtime)

    monkeypatch.setattr("easel.engines.superres.upscale", recording_upscale)
    face = np.ascontiguousarray(data.astronaut()[60:84, 190:214])
    out, _ = run_backend(face, extra={"runtime": "ncnn"})
    assert out.size == (48, 48)
    assert asked == ["ncnn"]
    assert realesrgan._upscalers[("x4plus", "ncnn")].get().runtime == "ncnn"
    backend = RealEsrganBackend(BackendConfig(backend="realesrgan", extra={"runtime": "ncnn"}))
    assert backend.check() is None and "(ncnn, CPU)" in backend.describe()
    default = RealEsrganBackend(BackendConfig(backend="realesrgan"))
    assert f"({realesrgan.default_runtime()}, CPU)" in default.describe()
    wrong = RealEsrganBackend(BackendConfig(backend="realesrgan", extra={"runtime": "cuda"}))
    assert "runtime 'cuda' is not one of ncnn, torch" in (wrong.check() or "")
