"""The relight market API (seed 000) served by IC-Light: a real server whose engines.toml names a tiny
random-weight SD1.5 folder and IC-Light offset files saved for real (tests/engines/diffusion/tiny_iclight),
driven over HTTP with APPCODE and X-Ca-Nonce like the market gateway. No downloads, no GPU."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.api.test_relight_api import QUERY, assert_code, call, subject_mask, submit, task, wait_batch
from tests.conftest import EaselServer, ImageHost, photo
from tests.engines.diffusion import tiny_iclight


def start(home: Path, tiny_root: Path, **files: Path | str) -> EaselServer:
    lines = ["[relight]", 'backend = "ic-light"', f'weights = "{tiny_iclight.build_sd15(tiny_root)}"',
             "max_area = 4096"] + [f'{mode} = "{file}"' for mode, file in files.items()]
    home.mkdir(parents=True, exist_ok=True)
    (home / "engines.toml").write_text("\n".join(lines) + "\n")
    # one torch thread per process: the tiny model's steps take milliseconds, and two cores shared by the
    # server's worker threads and the test runner thrash with more
    env = {"EASEL_ENGINES": str(home / "engines.toml"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return EaselServer(home, env).start()


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, tiny_root: Path) -> Iterator[tuple[EaselServer, str]]:
    srv = start(tmp_path_factory.mktemp("iclight-home"), tiny_root, fc=tiny_iclight.build_offset("fc", tiny_root),
                fbc=tiny_iclight.build_offset("fbc", tiny_root))
    try:
        yield srv, srv.new_key("relight")
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def inputs(image_host: ImageHost) -> dict[str, str]:
    rgb = photo((512, 448))
    cutout = rgb.convert("RGBA")
    cutout.putalpha(subject_mask((512, 448)))
    return {"rgb": image_host.put_image("iclight-rgb.png", rgb),
            "mask": image_host.put_image("iclight-mask.png", subject_mask((512, 448))),
            "rgba": image_host.put_image("iclight-rgba.png", cutout)}


def fetch(url: str) -> np.ndarray:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), dtype=np.int16)


def finished(srv: EaselServer, key: str, *tasks: dict) -> list[dict]:
    rsp = submit(srv, key, *tasks)
    assert rsp.status_code == 200, rsp.text
    done = wait_batch(srv, key, rsp.json()["data"]["result_key"], timeout=300)
    assert done.status_code == 200 and done.json()["success"] is True, done.text
    return done.json()["data"]["task_list"]


def test_cutout_gets_a_generated_background(both: tuple[EaselServer, str], inputs: dict[str, str]) -> None:
    srv, key = both
    fields = {"image": inputs["rgba"], "mask": None, "positive_prompt": "sunlight from the left, beach",
              "negative_prompt": "blurry", "guidance_scale": 2.0, "steps": 15}
    results = finished(srv, key, task(inputs, **fields, seed=209), task(inputs, **fields, seed=209),
                       task(inputs, **fields, seed=210))
    assert [t["status"] for t in results] == ["SUCCESS"] * 3, results
    first = results[0]
    assert (first["seed"], first["steps"], first["guidance_scale"]) == (209, 15, 2.0)
    assert first["positive_prompt"] == "sunlight from the left, beach" and first["negative_prompt"] == "blurry"
    images = [fetch(t["results"][0]) for t in results]
    assert images[0].shape == (448, 512, 3), "the result has the input's size"
    assert np.array_equal(images[0], images[1]), "the same seed repeats the image"
    assert np.abs(images[0] - images[2]).mean() > 1, "another seed gives another image"
    outside = np.asarray(subject_mask((512, 448))) == 0
    assert images[0][outside].std() > 3, "the cut-out's transparent area became a generated background"
    assert not any("CPU" in note or "not generated" in note for note in first["notes"]), first["notes"]


def test_rgb_with_mask_keeps_and_matches_its_background(both: tuple[EaselServer, str],
                                                         inputs: dict[str, str]) -> None:
    srv, key = both
    [result] = finished(srv, key, task(inputs, positive_prompt="warm light from the right", steps=15, seed=7))
    assert result["status"] == "SUCCESS" and result["seed"] == 7
    image = fetch(result["results"][0])
    original = np.asarray(photo((512, 448)), dtype=np.int16)
    assert image.shape == original.shape
    assert np.abs(image - original).mean() > 3, "the picture was regenerated, not passed through"
    assert result["notes"] == [], "both offset files are configured: fbc kept the background, nothing to say"


def test_listing_names_ic_light(both: tuple[EaselServer, str]) -> None:
    srv, _ = both
    listing = httpx.get(srv.api + "/models", timeout=30).json()
    assert listing["engines"]["relight"].startswith("available: ic-light")
    [entry] = [m for m in listing["data"] if m["model"] == "relight"]
    assert "not_available" not in entry
    assert all("available: ic-light" in line for line in entry["inputs"].values()), entry["inputs"]


def test_fc_only_generates_the_background_and_says_so(tmp_path: Path, tiny_root: Path,
                                                      inputs: dict[str, str]) -> None:
    srv = start(tmp_path / "home", tiny_root, fc=tiny_iclight.build_offset("fc", tiny_root))
    try:
        key = srv.new_key()
        [result] = finished(srv, key, task(inputs, steps=15))
        assert result["status"] == "SUCCESS"
        assert any("background was generated from the prompt" in note for note in result["notes"]), result["notes"]
    finally:
        srv.stop()


def test_broken_offset_refuses_the_submit(tmp_path: Path, tiny_root: Path, inputs: dict[str, str]) -> None:
    wrong = tiny_iclight.build_offset("fbc", tiny_root)  # a 12-channel file named as fc
    srv = start(tmp_path / "home", tiny_root, fc=wrong)
    try:
        key = srv.new_key()
        body = assert_code(submit(srv, key, task(inputs)), 404, "23500002", "input channels")
        assert str(wrong) in body["message"], "the message names the file to fix"
        listing = httpx.get(srv.api + "/models", timeout=30).json()
        assert listing["engines"]["relight"].startswith("not available") and str(wrong) in listing["engines"]["relight"]
        assert_code(call(srv, QUERY, key, {"data": {"result_key": "nothing"}}), 400, "23500008")
    finally:
        srv.stop()
