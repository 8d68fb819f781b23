"""Retention purges records and files; the command line behaves as scripts expect."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
from dashscope import ImageSynthesis

from tests.conftest import EaselServer, ImageHost, photo


def test_results_and_records_expire(tmp_path, use_server, image_host: ImageHost) -> None:
    srv = EaselServer(tmp_path / "home", {"EASEL_RETENTION_HOURS": str(3 / 3600),
                                          "EASEL_PURGE_INTERVAL_S": "0.5"}).start()
    try:
        use_server(srv, srv.new_key())
        url = image_host.put_image("expire.png", photo())
        done = ImageSynthesis.call(model="wanx2.1-imageedit", function="super_resolution", prompt="x",
                                   base_image_url=url)
        result_url = done.output.results[0].url
        assert httpx.get(result_url).status_code == 200
        stored = list((srv.home / "blobs" / "results").rglob("*.png"))
        assert stored
        time.sleep(5)
        assert ImageSynthesis.fetch(done.output.task_id).output.task_status == "UNKNOWN"
        assert httpx.get(result_url).status_code in (403, 404)
        assert not any(p.exists() for p in stored), "result files are deleted, not just unlinked from tasks"
    finally:
        srv.stop()


def test_first_start_prints_a_working_key(tmp_path) -> None:
    srv = EaselServer(tmp_path / "fresh").start()
    try:
        log = srv.log_path.read_text()
        keys = [word for word in log.split() if word.startswith("sk-")]
        assert keys, log
        rsp = httpx.get(srv.api + "/tasks", headers={"Authorization": f"Bearer {keys[0]}"})
        assert rsp.status_code == 200
    finally:
        srv.stop()
    again = EaselServer(tmp_path / "fresh", port=srv.port).start()
    try:
        assert "sk-" not in again.log_path.read_text(), "the key is printed only on the first start"
    finally:
        again.stop()


def test_keys_commands(tmp_path) -> None:
    srv = EaselServer(tmp_path / "cli")
    out = srv.cli("keys", "create", "--name", "ci")
    assert out.count("\n") == 1 and out.startswith("sk-"), "the key alone on stdout"
    listing = srv.cli("keys", "list")
    assert "ci" in listing and "active" in listing and out.strip() not in listing
    key_id = listing.split()[0]
    assert "revoked" in srv.cli("keys", "revoke", key_id)
    failed = subprocess.run([sys.executable, "-m", "easel", "keys", "revoke", key_id], env=srv.env(),
                            capture_output=True, text=True)
    assert failed.returncode == 1


def test_models_command_lists_catalog(tmp_path) -> None:
    out = EaselServer(tmp_path / "models").cli("models")
    assert "wanx2.1-imageedit" in out and "super_resolution" in out
