"""Issue 3 through the SDK: removal, watermark removal, expand, stylization, x-painting, honest refusals."""

from __future__ import annotations

import numpy as np
import pytest
from dashscope import ImageSynthesis
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import EaselServer, ImageHost, download, photo

EDIT, PAINT = "wanx2.1-imageedit", "wanx-x-painting"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"


def square_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


def rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def assert_outside_unchanged(before: Image.Image, after: Image.Image, area: np.ndarray) -> None:
    diff = np.abs(rgb(before) - rgb(after)).max(axis=2)
    assert diff[~area].max() == 0, "pixels outside the edit area must not change"
    assert diff[area].mean() > 3, "the edit area must change"


def test_masked_removal(sdk: EaselServer, image_host: ImageHost) -> None:
    base = photo((640, 512), "coffee")
    mask = square_mask(base.size, (250, 180, 370, 300))
    rsp = ImageSynthesis.call(model=EDIT, function="description_edit_with_mask", prompt="删除杯子",
                              base_image_url=image_host.put_image("rm-base.png", base),
                              mask_image_url=image_host.put_image("rm-mask.png", mask))
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    out = download(rsp.output.results[0].url)
    assert out.size == base.size
    assert_outside_unchanged(base, out, np.asarray(mask) > 127)


def test_masked_edit_with_new_content_needs_generative_engine(sdk: EaselServer, image_host: ImageHost) -> None:
    base = photo((640, 512), "coffee")
    rsp = ImageSynthesis.call(model=EDIT, function="description_edit_with_mask", prompt="把杯子替换成一个玻璃花瓶",
                              base_image_url=image_host.put_image("gen-base.png", base),
                              mask_image_url=image_host.put_image("gen-mask.png",
                                                                  square_mask(base.size, (9, 9, 99, 99))))
    assert rsp.output.task_status == "FAILED"
    assert rsp.output.code == "EngineUnavailable"
    assert "generative" in rsp.output.message


def render_text(base: Image.Image) -> tuple[Image.Image, np.ndarray, str]:
    """Chinese and English lines drawn on the photo; returns the image, a text-area mask and the text."""
    image = base.copy()
    draw = ImageDraw.Draw(image)
    area = np.zeros((base.height, base.width), dtype=bool)
    lines = [("限时特惠 全场五折", (30, 30), 40, (255, 255, 255)), ("SAMPLE WATERMARK", (40, 420), 36, (250, 220, 40))]
    for text, (x, y), size, color in lines:
        font = ImageFont.truetype(FONT, size, index=2)
        draw.text((x, y), text, font=font, fill=color, stroke_width=1, stroke_fill=(0, 0, 0))
        left, top, right, bottom = draw.textbbox((x, y), text, font=font, stroke_width=1)
        area[max(0, top - 40):bottom + 40, max(0, left - 40):right + 40] = True
    return image, area, "".join(t for t, *_ in lines)


def ocr_text(image: Image.Image) -> str:
    from rapidocr_onnxruntime import RapidOCR

    found, _ = RapidOCR()(np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1]))
    return "".join(item[1] for item in found or [])


def test_remove_watermark_text(sdk: EaselServer, image_host: ImageHost) -> None:
    base = photo((640, 512), "chelsea")
    marked, area, planted = render_text(base)
    rsp = ImageSynthesis.call(model=EDIT, function="remove_watermark", prompt="去除图像中的文字",
                              base_image_url=image_host.put_image("wm-text.png", marked))
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    out = download(rsp.output.results[0].url)
    left = set(ocr_text(out)) & set(planted.replace(" ", ""))
    assert len(left) <= 2, f"text still readable: {left}"
    diff = np.abs(rgb(marked) - rgb(out)).max(axis=2)
    assert diff[~area].max() == 0, "pixels away from the text are unchanged"


def test_remove_watermark_says_when_nothing_was_found(sdk: EaselServer, image_host: ImageHost) -> None:
    base = photo((640, 512), "coffee")
    rsp = ImageSynthesis.call(model=EDIT, function="remove_watermark", prompt="去除品牌标识",
                              base_image_url=image_host.put_image("no-text.png", base))
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    assert any("No text or watermark was found" in n for n in rsp.output["notes"])
    assert np.abs(rgb(download(rsp.output.results[0].url)) - rgb(base)).max() == 0


