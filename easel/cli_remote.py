"""`easel submit | wait | tasks`: the same requests against a running Easel (or DashScope) over its HTTP API.

The server is DASHSCOPE_HTTP_BASE_URL and the key DASHSCOPE_API_KEY, as for the dashscope SDK, or
--base-url / --api-key. Local files go up through the upload flow the SDK uses (getPolicy, then the form
POST, then oss:// URLs with X-DashScope-OssResourceResolve). `wait` follows the task's Server-Sent
Events (an Easel extension) and falls back to polling GET /tasks/{id} on a server without them.
Output is often piped (`easel tasks | head -1`): a reader that leaves early is normal, not an error.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from easel.cli_run import (
    CliError,
    add_input_flags,
    find_catalog_model,
    is_remote,
    local_file,
    parse_params,
    request_body,
)

DEFAULT_BASE_URL = "http://127.0.0.1:8000/api/v1"
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"}
POLL_S = 1.0
TIMEOUT = httpx.Timeout(300.0, connect=10.0)


class Api:
    """The few DashScope calls the commands make, with the key and base URL of this invocation."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base = base_url.rstrip("/")
        self._client = httpx.Client(timeout=TIMEOUT, headers={"Authorization": f"Bearer {api_key}"})

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return _json(self._client.get(self.base + path, params=params or None))

    def create(self, route: str, body: dict[str, Any], uploaded: bool) -> dict[str, Any]:
        headers = {"X-DashScope-Async": "enable"}
        if uploaded:
            headers["X-DashScope-OssResourceResolve"] = "enable"
        return _json(self._client.post(f"{self.base}/services/aigc/{route}", json=body, headers=headers))

    def upload(self, model: str, paths: list[Path]) -> dict[Path, str]:
        """oss:// URLs of local files, through one upload policy (as the SDK does)."""
        if not paths:
            return {}
        policy = self.get("/uploads", action="getPolicy", model=model)
        data = policy.get("data") or policy.get("output") or {}
        urls = {}
        for path in paths:
            key = f"{data['upload_dir']}/{path.name}"
            form = {"OSSAccessKeyId": data["oss_access_key_id"], "Signature": data["signature"],
                    "policy": data["policy"], "key": key, "x-oss-object-acl": data["x_oss_object_acl"],
                    "x-oss-forbid-overwrite": data["x_oss_forbid_overwrite"], "success_action_status": "200",
                    "x-oss-content-type": mimetypes.guess_type(path.name)[0] or "application/octet-stream"}
            with path.open("rb") as file:  # the form POST carries no key: the signed policy is the credential
                response = httpx.post(data["upload_host"], data=form, files={"file": (path.name, file)},
                                      timeout=TIMEOUT)
            if response.status_code != 200:
                raise CliError(f"uploading {path} failed: HTTP {response.status_code} {_message(response)}")
            urls[path] = f"oss://{key}"
        return urls

    def events(self, task_id: str) -> Iterator[tuple[str, dict[str, Any]]] | None:
        """(event, data) pairs of GET /tasks/{id}/events, or None when the server has no such stream."""
        request = self._client.build_request("GET", f"{self.base}/tasks/{task_id}/events",
                                             timeout=httpx.Timeout(None, connect=10.0))
        response = self._client.send(request, stream=True)
        if response.status_code != 200 or not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.close()
            return None
        return _sse(response)

    def download(self, url: str, path: Path) -> None:
        with httpx.stream("GET", url, timeout=TIMEOUT, follow_redirects=True) as response:
            if response.status_code != 200:
                raise CliError(f"downloading {url} failed: HTTP {response.status_code}")
            with path.open("wb") as file:
                for chunk in response.iter_bytes():
                    file.write(chunk)


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise CliError(f"HTTP {response.status_code}: {_message(response)}")
    try:
        return response.json()
    except ValueError:
        raise CliError(f"the server answered HTTP 200 with a body that is not JSON: {response.text[:120]!r}") from None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and ("code" in body or "message" in body):
        return f"{body.get('code', '')}: {body.get('message', '')}".strip(": ")
    return json.dumps(body)[:200]


