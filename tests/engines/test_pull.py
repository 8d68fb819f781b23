"""`easel pull` against a loopback stand-in for the Hugging Face hub.

The fake hub implements only what huggingface_hub's snapshot_download asks for:
  GET  /api/models/{org}/{name}[/revision/{rev}]          repo info; its "sha" is the commit
  GET  /api/models/{org}/{name}/tree/{rev}?recursive=...  the file listing (one page, no Link header)
  HEAD /{org}/{name}/resolve/{rev}/{path}                 X-Repo-Commit, ETag, Content-Length
  GET  /{org}/{name}/resolve/{rev}/{path}                 the bytes
Unknown repos answer 404 with X-Error-Code: RepoNotFound, as the real hub does.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import ROOT, free_port

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPOS: dict[str, dict[str, bytes]] = {
    "acme/tiny-model": {
        "model_index.json": b'{"_class_name": "TinyPipeline"}\n',
        "unet/config.json": b'{"sample_size": 8}\n',
        "unet/diffusion_pytorch_model.safetensors": bytes(range(256)) * 40,
    },
    "acme/tiny-controlnet": {"config.json": b'{"controlnet": true}\n'},
    "acme/adapters": {
        "sdxl/ip-adapter.safetensors": b"adapter" * 10,
        "sdxl/image_encoder/config.json": b'{"projection_dim": 8}\n',
        "sd15/ip-adapter.safetensors": b"not wanted" * 1000,
    },
}


class FakeHub(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), _HubHandler)
        self.log: list[str] = []  # "METHOD path" of every request, to see what a run asked for

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _HubHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHub

    def log_message(self, *_args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, with_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.server.log.append(f"{self.command} {path}")
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            self._api(f"{parts[2]}/{parts[3]}", parts[4:])
        elif len(parts) >= 5 and parts[2] == "resolve":
            self._file(f"{parts[0]}/{parts[1]}", "/".join(parts[4:]), with_body)
        else:
            self._send(404, b"{}", {"Content-Type": "application/json"})

    def _api(self, repo: str, rest: list[str]) -> None:
        if repo not in REPOS:
            self._not_found()
        elif not rest or rest[0] == "revision":
            siblings = [{"rfilename": name} for name in REPOS[repo]]
            self._json({"id": repo, "sha": COMMIT, "siblings": siblings, "private": False})
        elif rest[0] == "tree":
            self._json([{"type": "file", "path": name, "size": len(data), "oid": _git_oid(data)}
                        for name, data in REPOS[repo].items()])
        else:
            self._not_found()

    def _file(self, repo: str, name: str, with_body: bool) -> None:
        data = REPOS.get(repo, {}).get(name)
        if data is None:
            self._not_found()
            return
        headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{_git_oid(data)}"', "Content-Type": "application/octet-stream"}
        self._send(200, data, headers, with_body)

    def _not_found(self) -> None:
        self._send(404, b'{"error": "Repository not found"}',
                   {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found",
                    "Content-Type": "application/json"})

    def _json(self, value: object) -> None:
        self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str], with_body: bool = True) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    server = FakeHub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _pull(home: Path, endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "EASEL_"))}
    env.update(EASEL_HOME=str(home), HF_ENDPOINT=endpoint, HF_HOME=str(home / "hf"), HF_HUB_OFFLINE="0",
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_ETAG_TIMEOUT="5", HF_HUB_DOWNLOAD_TIMEOUT="5")
    return subprocess.run([sys.executable, "-m", "easel", "pull", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def _write_config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "engines.toml").write_text(text)


def test_pulls_config_weights_then_skips_and_repairs(tmp_path: Path, hub: FakeHub) -> None:
    home = tmp_path / "home"
    local = tmp_path / "local.onnx"
    local.write_bytes(b"onnx")
    _write_config(home, f"""
[instruct_edit]
backend = "flux2-klein"
weights = "acme/tiny-model"
extra = {{ controlnet = "acme/tiny-controlnet", mode = "canny" }}

