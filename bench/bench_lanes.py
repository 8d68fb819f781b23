"""Head-of-line blocking: a fast stylization alone, and queued right behind two x4plus super-resolutions.

One real `easel serve` (SQLite, in-process workers, default EASEL_WORKERS=2 and the core budget of this
machine), the x4plus Real-ESRGAN model, 512-px photos from a loopback image host. Each time is the
task's own submit-to-end (the task's submit_time and end_time), so polling adds nothing. Target: the
stylization behind the upscales takes at most 3x its time alone. With one FIFO queue it would wait for
both upscales first.

    .venv/bin/python bench/bench_lanes.py [--runs 3] [--upscale-factor 4]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import EaselServer, photo  # noqa: E402

EDIT = "wanx2.1-imageedit"


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def image_host(root: Path) -> str:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def submit(srv: EaselServer, key: str, function: str, url: str, **parameters: object) -> str:
    body = {"model": EDIT, "input": {"function": function, "prompt": "转换成法国绘本风格", "base_image_url": url},
            "parameters": {"n": 1, **parameters}}
    rsp = httpx.post(f"{srv.api}/services/aigc/image2image/image-synthesis", json=body, timeout=30,
                     headers={"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"})
    rsp.raise_for_status()
    return rsp.json()["output"]["task_id"]


def finished(srv: EaselServer, key: str, task_id: str, timeout: float = 900) -> float:
    """Seconds from the task's submit to its end, once it has SUCCEEDED."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = httpx.get(f"{srv.api}/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"}).json()["output"]
        if output["task_status"] in ("SUCCEEDED", "FAILED", "CANCELED"):
            assert output["task_status"] == "SUCCEEDED", output
            start, end = (datetime.fromisoformat(output[k]) for k in ("submit_time", "end_time"))
            return (end - start).total_seconds()
        time.sleep(0.05)
    raise TimeoutError(task_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--upscale-factor", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "images"
        images.mkdir()
        photo((512, 512)).save(images / "big.png")
        photo((512, 512), "chelsea").save(images / "small.png")
        host = image_host(images)
        srv = EaselServer(Path(tmp) / "home", {"EASEL_SUPERRES_MODEL": "x4plus"}).start()
        try:
            key = srv.new_key()
            small, big = f"{host}/small.png", f"{host}/big.png"
            finished(srv, key, submit(srv, key, "stylization_all", small))  # warm-up: first-use imports
            alone = [finished(srv, key, submit(srv, key, "stylization_all", small)) for _ in range(args.runs)]
            behind, upscales = [], []
            for _ in range(args.runs):
                slow = [submit(srv, key, "super_resolution", big, upscale_factor=args.upscale_factor)
                        for _ in range(2)]
                behind.append(finished(srv, key, submit(srv, key, "stylization_all", small)))
                upscales.append([finished(srv, key, task_id) for task_id in slow])
        finally:
            srv.stop()
    report(alone, behind, upscales, args.upscale_factor)


def report(alone: list[float], behind: list[float], upscales: list[list[float]], factor: int) -> None:
    base, queued = statistics.median(alone), statistics.median(behind)
    print(f"stylization_all 512 px alone: median {base:.2f} s  (runs {', '.join(f'{t:.2f}' for t in alone)})")
    runs = ", ".join(f"{t:.2f}" for t in behind)
    print(f"behind two x4plus x{factor} upscales: median {queued:.2f} s  (runs {runs})")
    print(f"ratio behind/alone: {queued / base:.2f}x  (target <= 3x)")
    print("the two upscales' submit-to-end, per run: "
          + "; ".join(f"{a:.1f} s, {b:.1f} s" for a, b in upscales))


if __name__ == "__main__":
    main()
