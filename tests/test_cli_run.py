"""`easel run` (in-process, no server) and `easel submit | wait | tasks` against a live server, as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, EaselServer, photo
from tests.engines import tiny_ddcolor


def easel(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "easel", *args], env={**os.environ, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def local_env(tmp_path: Path) -> dict[str, str]:
    return {"EASEL_HOME": str(tmp_path / "home"), "EASEL_SUPERRES_MODEL": "animevideov3", "HF_HUB_OFFLINE": "1",
            "EASEL_ENGINES": ""}


@pytest.fixture
def photo_file(tmp_path: Path) -> Path:
    path = tmp_path / "in put.png"  # a space: local paths travel as file:// URLs
    photo((512, 512), "astronaut").save(path)
    return path


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_run_writes_the_result_files(tmp_path: Path, local_env: dict[str, str], photo_file: Path) -> None:
    out = tmp_path / "out"
    result = easel("run", "wanx2.1-imageedit", "--function", "super_resolution", "--image", str(photo_file),
                   "--param", "upscale_factor=2", "--param", "n=2", "--out", str(out), env=local_env)
    assert result.returncode == 0, result.stderr
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert len(paths) == 2 and all(p.parent == out for p in paths)
    for path in paths:
        assert Image.open(path).size == (1024, 1024)
    again = easel("run", "wanx2.1-imageedit", "-f", "super_resolution", "-i", str(photo_file),
                  "--param", "upscale_factor=2", "--out", str(out), env=local_env)
    assert again.returncode == 0, again.stderr
    assert Path(again.stdout.strip()) not in paths  # earlier results are kept, not overwritten


def test_run_colorization_on_a_configured_ddcolor_model(tmp_path: Path, local_env: dict[str, str]) -> None:
    model = tiny_ddcolor.affine(tmp_path / "ddcolor.onnx", a=(30.0, -10.0), b=(20.0, 5.0))
    toml = tmp_path / "engines.toml"
    toml.write_text(f'[colorize]\nbackend = "ddcolor-onnx"\nweights = "{model}"\n')
    grey = tmp_path / "bw.png"
    photo((640, 512), "camera").convert("L").save(grey)
    result = easel("run", "wanx2.1-imageedit", "-f", "colorization", "-i", str(grey), "-p", "蓝天",
                   "--out", str(tmp_path / "out"), env={**local_env, "EASEL_ENGINES": str(toml)})
    assert result.returncode == 0, result.stderr
    out = Image.open(result.stdout.strip())
    assert out.size == (640, 512)
    rgb = np.asarray(out.convert("RGB"), np.int16)
    assert np.abs(rgb[:, :, 0] - rgb[:, :, 2]).mean() > 3  # colour from the model
    assert "prompt was not used" in result.stderr


@pytest.mark.parametrize("args, words", [
    (["wanx2.1-imageedit", "-f", "no_such_function"], ["easel run", "InvalidParameter", "input.function"]),
    (["wanx2.1-imageedit", "-f", "super_resolution", "--param", "n=9"], ["parameters.n"]),
    (["no-such-model"], ["unknown model 'no-such-model'", "wanx2.1-imageedit"]),
    (["wanx2.1-imageedit", "-f", "colorization"], ["EngineUnavailable", "[colorize]"]),
    (["wanx-style-repaint-v1", "--mask", "MASK", "--param", "style_index=1"], ["takes no --mask"]),
])
def test_run_fails_cleanly(args: list[str], words: list[str], tmp_path: Path, local_env: dict[str, str],
                           photo_file: Path) -> None:
    args = [str(photo_file) if a == "MASK" else a for a in args]
    result = easel("run", *args, "--image", str(photo_file), "--out", str(tmp_path / "out"), env=local_env)
    assert_one_line_error(result, *words)
    assert not (tmp_path / "out").exists()


def test_run_with_a_missing_file(tmp_path: Path, local_env: dict[str, str]) -> None:
    result = easel("run", "wanx2.1-imageedit", "-f", "super_resolution", "--image", str(tmp_path / "none.png"),
                   "--out", str(tmp_path / "out"), env=local_env)
    assert_one_line_error(result, "none.png", "no such file")


def test_submit_wait_and_tasks_against_a_live_server(server: EaselServer, api_key: str, tmp_path: Path,
                                                     photo_file: Path) -> None:
    remote = {"DASHSCOPE_HTTP_BASE_URL": server.api, "DASHSCOPE_API_KEY": api_key}
    submitted = easel("submit", "wanx2.1-imageedit", "-f", "super_resolution", "-i", str(photo_file),
                      "--param", "upscale_factor=2", env=remote)
    assert submitted.returncode == 0, submitted.stderr
    task_id = submitted.stdout.strip()
    assert len(task_id.splitlines()) == 1 and task_id

    out = tmp_path / "downloads"
    waited = easel("wait", task_id, "--out", str(out), env=remote)
    assert waited.returncode == 0, waited.stderr
    (path,) = [Path(line) for line in waited.stdout.splitlines()]
    assert path.parent == out and Image.open(path).size == (1024, 1024)

    listed = easel("tasks", env=remote)
    assert listed.returncode == 0, listed.stderr
    assert task_id in listed.stdout and "SUCCEEDED" in listed.stdout
    raw = json.loads(easel("tasks", "--json", env=remote).stdout)
    assert task_id in [item["task_id"] for item in raw["data"]]


def test_wait_on_a_failed_task_says_why(server: EaselServer, api_key: str, photo_file: Path) -> None:
    remote = {"DASHSCOPE_HTTP_BASE_URL": server.api, "DASHSCOPE_API_KEY": api_key}
    submitted = easel("submit", "wanx2.1-imageedit", "-f", "colorization", "-i", str(photo_file), env=remote)
    assert submitted.returncode == 0, submitted.stderr
    waited = easel("wait", submitted.stdout.strip(), env=remote)
    assert_one_line_error(waited, "FAILED", "EngineUnavailable", "[colorize]")


def test_remote_errors_are_one_line(server: EaselServer, api_key: str, photo_file: Path) -> None:
    bad_key = easel("tasks", "--base-url", server.api, "--api-key", "sk-wrong", env={})
    assert_one_line_error(bad_key, "easel tasks", "401")
    no_server = easel("tasks", "--base-url", "http://127.0.0.1:9/api/v1", "--api-key", api_key, env={})
    assert_one_line_error(no_server, "cannot reach the server")
    refused = easel("submit", "wanx2.1-imageedit", "-f", "super_resolution", "-i", str(photo_file),
                    "--param", "n=9", "--base-url", server.api, "--api-key", api_key, env={})
    assert_one_line_error(refused, "HTTP 400", "parameters.n")


def test_tasks_into_a_closed_pipe_has_no_traceback(server: EaselServer, api_key: str) -> None:
    env = {**os.environ, "DASHSCOPE_HTTP_BASE_URL": server.api, "DASHSCOPE_API_KEY": api_key}
    for args in (["tasks"], ["tasks", "--json"]):
        process = subprocess.Popen([sys.executable, "-m", "easel", *args], env=env, cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # the reader is gone before anything is written, as with `| head -0`
        stderr = process.stderr.read().decode()
        process.wait(60)
        assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
