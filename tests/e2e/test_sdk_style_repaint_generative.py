"""wanx-style-repaint-v1 on a generative portrait_style engine, through the real server and the real dashscope
SDK, on tiny random-weight instruction-edit pipelines named in engines.toml (no downloads, no GPU).

Random weights paint noise, so no attempt shows a face: the notes must show the recipe and three attempts at
falling strength, and the result is the CPU style (a portrait, not noise) at seed 004's size."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from dashscope.client.base_api import BaseAsyncApi

from easel.engines.portrait.identity import face_shape
from tests.conftest import TINY, EaselServer, ImageHost, download, engines_toml, photo
from tests.engines.diffusion import tiny_models

REPAINT = {"model": "wanx-style-repaint-v1", "task_group": "aigc", "task": "image-generation",
           "function": "generation"}


def started(home: Path, text: str) -> EaselServer:
    return EaselServer(home, engines_toml(home, text)).start()


@pytest.fixture(scope="module", params=[("instruct_edit", "flux2-klein"), ("portrait_style", "qwen-image-edit")],
                ids=lambda p: f"[{p[0]}] {p[1]}")
def generative(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
               tiny_root: Path) -> Iterator[tuple[EaselServer, str, str]]:
    """A server whose portrait_style engine is a tiny instruction edit: derived from an [instruct_edit] table,
    or named in its own [portrait_style] table."""
    table, backend = request.param
    home = tmp_path_factory.mktemp("portrait-home")
    srv = started(home, f'[{table}]\nbackend = "{backend}"\nweights = "{tiny_models.build(backend, tiny_root)}"\n'
                        f"{TINY}")
    try:
        yield srv, srv.new_key(), backend
    finally:
        srv.stop()


@pytest.fixture
def on(generative: tuple[EaselServer, str, str], use_server: Callable[[EaselServer, str], None]) -> str:
    srv, key, backend = generative
    use_server(srv, key)
    return backend


def repaint(image_host: ImageHost, name: str, size: tuple[int, int], style: int) -> dict:
    url = image_host.put_image(name, photo(size), "JPEG")
    rsp = BaseAsyncApi.call(input={"image_url": url, "style_index": style}, **REPAINT)
    assert rsp.status_code == 200, rsp
    return rsp.output


# per deployment one framing case: a 1.5:1 wide photo keeps its aspect, a 1:2 upright one is cropped to 1:1.5
CASES = {"flux2-klein": ((600, 400), 6, (2304, 1536)), "qwen-image-edit": ((400, 800), 9, (1536, 2304))}


def test_generative_attempts_then_the_cpu_style_when_no_face_comes_back(on: str, image_host: ImageHost) -> None:
    size, style, expected = CASES[on]
    output = repaint(image_host, f"gen-{on}.jpg", size, style)
    assert output["task_status"] == "SUCCEEDED", output
    assert output["style_index"] == style and output["error_code"] == 0 and output["error_message"] == "Success"
    assert output["result_url"] == output["results"][0]["url"]
    result = download(output["result_url"])
    assert result.size == expected, "seed 004: short side 1536, at most 1.5:1"
    notes = output["notes"]
    recipe = next(n for n in notes if "generative recipe" in n)
    assert ("armour" if style == 6 else "New Year") in recipe and "Keep the same person" in recipe
    attempts = [n for n in notes if n.startswith("attempt ")]
    assert [a.split(":")[0] for a in attempts] == [
        "attempt 1 (strength 0.5, seed 0)", "attempt 2 (strength 0.35, seed 1)", "attempt 3 (strength 0.2, seed 2)"]
    assert all("no face found in the output" in a for a in attempts), "random weights paint no face"
    fallback = next(n for n in notes if "the CPU style" in n)
    assert "none of the 3 generative attempts showed a face" in fallback
    assert "face identity distance" in fallback, "the served image's identity is measured, not assumed"
    assert face_shape(np.asarray(result.convert("RGB"))) is not None, "the result is a portrait"
    again = repaint(image_host, f"gen-{on}.jpg", size, style)
    assert again["notes"] == notes, "same recipe, strengths, seeds and measurements"
    assert np.array_equal(np.asarray(download(again["result_url"])), np.asarray(result)), "the same photo repeats"


def test_the_listing_says_the_generative_engine_serves_every_style(on: str,
                                                                   generative: tuple[EaselServer, str, str]) -> None:
    srv = generative[0]
    listing = httpx.get(f"{srv.api}/models", timeout=10).json()
    entry = next(m for m in listing["data"] if m["model"] == "wanx-style-repaint-v1")
    assert sorted(entry["styles"], key=int) == [str(i) for i in range(10)]
    for style in entry["styles"].values():
        assert style["served_by"].startswith("generative portrait_style engine, available: " + on), style
        assert "Keep the same person" in style["prompt"]
    assert entry["identity_check"]["bound"] == pytest.approx(0.048)
    assert entry["identity_check"]["strengths"] == [0.5, 0.35, 0.2]
    assert listing["engines"]["portrait_style"].startswith("available: " + on)


def test_without_a_generative_engine_the_listing_says_cpu(server: EaselServer) -> None:
    entry = next(m for m in httpx.get(f"{server.api}/models", timeout=10).json()["data"]
                 if m["model"] == "wanx-style-repaint-v1")
    assert all(s["served_by"].startswith("CPU style") for s in entry["styles"].values())
    assert "identity_check" not in entry


def test_a_broken_portrait_style_table_fails_clearly_instead_of_falling_back(
        tmp_path: Path, image_host: ImageHost, use_server: Callable[[EaselServer, str], None]) -> None:
    missing = tmp_path / "no-such-weights"
    srv = started(tmp_path / "home", f'[portrait_style]\nbackend = "qwen-image-edit"\nweights = "{missing}"\n')
    try:
        use_server(srv, srv.new_key())
        output = repaint(image_host, "broken.jpg", (512, 512), 0)
        assert output["task_status"] == "FAILED" and output["code"] == "EngineUnavailable"
        assert str(missing) in output["message"] and "portrait_style" in output["message"]
    finally:
        srv.stop()
