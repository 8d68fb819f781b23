"""Drain rate of the PostgreSQL queue: tasks that fail fast at decode, created at a fixed rate.

One API node (`easel serve --workers 0`) and two `easel worker` processes on a fresh schema of the
PostgreSQL at 127.0.0.1:5432 (db `test`, trust auth). Every create sends a base image URL that answers
bytes that are no image, so each task is queued, started, fetched and FAILED at decode: the number
measures the queue, not an engine. Creates are paced at --rate per second; their latencies give p50 and
p99; the drain rate is tasks ended per second from the first create to the last task's end.

    .venv/bin/python bench/bench_drain.py [--tasks 10000] [--rate 200] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import EaselServer, free_port  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


async def create_all(srv: EaselServer, key: str, url: str, tasks: int, rate: float) -> list[float]:
    body = {"model": "wanx2.1-imageedit", "parameters": {"upscale_factor": 2, "n": 1},
            "input": {"function": "super_resolution", "prompt": "x", "base_image_url": url}}
    headers = {"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"}
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=srv.api, headers=headers, limits=limits, timeout=30) as client:

        async def one() -> None:
            started = time.perf_counter()
            rsp = await client.post("/services/aigc/image2image/image-synthesis", json=body)
            rsp.raise_for_status()
            latencies.append(time.perf_counter() - started)

        pending = []
        begin = time.perf_counter()
        for n in range(tasks):
            await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
            pending.append(asyncio.create_task(one()))
        await asyncio.gather(*pending)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--concurrency", type=int, default=8, help="jobs each worker process runs at once")
    parser.add_argument("--worker-processes", type=int, default=2, help="0: creates only (the API node alone)")
    parser.add_argument("--lanes", default="", help="the workers' --lanes (e.g. general: they idle, for a control run)")
    args = parser.parse_args()
    schema = f"easel_bench_{time.time_ns():x}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    with tempfile.TemporaryDirectory() as tmp:
        files = Path(tmp) / "files"
        files.mkdir()
        (files / "not-an-image.png").write_bytes(b"these bytes are not an image" * 4)
        # its own process: in this one it would take the GIL from the load generator and inflate latencies
        port = free_port()
        host = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                 "--directory", str(files)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/not-an-image.png"
        env = {"EASEL_DATABASE_URL": f"{POSTGRES}?options=-csearch_path%3D{schema}", "EASEL_WORKERS": "0",
               "EASEL_CORE_BUDGET": str(args.concurrency + 1), "EASEL_LOG_LEVEL": "WARNING"}
        srv = EaselServer(Path(tmp) / "home", env).start()
        workers: list[subprocess.Popen] = []
        try:
            key = srv.new_key()
            for _ in range(args.worker_processes):
                log = (Path(tmp) / f"worker-{len(workers)}.log").open("w")
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "easel", "worker", "--workers", str(args.concurrency),
                     *(["--lanes", args.lanes] if args.lanes else [])],
                    env=srv.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
            time.sleep(5)  # the workers connect and LISTEN
            begin = time.perf_counter()
            try:
                latencies = asyncio.run(create_all(srv, key, url, args.tasks, args.rate))
            except httpx.HTTPError:
                assert srv.log_path is not None
                print(srv.log_path.read_text()[-3000:], file=sys.stderr)
                raise
            created = time.perf_counter() - begin
            while args.worker_processes and not args.lanes:
                with admin.connect() as conn:
                    open_tasks = conn.execute(text(f"SELECT count(*) FROM {schema}.tasks"
                                                   " WHERE status IN ('PENDING', 'RUNNING')")).scalar()
                if open_tasks == 0:
                    break
                time.sleep(0.05)
            drained = time.perf_counter() - begin
            with admin.connect() as conn:
                ended = dict(conn.execute(text(f"SELECT status, count(*) FROM {schema}.tasks GROUP BY status")).all())
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(20)
            srv.stop()
            host.terminate()
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{args.tasks} tasks created at {args.rate:.0f}/s in {created:.1f} s; create p50 {cuts[49] * 1000:.1f} ms, "
          f"p99 {cuts[98] * 1000:.1f} ms")
    print(f"drained in {drained:.1f} s: {args.tasks / drained:.0f} tasks/s, {args.worker_processes} worker processes x "
          f"{args.concurrency} jobs; ended {ended}")


if __name__ == "__main__":
    main()