[erase]
backend = "onnx-inpaint"
weights = "{local}"
""")
    first = _pull(home, hub.url)
    assert first.returncode == 0, first.stderr
    target = home / "models" / "acme" / "tiny-model"
    for name, data in REPOS["acme/tiny-model"].items():
        assert (target / name).read_bytes() == data
    controlnet = home / "models" / "acme" / "tiny-controlnet" / "config.json"
    assert controlnet.read_bytes() == REPOS["acme/tiny-controlnet"]["config.json"]
    assert "2 pulled" in first.stdout and "1 local present" in first.stdout

    hub.log.clear()
    second = _pull(home, hub.url)
    assert second.returncode == 0, second.stderr
    assert "0 pulled, 2 already complete" in second.stdout
    assert hub.log == []  # a complete copy is recognised without asking the hub

    refreshed = _pull(home, hub.url, "--update")
    assert refreshed.returncode == 0, refreshed.stderr
    assert hub.log and not [line for line in hub.log if "/resolve/" in line]  # asked, but nothing re-fetched

    (target / "unet/config.json").unlink()
    hub.log.clear()
    third = _pull(home, hub.url)
    assert third.returncode == 0, third.stderr
    assert (target / "unet/config.json").read_bytes() == REPOS["acme/tiny-model"]["unet/config.json"]
    fetched = [line for line in hub.log if line.startswith("GET /acme/")]
    assert fetched == ["GET /acme/tiny-model/resolve/" + COMMIT + "/unet/config.json"]  # only the missing file


def test_every_weight_field_is_pulled_and_repo_parts_alone(tmp_path: Path, hub: FakeHub) -> None:
    """controlnet / ip_adapter / image_encoder / fc / fbc name weights as `weights` does; a file or folder inside
    a repo pulls that part only, where the backend looks for it."""
    home = tmp_path / "home"
    _write_config(home, """
[sketch_to_image]
backend = "sdxl-controlnet"
weights = "acme/tiny-model"
controlnet = "acme/tiny-controlnet"

[reference_to_image]
backend = "sdxl-ip-adapter"
weights = "acme/tiny-model"
ip_adapter = "acme/adapters/sdxl/ip-adapter.safetensors"
image_encoder = "acme/adapters/sdxl/image_encoder"
""")
    result = _pull(home, hub.url)
    assert result.returncode == 0, result.stderr
    models = home / "models"
    assert (models / "acme/tiny-controlnet/config.json").is_file()
    assert (models / "acme/adapters/sdxl/ip-adapter.safetensors").read_bytes() == b"adapter" * 10
    assert (models / "acme/adapters/sdxl/image_encoder/config.json").is_file()
    assert not (models / "acme/adapters/sd15").exists(), "only the named parts of the repo are fetched"
    again = _pull(home, hub.url)
    assert again.returncode == 0 and "0 pulled" in again.stdout, again.stdout


def test_unknown_repo_is_one_clear_line(tmp_path: Path, hub: FakeHub) -> None:
    result = _pull(tmp_path / "home", hub.url, "acme/tiny-controlnet", "acme/no-such-model")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "easel pull: acme/no-such-model: repository not found on " + hub.url in result.stderr
    assert (tmp_path / "home/models/acme/tiny-controlnet/config.json").is_file()  # the good one still came
    assert not (tmp_path / "home/models/acme/no-such-model").exists()


def test_unreachable_hub_and_missing_local_path(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write_config(home, f"""
[instruct_edit]
backend = "flux2-klein"
weights = "acme/tiny-model"

[erase]
backend = "onnx-inpaint"
weights = "{tmp_path / 'absent.onnx'}"
""")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = _pull(home, dead)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert f"acme/tiny-model: cannot reach the hub at {dead}" in result.stderr
    assert f"local path {tmp_path / 'absent.onnx'} does not exist (named by [erase] weights)" in result.stderr
    assert "missing" in result.stdout


def test_unwritable_models_dir_and_bad_id(tmp_path: Path, hub: FakeHub) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").write_text("a file where the models folder should be")
    result = _pull(home, hub.url, "acme/tiny-model")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "easel pull: acme/tiny-model: cannot write" in result.stderr

    bad = _pull(home, hub.url, "/not/a/hub/id")
    assert bad.returncode == 2
    assert "not a hub id (expected org/name): /not/a/hub/id" in bad.stderr
