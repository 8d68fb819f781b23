"""How the super-resolution line-art detector (easel/engines/superres/lineart.py) routes photos and drawings.

Every image is classified as is, as JPEG q80 and q50, and shrunk 2x (Lanczos) and 4x (bicubic), since
upscaling inputs are often small or compressed. Photos: the scikit-image dev set and the held-out
matplotlib / scikit-learn photos, plus photos pasted on a white page or into a screenshot. Line art:
drawn cartoons, a UI screenshot, a matplotlib chart (from bench_superres_speed.py) and the PNG logos
and clip art matplotlib ships. Prints one table row per image and the totals per group.

    .venv/bin/python bench/superres_lineart_eval.py
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEV_PHOTOS = ("astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "grass", "gravel",
              "hubble_deep_field", "immunohistochemistry", "microaneurysms", "moon", "page", "retina", "rocket",
              "text")
SYNTHETIC = ("horse", "binary_blobs", "checkerboard", "shepp_logan_phantom", "colorwheel", "logo")
VARIANTS = ("as is", "jpeg80", "jpeg50", "half", "quarter")


def to_rgb(image: Image.Image | np.ndarray) -> np.ndarray:
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    if pil.mode in ("RGBA", "LA", "P"):
        page = Image.new("RGBA", pil.size, "white")
        page.alpha_composite(pil.convert("RGBA"))
        pil = page
    return np.asarray(pil.convert("RGB"))


def variants(rgb: np.ndarray) -> Iterator[np.ndarray]:
    image = Image.fromarray(rgb)
    yield rgb
    for quality in (80, 50):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        yield to_rgb(Image.open(buffer))
    yield to_rgb(image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS))
    yield to_rgb(image.resize((max(8, image.width // 4), max(8, image.height // 4)), Image.Resampling.BICUBIC))


def groups() -> dict[str, dict[str, np.ndarray]]:
    import bench_superres_speed as speed
    import matplotlib
    from matplotlib import cbook
    from skimage import data
    from sklearn.datasets import load_sample_image

    def sk(name: str) -> np.ndarray:
        image = getattr(data, name)()
        if image.dtype == bool:
            image = image.astype(np.uint8) * 255
        elif image.dtype.kind == "f":  # e.g. shepp_logan_phantom, in [0, 1]
            image = np.rint(np.clip(image, 0, 1) * 255)
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        return to_rgb(Image.fromarray(image.astype(np.uint8)))

    held_out = {"grace_hopper": to_rgb(Image.open(cbook.get_sample_data("grace_hopper.jpg"))),
                "china": load_sample_image("china.jpg"), "flower": load_sample_image("flower.jpg")}
    photos = {name: sk(name) for name in DEV_PHOTOS}
    composites = {}
    for name, photo in (("coffee", photos["coffee"]), ("grace_hopper", held_out["grace_hopper"])):
        for share in (0.5, 0.3):
            page = Image.new("RGB", (512, 512), "white")
            width = int(512 * share)
            page.paste(Image.fromarray(photo).resize((width, width * photo.shape[0] // photo.shape[1])), (100, 100))
            composites[f"{name} on a page ({share:.0%} wide)"] = np.asarray(page)
        screen = Image.fromarray(speed.screenshot())
        screen.paste(Image.fromarray(photo).resize((200, 150)), (280, 300))
        composites[f"{name} inside a screenshot"] = np.asarray(screen)
    mpl = Path(matplotlib.get_data_path())
    line_art = {"cartoon A": speed.cartoon(0), "cartoon B": speed.cartoon(3), "cartoon C": speed.cartoon(5),
                "screenshot": speed.screenshot(), "chart": speed.chart(),
                "mpl logo2.png": to_rgb(Image.open(mpl / "sample_data" / "logo2.png")),
                "mpl matplotlib_large.png": to_rgb(Image.open(mpl / "images" / "matplotlib_large.png")),
                "mpl present (shaded clip art)": to_rgb(Image.open(mpl / "sample_data" /
                                                                   "Minduka_Present_Blue_Pack.png"))}
    return {"dev photo": photos, "held-out photo": held_out, "photo composite": composites,
            "line art": line_art, "synthetic (either is fine)": {name: sk(name) for name in SYNTHETIC}}


def main() -> None:
    from easel.engines.superres.lineart import classify

    print("| group | image | " + " | ".join(VARIANTS) + " |")
    print("|---|---|" + "---|" * len(VARIANTS))
    totals: dict[str, list[int]] = {}
    for group, images in groups().items():
        for name, rgb in images.items():
            verdicts = [classify(variant) for variant in variants(rgb)]
            cells = ["**art**" if v.line_art else "photo" for v in verdicts]
            print(f"| {group} | {name} | " + " | ".join(cells) + " |")
            counted = totals.setdefault(group, [0, 0])
            counted[0] += sum(v.line_art for v in verdicts)
            counted[1] += len(verdicts)
    print()
    for group, (art, total) in totals.items():
        print(f"- {group}: {art} of {total} routed to the line-art model")


if __name__ == "__main__":
    main()
