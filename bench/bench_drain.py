"""Drain rate of the PostgreSQL queue: tasks that fail fast at decode, created at a fixed rate.

One API node (`easel serve --workers 0`) and two `easel worker` processes on a fresh schema of the
PostgreSQL at 127.0.0.1:5432 (db `test`, trust auth). Every create sends a base image that is no image,
so each task is queued, started and FAILED at decode: the number measures the queue, not an engine.
--input url (default) fetches those bytes from a loopback host first; --input data sends them as a data:
URI, so no fetch is measured either. Creates are paced at --rate per second; their latencies (from when
each was due) give p50 and p99; the drain rate is tasks ended per second from the first create to the
last task's end. CPU per task is given for each process group (API node, workers, PostgreSQL, ...).

    .venv/bin/python bench/bench_drain.py [--tasks 10000] [--rate 200] [--concurrency 8] [--input data]
        [--worker-nice 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import EaselServer, free_port  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


async def create_all(srv: EaselServer, key: str, url: str, tasks: int, rate: float,
                     connections: int = 32) -> list[float]:
    """Open-loop creates: request n is due at n / rate; its latency runs from when it was due (waiting for a
    free connection counts), so a slow server cannot hide behind a slowed-down client.

    A few keep-alive HTTP/1.1 connections on raw asyncio streams: httpx cost ~4 ms of CPU per request, a
    fifth of the whole pipeline's CPU on 2 cores, which the server's own numbers would then pay for."""
    body = json.dumps({"model": "wanx2.1-imageedit", "parameters": {"upscale_factor": 2, "n": 1},
                       "input": {"function": "super_resolution", "prompt": "x", "base_image_url": url}}).encode()
    request = (f"POST /api/v1/services/aigc/image2image/image-synthesis HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
               f"Authorization: Bearer {key}\r\nX-DashScope-Async: enable\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    due: asyncio.Queue[float | None] = asyncio.Queue()
    latencies: list[float] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            while (when := await due.get()) is not None:
                writer.write(request)
                status = await read_response(reader)
                if status != 200:
                    raise RuntimeError(f"create answered HTTP {status}")
                latencies.append(time.perf_counter() - when)
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    begin = time.perf_counter()
    for n in range(tasks):
        await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
        due.put_nowait(begin + n / rate)
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    return latencies


async def read_response(reader: asyncio.StreamReader) -> int:
    """The status of one HTTP/1.1 response with a Content-Length body (what Easel sends), body read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return int(lines[0].split()[1])


def cpu_seconds(processes: dict[str, list[psutil.Process]]) -> dict[str, float]:
    """User + system CPU seconds of each group of processes (a process that ended counts 0)."""
    totals: dict[str, float] = {}
    for name, group in processes.items():
        total = 0.0
        for proc in group:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        totals[name] = total
    return totals


def postgres_backends() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--concurrency", type=int, default=8, help="jobs each worker process runs at once")
    parser.add_argument("--worker-processes", type=int, default=2, help="0: creates only (the API node alone)")
    parser.add_argument("--input", choices=("url", "data"), default="url",
                        help="url: each task fetches its bytes from a loopback host; data: a data: URI, no fetch")
    parser.add_argument("--worker-nice", type=int, default=0, help="run the workers under nice -n N")
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
        if args.input == "data":  # no fetch: the task fails at decode right away, so only the queue is measured
            url = "data:image/png;base64," + base64.b64encode((files / "not-an-image.png").read_bytes()).decode()
        env = {"EASEL_DATABASE_URL": f"{POSTGRES}?options=-csearch_path%3D{schema}", "EASEL_WORKERS": "0",
               "EASEL_CORE_BUDGET": str(args.concurrency + 1), "EASEL_LOG_LEVEL": "WARNING"}
        srv = EaselServer(Path(tmp) / "home", env).start()
        workers: list[subprocess.Popen] = []
        try:
            key = srv.new_key()
            for _ in range(args.worker_processes):
                log = (Path(tmp) / f"worker-{len(workers)}.log").open("w")
                workers.append(subprocess.Popen(
                    [*(["nice", "-n", str(args.worker_nice)] if args.worker_nice else []),
                     sys.executable, "-m", "easel", "worker", "--workers", str(args.concurrency),
                     *(["--lanes", args.lanes] if args.lanes else [])],
                    env=srv.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
            time.sleep(5)  # the workers connect and LISTEN
            assert srv.process is not None
            groups = {"api node": [psutil.Process(srv.process.pid)],
                      "workers": [psutil.Process(w.pid) for w in workers],
                      "image host": [psutil.Process(host.pid)], "load generator": [psutil.Process()]}
            groups["postgres"] = postgres_backends()
            cpu_before = cpu_seconds(groups)
            begin = time.perf_counter()
            try:
                latencies = asyncio.run(create_all(srv, key, url, args.tasks, args.rate))
            except (OSError, RuntimeError, asyncio.IncompleteReadError):
                assert srv.log_path is not None
                print(srv.log_path.read_text()[-3000:], file=sys.stderr)
                raise
            created = time.perf_counter() - begin
            while args.worker_processes and args.lanes != "general":
                with admin.connect() as conn:
                    open_tasks = conn.execute(text(f"SELECT count(*) FROM {schema}.tasks"
                                                   " WHERE status IN ('PENDING', 'RUNNING')")).scalar()
                if open_tasks == 0:
                    break
                time.sleep(0.05)
            drained = time.perf_counter() - begin
            groups["postgres"] = [p for p in postgres_backends()]  # backends opened during the run too
            cpu_after = cpu_seconds(groups)
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
          f"{args.concurrency} jobs, input {args.input}; ended {ended}")
    print("CPU per task (ms): " + ", ".join(
        f"{name} {1000 * (cpu_after[name] - cpu_before.get(name, 0.0)) / args.tasks:.2f}" for name in cpu_after))


if __name__ == "__main__":
    main()