def test_expand(sdk: EaselServer, image_host: ImageHost) -> None:
    base = photo((512, 512), "rocket")
    rsp = ImageSynthesis.call(model=EDIT, function="expand", prompt="火箭发射场", top_scale=1.5, bottom_scale=1.0,
                              left_scale=1.25, right_scale=1.25, base_image_url=image_host.put_image("ex.png", base))
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    out = download(rsp.output.results[0].url)
    assert out.size == (768, 768)
    embedded = rgb(out)[256:768, 128:640]
    assert np.abs(embedded - rgb(base)).max() == 0, "the original sits unchanged at its place"
    border = rgb(out)[:200, :, :]
    assert border.std() > 5, "the new border is filled with structure, not a flat colour"


def test_stylization_all(sdk: EaselServer, image_host: ImageHost) -> None:
    base = photo((512, 512), "astronaut")
    url = image_host.put_image("style.png", base)
    full, none = (ImageSynthesis.call(model=EDIT, function="stylization_all", prompt="转换成法国绘本风格",
                                      base_image_url=url, strength=s) for s in (1.0, 0.0))
    styled, untouched = download(full.output.results[0].url), download(none.output.results[0].url)
    assert styled.size == untouched.size == base.size
    assert np.abs(rgb(styled) - rgb(base)).mean() > 15
    assert np.abs(rgb(untouched) - rgb(base)).mean() < 3


def test_stylization_says_which_style_it_applied(sdk: EaselServer, image_host: ImageHost) -> None:
    url = image_host.put_image("style-note.png", photo((512, 512), "chelsea"))
    unknown = ImageSynthesis.call(model=EDIT, function="stylization_all", prompt="转换成乐高积木风格",
                                  base_image_url=url)
    assert unknown.output.task_status == "SUCCEEDED", unknown.output
    (note,) = [n for n in unknown.output.notes if "乐高积木" in n]
    assert "法国绘本" in note and "default" in note and "[stylize]" in note
    known = ImageSynthesis.call(model=EDIT, function="stylization_all", prompt="转换成金箔艺术风格", base_image_url=url)
    assert any(n.startswith("Style applied: 金箔艺术") for n in known.output.notes), known.output.notes


@pytest.mark.parametrize(
    "function", ["stylization_local", "description_edit", "doodle", "control_cartoon_feature", "colorization"]
)
def test_generative_functions_fail_honestly(sdk: EaselServer, image_host: ImageHost, function: str) -> None:
    rsp = ImageSynthesis.call(model=EDIT, function=function, prompt="把房子变成冰雕风格",
                              base_image_url=image_host.put_image("gen.png", photo()))
    assert rsp.output.task_status == "FAILED"
    assert rsp.output.code == "EngineUnavailable" and function in rsp.output.message
    assert not rsp.output.results


def test_x_painting_removal_with_mask_colors(sdk: EaselServer, image_host: ImageHost) -> None:
    base = photo((1024, 1024), "coffee")
    mask = Image.new("RGB", base.size, (20, 20, 20))
    draw = ImageDraw.Draw(mask)
    draw.rectangle((400, 300, 560, 460), fill=(0, 0, 0))
    draw.ellipse((700, 700, 800, 800), fill=(134, 134, 134))
    rsp = ImageSynthesis.call(model=PAINT, task="image2image", prompt="清除涂抹区域", n=2,
                              base_image_url=image_host.put_image("xp.png", base),
                              mask_image_url=image_host.put_image("xp-mask.png", mask),
                              mask_color=[[0, 0, 0], [134, 134, 134]])
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    assert len(rsp.output.results) == 2
    area = (np.asarray(mask) == [0, 0, 0]).all(axis=2) | (np.asarray(mask) == [134, 134, 134]).all(axis=2)
    assert_outside_unchanged(base, download(rsp.output.results[0].url), area)


def test_x_painting_sizes_and_text2image_path(sdk: EaselServer, image_host: ImageHost) -> None:
    base = photo((800, 600), "chelsea")
    rsp = ImageSynthesis.call(model=PAINT, prompt="去掉这块", size="720*1280",  # no task=: goes to text2image
                              base_image_url=image_host.put_image("xp2.png", base),
                              mask_image_url=image_host.put_image("xp2-mask.png",
                                                                  square_mask(base.size, (300, 200, 400, 300))))
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    assert download(rsp.output.results[0].url).size == (720, 1280)


