"""Task-creation throughput: Easel's create endpoint against a bare FastAPI endpoint, same run.

Both run as one uvicorn process on loopback; wrk (Debian package `wrk`) drives each for the same
time with the same connections, sending the seed's curl body. Easel runs with EASEL_WORKERS=0 so
the number measures the API path (auth, validation, URL checks, a committed SQLite insert), not
the engines, which would otherwise take the CPU the API needs.

    .venv/bin/python bench/bench_api.py [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BODY = {
    "model": "wanx2.1-imageedit",
    "input": {"function": "super_resolution", "prompt": "图像超分", "base_image_url": "https://example.com/a.png"},
    "parameters": {"upscale_factor": 2, "n": 1},
}
BARE_APP = textwrap.dedent(
    """
    import uuid
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI()

    @app.post("/api/v1/services/aigc/image2image/image-synthesis")
    async def create(request: Request) -> JSONResponse:
        await request.json()
        return JSONResponse({"request_id": str(uuid.uuid4()),
                             "output": {"task_id": str(uuid.uuid4()), "task_status": "PENDING"}})
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str) -> None:
    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never came up")


def wrk(url: str, key: str, seconds: int, connections: int, workdir: Path) -> float:
    script = workdir / "post.lua"
    body_file = workdir / "body.json"
    body_file.write_text(json.dumps(BODY, ensure_ascii=False), encoding="utf-8")
    script.write_text(
        'wrk.method = "POST"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["X-DashScope-Async"] = "enable"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} requests failed:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5, help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=5, help="alternating measurements of each side")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "bare_app.py").write_text(BARE_APP)
        env = dict(os.environ, EASEL_HOME=str(workdir / "home"), EASEL_WORKERS="0")
        key = subprocess.run([sys.executable, "-m", "easel", "keys", "create"], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
        bare_port, easel_port = free_port(), free_port()
        bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port),
                                 "--log-level", "warning", "--no-access-log"], cwd=workdir)
        easel = subprocess.Popen([sys.executable, "-m", "easel", "serve", "--port", str(easel_port)], env=env,
                                 stdout=subprocess.DEVNULL)
        try:
            wait_ready(f"http://127.0.0.1:{bare_port}/")
            wait_ready(f"http://127.0.0.1:{easel_port}/healthz")
            path = "/api/v1/services/aigc/image2image/image-synthesis"
            urls = {"easel": f"http://127.0.0.1:{easel_port}{path}", "bare": f"http://127.0.0.1:{bare_port}{path}"}
            for url in urls.values():  # warm-up
                wrk(url, key, 2, args.connections, workdir)
            # Alternate the two sides and take medians, so a burst of other load on the machine
            # lands on both rather than on one.
            rates: dict[str, list[float]] = {"easel": [], "bare": []}
            for round_no in range(args.rounds):
                order = ("easel", "bare") if round_no % 2 == 0 else ("bare", "easel")
                for side in order:
                    rates[side].append(wrk(urls[side], key, args.seconds, args.connections, workdir))
            easel_rps, bare_rps = statistics.median(rates["easel"]), statistics.median(rates["bare"])
        finally:
            for proc in (bare, easel):
                proc.terminate()
                proc.wait(10)
    ratio = easel_rps / bare_rps
    print(f"rounds: easel {[round(r) for r in rates['easel']]}, bare {[round(r) for r in rates['bare']]}")
    print(f"median bare FastAPI: {bare_rps:.0f} req/s; Easel create: {easel_rps:.0f} req/s; ratio {ratio:.2f} "
          f"(target >= 0.50) {'PASS' if ratio >= 0.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
