"""Diffusion backends through the real server and the real dashscope SDK, on tiny random-weight pipelines
saved as real diffusers folders and named in engines.toml (no downloads, no GPU).

Each deployment pairs an instruct_edit backend with a fill backend, so four servers cover all seven."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from dashscope import ImageSynthesis, MultiModalConversation
from PIL import Image, ImageDraw

from tests.conftest import TINY, EaselServer, ImageHost, download, engines_toml, photo
from tests.engines.diffusion import tiny_models

EDIT, PAINT = "wanx2.1-imageedit", "wanx-x-painting"
# (instruct_edit backend, fill backend); sdxl-inpaint shares a server with a second flux2-klein
DEPLOYMENTS = [
    ("flux2-klein", "flux2-klein-inpaint"),
    ("qwen-image-edit", "qwen-image-edit-inpaint"),
    ("qwen-image-edit-plus", "flux-fill"),
    ("flux2-klein", "sdxl-inpaint"),
]


@pytest.fixture(scope="module", params=DEPLOYMENTS, ids=lambda d: f"{d[0]}+{d[1]}")
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
               tiny_root: Path) -> Iterator[tuple[EaselServer, str, str]]:
    instruct, fill = request.param
    home = tmp_path_factory.mktemp("diffusion-home")
    text = (f'[instruct_edit]\nbackend = "{instruct}"\nweights = "{tiny_models.build(instruct, tiny_root)}"\n{TINY}'
            f'[fill]\nbackend = "{fill}"\nweights = "{tiny_models.build(fill, tiny_root)}"\n{TINY}')
    srv = EaselServer(home, engines_toml(home, text)).start()
    try:
        yield srv, srv.new_key(), fill
    finally:
        srv.stop()


@pytest.fixture
def on(deployment: tuple[EaselServer, str, str], use_server: Callable[[EaselServer, str], None]) -> str:
    srv, key, fill = deployment
    use_server(srv, key)
    return fill


def rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def box_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


def test_description_edit_n_and_seeds(on: str, image_host: ImageHost) -> None:
    base = image_host.put_image("de.png", photo((640, 512), "coffee"))
    first = ImageSynthesis.call(model=EDIT, function="description_edit", prompt="给杯子加一朵花", base_image_url=base,
                                n=2, seed=7, strength=0.8)
    assert first.output.task_status == "SUCCEEDED", first.output
    a, b = (download(r.url) for r in first.output.results)
    assert a.size == b.size == (640, 512)
    assert np.abs(rgb(a) - rgb(b)).mean() > 1, "n=2 gives two different images"
    again = ImageSynthesis.call(model=EDIT, function="description_edit", prompt="给杯子加一朵花", base_image_url=base,
                                n=2, seed=7, strength=0.8)
    assert np.array_equal(rgb(download(again.output.results[1].url)), rgb(b)), "the same seed repeats the image"


def test_stylization_takes_the_generative_route(on: str, image_host: ImageHost) -> None:
    for function, prompt in (("stylization_all", "转换成法国绘本风格"), ("stylization_local", "把杯子变成冰雕风格")):
        rsp = ImageSynthesis.call(model=EDIT, function=function, prompt=prompt, seed=1,
                                  base_image_url=image_host.put_image("st.png", photo((512, 512), "coffee")))
        assert rsp.output.task_status == "SUCCEEDED", rsp.output
        assert download(rsp.output.results[0].url).size == (512, 512)


def test_masked_content_edit_keeps_outside_pixels(on: str, image_host: ImageHost) -> None:
    base = photo((640, 512), "coffee")
    mask = box_mask(base.size, (200, 150, 420, 360))
    urls = {"base_image_url": image_host.put_image("m.png", base),
            "mask_image_url": image_host.put_image("mm.png", mask)}
    rsp = ImageSynthesis.call(model=EDIT, function="description_edit_with_mask", prompt="一个玻璃花瓶", n=2, seed=3,
                              **urls)
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    outs = [download(r.url) for r in rsp.output.results]
    area = np.asarray(mask) > 127
    for out in outs:
        diff = np.abs(rgb(out) - rgb(base)).max(axis=2)
        assert out.size == base.size
        assert diff[~area].max() == 0, "pixels outside the mask come back unchanged"
        assert diff[area].mean() > 3
    assert np.abs(rgb(outs[0]) - rgb(outs[1]))[area].mean() > 1
    # a removal prompt goes to the same fill backend (erase derives from fill)
    removal = ImageSynthesis.call(model=EDIT, function="description_edit_with_mask", prompt="删除杯子", **urls)
    assert removal.output.task_status == "SUCCEEDED", removal.output
    assert np.abs(rgb(download(removal.output.results[0].url)) - rgb(base)).max(axis=2)[~area].max() == 0


def test_x_painting_content_and_expand(on: str, image_host: ImageHost) -> None:
    base = photo((600, 512), "astronaut")
    mask = box_mask(base.size, (100, 100, 300, 300))
    rsp = ImageSynthesis.call(model=PAINT, prompt="一顶红色的帽子", style="<anime>", size="1280*720", n=2, seed=5,
                              base_image_url=image_host.put_image("xp.png", base),
                              mask_image_url=image_host.put_image("xpm.png", mask))
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    assert [download(r.url).size for r in rsp.output.results] == [(1280, 720)] * 2
    grown = ImageSynthesis.call(model=EDIT, function="expand", prompt="太空站", top_scale=1.5, left_scale=1.25,
                                right_scale=1.25, base_image_url=image_host.put_image("ex.png", photo((512, 512))))
    assert grown.output.task_status == "SUCCEEDED", grown.output
    out = download(grown.output.results[0].url)
    assert out.size == (768, 768)
    assert np.array_equal(rgb(out)[256:, 128:640], rgb(photo((512, 512)))), "the original sits unchanged inside"


def test_qwen_image_edit_synchronous(on: str, image_host: ImageHost) -> None:
    url = image_host.put_image("q.png", photo((600, 400), "chelsea"))
    messages = [{"role": "user", "content": [{"image": url}, {"text": "把猫变成橘色"}]}]
    rsp = MultiModalConversation.call(model="qwen-image-edit", messages=messages, negative_prompt="模糊")
    assert rsp.status_code == 200, rsp
    image = download(rsp.output.choices[0].message.content[0]["image"])
    assert image.size == (1248, 832) == (rsp.usage["width"], rsp.usage["height"]), "seed 002's size rule"


def test_progress_and_cancel_of_a_running_task(tmp_path: Path, tiny_root: Path, image_host: ImageHost,
                                               use_server: Callable[[EaselServer, str], None]) -> None:
    weights = tiny_models.build("flux2-klein", tiny_root)
    home = tmp_path / "slow"
    text = f'[instruct_edit]\nbackend = "flux2-klein"\nweights = "{weights}"\nmax_area = 65536\nsteps = 200\n'
    srv = EaselServer(home, engines_toml(home, text)).start()
    try:
        key = srv.new_key()
        headers = {"Authorization": f"Bearer {key}"}
        base = image_host.put_image("slow.png", photo((512, 512)))
        inp = {"function": "description_edit", "prompt": "加一顶帽子", "base_image_url": base}
        body = {"model": EDIT, "input": inp, "parameters": {"seed": 1}}
        created = httpx.post(f"{srv.api}/services/aigc/image2image/image-synthesis", json=body,
                             headers={**headers, "X-DashScope-Async": "enable"}, timeout=30).json()
        task_id = created["output"]["task_id"]
        seen: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(seen) < 2:
            output = httpx.get(f"{srv.api}/tasks/{task_id}", headers=headers, timeout=10).json()["output"]
            assert output["task_status"] in ("PENDING", "RUNNING"), output
            if "progress" in output:
                seen.append(output["progress"])
            time.sleep(0.1)
        assert seen and 0 <= seen[0] <= seen[-1] < 100, seen
        assert httpx.post(f"{srv.api}/tasks/{task_id}/cancel", headers=headers, timeout=10).status_code == 200
        status = ""
        for _ in range(100):
            output = httpx.get(f"{srv.api}/tasks/{task_id}", headers=headers, timeout=10).json()["output"]
            status = output["task_status"]
            if status != "RUNNING":
                break
            time.sleep(0.1)
        assert status == "CANCELED"
    finally:
        srv.stop()


@pytest.mark.parametrize("kind", ["missing-path", "missing", "wrong-class", "truncated"])
def test_broken_weights_give_a_clear_error(kind: str, tmp_path: Path, tiny_root: Path, image_host: ImageHost,
                                           use_server: Callable[[EaselServer, str], None]) -> None:
    weights = tmp_path / "nowhere" if kind == "missing-path" else tiny_models.broken(kind, "flux-fill", tiny_root)
    home = tmp_path / "home"
    srv = EaselServer(home, engines_toml(home, f'[fill]\nbackend = "flux-fill"\nweights = "{weights}"\n{TINY}')).start()
    try:
        use_server(srv, srv.new_key())
        base = photo((512, 512))
        rsp = ImageSynthesis.call(model=EDIT, function="description_edit_with_mask", prompt="一只猫",
                                  base_image_url=image_host.put_image("b.png", base),
                                  mask_image_url=image_host.put_image("bm.png", box_mask(base.size, (9, 9, 99, 99))))
        assert rsp.output.task_status == "FAILED"
        assert rsp.output.code == "EngineUnavailable"
        assert str(weights) in rsp.output.message, rsp.output.message
        # weights that only fail when loaded are judged at the first load; the listing says so from then on
        listing = httpx.get(f"{srv.api}/models", timeout=10).json()
        assert listing["engines"]["fill"].startswith("not available"), listing["engines"]
        assert str(weights) in listing["engines"]["fill"]
    finally:
        srv.stop()


def test_an_api_node_without_workers_answers_as_its_workers(tmp_path: Path, tiny_root: Path) -> None:
    """Capability answers come from the file, not from what a process has loaded."""
    text = (f'[fill]\nbackend = "flux-fill"\nweights = "{tiny_models.build("flux-fill", tiny_root)}"\n'
            '[instruct_edit]\nbackend = "qwen-image-edit"\nweights = "/models/not-pulled"\n')
    listings = []
    shared = engines_toml(tmp_path, text)  # one file, as API nodes and workers share it
    for workers in ("2", "0"):
        srv = EaselServer(tmp_path / f"w{workers}", {**shared, "EASEL_WORKERS": workers}).start()
        try:
            listings.append(httpx.get(f"{srv.api}/models", timeout=10).json())
        finally:
            srv.stop()
    assert listings[0]["engines"] == listings[1]["engines"] and listings[0]["data"] == listings[1]["data"]
    assert listings[1]["engines"]["fill"].startswith("available") and listings[1]["engines"]["erase"].startswith(
        "available")
    assert "/models/not-pulled" in listings[1]["engines"]["instruct_edit"]