def test_x_painting_content_prompt_needs_generative_engine(sdk: EaselServer, image_host: ImageHost) -> None:
    base = photo((512, 512))
    rsp = ImageSynthesis.call(model=PAINT, task="image2image", prompt="一只狗戴着红色眼镜",
                              base_image_url=image_host.put_image("xp3.png", base),
                              mask_image_url=image_host.put_image("xp3-mask.png",
                                                                  square_mask(base.size, (1, 1, 50, 50))))
    assert rsp.output.task_status == "FAILED" and rsp.output.code == "EngineUnavailable"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"n": 5}, "parameters.n"), ({"style": "<pixel>"}, "parameters.style"),
     ({"mask_color": [[0, 0]]}, "mask_color"), ({"mask_color": [[0, 0, 300]]}, "mask_color")],
)
def test_x_painting_contract(sdk: EaselServer, kwargs: dict, fragment: str) -> None:
    rsp = ImageSynthesis.async_call(model=PAINT, task="image2image", prompt="remove", base_image_url="http://e.com/a.png",
                                    mask_image_url="http://e.com/m.png", **kwargs)
    assert rsp.status_code == 400 and rsp.code == "InvalidParameter"
    assert fragment in rsp.message


def test_x_painting_needs_a_mask(sdk: EaselServer) -> None:
    rsp = ImageSynthesis.async_call(model=PAINT, task="image2image", prompt="remove", base_image_url="http://e.com/a.png")
    assert rsp.status_code == 400 and "mask_image_url is required" in rsp.message


def test_mask_size_mismatch_fails_clearly(sdk: EaselServer, image_host: ImageHost) -> None:
    base = photo((640, 512))
    rsp = ImageSynthesis.call(model=EDIT, function="description_edit_with_mask", prompt="删除",
                              base_image_url=image_host.put_image("mm.png", base),
                              mask_image_url=image_host.put_image("mm-mask.png", square_mask((512, 512), (1, 1, 9, 9))))
    assert rsp.output.task_status == "FAILED" and rsp.output.code == "InvalidParameter"
    assert "same resolution" in rsp.output.message


def test_learned_inpainter_slot(tmp_path, use_server, image_host: ImageHost) -> None:
    """EASEL_INPAINT_ONNX loads a LaMa-shaped ONNX model (tiny, random weights, built here) for removals."""
    from tests.engines.test_inpaint import LAMA_INPUTS, _conv_sigmoid_model

    model = _conv_sigmoid_model(tmp_path / "lama.onnx", LAMA_INPUTS, None)
    base = photo((640, 512), "coffee")
    mask = square_mask(base.size, (250, 180, 370, 300))
    urls = {"base_image_url": image_host.put_image("onnx-base.png", base),
            "mask_image_url": image_host.put_image("onnx-mask.png", mask)}
    outputs, images = [], []
    for onnx_path in (str(model), str(tmp_path / "missing.onnx")):
        srv = EaselServer(tmp_path / f"home-{len(outputs)}", {"EASEL_INPAINT_ONNX": onnx_path}).start()
        try:
            use_server(srv, srv.new_key())
            rsp = ImageSynthesis.call(model=EDIT, function="description_edit_with_mask", prompt="删除", **urls)
            outputs.append(rsp)
            images.extend(download(r.url) for r in rsp.output.results)
        finally:
            srv.stop()
    learned, broken = outputs
    assert learned.output.task_status == "SUCCEEDED", learned.output
    out = images[0]
    area = np.asarray(mask) > 127
    assert_outside_unchanged(base, out, area)
    assert broken.output.task_status == "FAILED" and broken.output.code == "EngineUnavailable"
    assert "EASEL_INPAINT_ONNX" in broken.output.message


def test_x_painting_default_size_keeps_the_head(sdk: EaselServer, image_host: ImageHost) -> None:
    """A 512x600 portrait (held out: matplotlib's grace_hopper) into the default 1024*1024: the crop takes the
    overflow below the head, not from the top of the cap."""
    import matplotlib.cbook

    base = Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")
    rsp = ImageSynthesis.call(model=PAINT, task="image2image", prompt="去掉徽章",
                              base_image_url=image_host.put_image("gh.png", base),
                              mask_image_url=image_host.put_image("gh-mask.png",
                                                                  square_mask(base.size, (330, 380, 400, 450))))
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    result = rgb(download(rsp.output.results[0].url))
    assert result.shape[:2] == (1024, 1024)
    scaled = rgb(base.resize((1024, 1200), Image.Resampling.LANCZOS))
    # the top rows of the result are the picture's own top rows: nothing above the cap was cut
    assert np.abs(result[:40] - scaled[:40]).mean() < 3