def _sse(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    event, data = "message", []
    try:
        for line in response.iter_lines():
            if not line:
                if data:
                    yield event, json.loads("\n".join(data))
                event, data = "message", []
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
    finally:
        response.close()


def _api(args: argparse.Namespace) -> Api:
    base = args.base_url or os.environ.get("DASHSCOPE_HTTP_BASE_URL") or DEFAULT_BASE_URL
    key = args.api_key or os.environ.get("DASHSCOPE_API_KEY")
    if not key:
        raise CliError("no API key: set DASHSCOPE_API_KEY or pass --api-key (create one with `easel keys create`)")
    return Api(base, key)


# --- commands ---------------------------------------------------------------------------------------

def submit_command(args: argparse.Namespace) -> int:
    def submit() -> int:
        model = find_catalog_model(args.model)
        if model.synchronous or not model.routes:
            raise CliError(f"{model.name} is not an asynchronous task model; use `easel run` for it")
        api = _api(args)
        flags = {flag: getattr(args, flag) for flag in ("image", "mask", "ref")}
        local = {flag: local_file(value, flag) for flag, value in flags.items() if value and not is_remote(value)}
        uploaded = api.upload(model.name, list(dict.fromkeys(local.values())))
        urls = {flag: uploaded[local[flag]] if flag in local else value for flag, value in flags.items()}
        body = request_body(model, urls, args.prompt, args.function, parse_params(args.param or []))
        answer = api.create(sorted(model.routes)[0], body, uploaded=bool(uploaded))
        print(answer["output"]["task_id"])
        return 0

    return _guarded("submit", submit)


def wait_command(args: argparse.Namespace) -> int:
    def wait() -> int:
        api = _api(args)
        err = Console(stderr=True, highlight=False)
        body = _follow(api, args.task_id, err)
        output = body.get("output", {})
        status = output.get("task_status")
        for note in output.get("notes") or []:
            print(f"note: {note}", file=sys.stderr)
        if status != "SUCCEEDED":
            reason = ": ".join(str(output[k]) for k in ("code", "message") if output.get(k))
            print(f"easel wait: task {args.task_id} {status}{': ' + reason if reason else ''}", file=sys.stderr)
            return 1
        for url in _result_urls(output):
            if args.out:
                folder = Path(args.out).expanduser()
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{args.task_id}-{Path(urlsplit(url).path).name}"
                api.download(url, path)
                print(path)
            else:
                print(url)
        return 0

    return _guarded("wait", wait)


def _follow(api: Api, task_id: str, err: Console) -> dict[str, Any]:
    """The task's final GET body, showing its status and progress meanwhile."""
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), console=err, transient=True)
    with progress:
        bar = progress.add_task(f"{task_id[:8]} PENDING", total=100)
        events = api.events(task_id)
        if events is not None:
            for event, data in events:
                if event == "status":
                    progress.update(bar, description=f"{task_id[:8]} {data.get('task_status')}")
                elif event == "progress":
                    progress.update(bar, completed=data.get("progress", 0))
                elif event == "end":
                    return data
        while True:  # no event stream (or it ended early): poll
            body = api.get(f"/tasks/{task_id}")
            output = body.get("output", {})
            progress.update(bar, description=f"{task_id[:8]} {output.get('task_status')}",
                            completed=output.get("progress") or 0)
            if output.get("task_status") in TERMINAL:
                return body
            time.sleep(POLL_S)


def _result_urls(output: dict[str, Any]) -> list[str]:
    urls = [r["url"] for r in output.get("results") or [] if isinstance(r, dict) and r.get("url")]
    if not urls:  # models that answer one image in a field of its own (style repaint: result_url)
        urls = [v for k, v in output.items() if k.endswith("url") and isinstance(v, str) and v.startswith("http")]
    return urls


def tasks_command(args: argparse.Namespace) -> int:
    def tasks() -> int:
        page = _api(args).get("/tasks", page_no=1, page_size=args.limit)
        items = page.get("data") or page.get("tasks") or []
        if args.json:
            print(json.dumps(page, ensure_ascii=False, indent=2))
            return 0
        table = Table(title=f"Tasks ({page.get('total', len(items))} in all, newest first)")
        for column in ("task_id", "status", "model", "function", "submitted", "ended"):
            table.add_column(column, overflow="fold")
        for item in items:
            table.add_row(item.get("task_id", ""), item.get("task_status") or item.get("status") or "",
                          item.get("model_name") or "", item.get("function") or "",
                          _time(item.get("submit_time")), _time(item.get("end_time")))
        Console(width=None if sys.stdout.isatty() else 160).print(table)
        return 0

    return _guarded("tasks", tasks)


def _time(value: Any) -> str:
    return str(value)[:19] if value else ""  # "2026-12-01 15:40:11.123" to the second


def _guarded(name: str, command: Callable[[], int]) -> int:
    """One-line errors and exit statuses instead of tracebacks; a closed pipe ends quietly."""
    try:
        code = command()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)  # Python flushes stdout again at exit
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except CliError as exc:
        print(f"easel {name}: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"easel {name}: cannot reach the server: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"easel {name}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, TypeError) as exc:  # an answer not shaped as DashScope's
        print(f"easel {name}: unexpected answer from the server: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def add_remote_parsers(sub: Any) -> None:
    submit = sub.add_parser("submit", help="create an asynchronous task on a running server; prints its id")
    add_input_flags(submit)
    _server_flags(submit)
    submit.set_defaults(handler=submit_command)

    wait = sub.add_parser("wait", help="follow a task to its end; download its results with --out")
    wait.add_argument("task_id", metavar="TASK_ID")
    wait.add_argument("--out", default=None, metavar="DIR", help="download the result images into DIR")
    _server_flags(wait)
    wait.set_defaults(handler=wait_command)

    tasks = sub.add_parser("tasks", help="list this key's recent tasks")
    tasks.add_argument("--limit", type=int, default=20, help="how many (1-100, newest first)")
    tasks.add_argument("--json", action="store_true", help="print the raw GET /api/v1/tasks answer")
    _server_flags(tasks)
    tasks.set_defaults(handler=tasks_command)


def _server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-url", default=None, help=f"the API base (DASHSCOPE_HTTP_BASE_URL, {DEFAULT_BASE_URL})")
    parser.add_argument("--api-key", default=None, help="the API key (DASHSCOPE_API_KEY)")
