"""`easel run`: one request through the catalog and the engines of this machine, in this process.

No server, no database, no HTTP for local files: the request body is built exactly as a client would
send it (the catalog's own `validate` checks it and words its errors), local files travel as `file://`
URLs that only this command's RunContext reads, and results are written into --out. The flags map onto
the model's wire fields (`--image` -> base_image_url or image_url, …) through the catalog's contract
models, so a new model needs no change here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from easel.catalog.base import CatalogModel
from easel.config import Settings
from easel.engines.base import EngineRequest, EngineTask
from easel.engines.manager import Engines
from easel.errors import EaselError, InvalidParameter, InvalidURL
from easel.inputs.decode import ImageLimits, decode_image
from easel.tasks.store import Outcome

# The wire fields each flag may fill, in order of preference (the first one the model's input has).
IMAGE_FIELDS = {
    "image": ("base_image_url", "image_url"),
    "mask": ("mask_image_url",),
    "ref": ("ref_image_url", "style_ref_url", "ref_img"),
}
PROMPT_FIELDS = ("prompt", "ref_prompt")
# multimodal-generation bodies carry the image and the text as one chat message
MESSAGE_ROUTE = "multimodal-generation/generation"


class CliError(Exception):
    """A problem the user fixes from the command line; printed as one line."""


# --- the request body, shared with `easel submit` ---------------------------------------------------

def parse_params(pairs: list[str]) -> dict[str, Any]:
    """k=v pairs; a value that parses as JSON is that value (n=2, is_sketch=true, scales=[1,2]), else a string."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--param {pair!r} is not key=value")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    return params


def find_catalog_model(name: str) -> CatalogModel:
    from easel.catalog.registry import MODELS

    model = MODELS.get(name)
    if model is None:
        raise CliError(f"unknown model {name!r}; models: {', '.join(sorted(MODELS))}")
    return model


def request_body(model: CatalogModel, images: dict[str, str | None], prompt: str | None, function: str | None,
                 params: dict[str, Any]) -> dict[str, Any]:
    """The create request's JSON body, as a DashScope client would send it for these flags."""
    if MESSAGE_ROUTE in model.routes:
        return _message_body(model, images, prompt, function, params)
    fields = set(model.input_model.model_fields) if model.input_model else set()
    if not fields:
        raise CliError(f"{model.name} is not served through DashScope request bodies; easel run cannot send it")
    inp: dict[str, Any] = {}
    for flag, url in images.items():
        if url is None:
            continue
        field = next((f for f in IMAGE_FIELDS[flag] if f in fields), None)
        if field is None:
            raise CliError(f"{model.name} takes no --{flag} image")
        inp[field] = url
    if prompt is not None:
        field = next((f for f in PROMPT_FIELDS if f in fields), None)
        if field is None:
            raise CliError(f"{model.name} takes no --prompt")
        inp[field] = prompt
    elif "prompt" in fields:
        inp["prompt"] = ""  # required by the seeds, and may be empty
    if function is not None:
        if "function" not in fields:
            raise CliError(f"{model.name} has no functions; drop --function")
        inp["function"] = function
    parameters = {}
    for key, value in params.items():  # a key of the input model (style_index, title, …) goes to input
        (inp if key in fields else parameters)[key] = value
    return {"model": model.name, "input": inp, "parameters": parameters}


def _message_body(model: CatalogModel, images: dict[str, str | None], prompt: str | None, function: str | None,
                  params: dict[str, Any]) -> dict[str, Any]:
    extra = [flag for flag in ("mask", "ref") if images.get(flag)]
    if extra or function:
        raise CliError(f"{model.name} takes one --image and a --prompt only")
    content = [{"image": images["image"]}, {"text": prompt or ""}]
    return {"model": model.name, "input": {"messages": [{"role": "user", "content": content}]},
            "parameters": params}


def local_file(path: str, flag: str) -> Path:
    file = Path(path).expanduser()
    if not file.is_file():
        raise CliError(f"--{flag} {path}: no such file")
    return file.resolve()


def is_remote(value: str) -> bool:
    return value[:8].lower().startswith(("http://", "https://", "oss://", "data:"))


# --- the local RunContext ---------------------------------------------------------------------------

class LocalContext:
    """RunContext for one `easel run`: local files and http(s) URLs in, files in `out` out, progress on a bar."""

    def __init__(self, settings: Settings, engines: Engines, out: Path, stem: str, progress: ProgressBar) -> None:
        self.settings = settings
        self.task_id = f"run-{time.strftime('%Y%m%d-%H%M%S')}"
        self.engines = engines
        self.notes: list[str] = []
        self.saved: list[Path] = []
        self._out = out
        self._stem = stem
        self._progress = progress

    def load_image(self, url: str, limits: ImageLimits, what: str) -> Image.Image:
        if url.startswith("file://"):
            path = Path(unquote(urlsplit(url).path))
            size = path.stat().st_size
            if size > limits.max_bytes:  # checked before reading a huge file into memory
                raise InvalidParameter(f"The {what} {path} is {size / 1048576:.1f} MB; the limit is "
                                       f"{limits.max_bytes // 1048576} MB.")
            return decode_image(path.read_bytes(), limits, what)
        if url[:8].lower().startswith(("http://", "https://")):
            from easel.inputs.fetch import FetchPolicy, fetch_url

            policy = FetchPolicy(limits.max_bytes, self.settings.fetch_timeout_s, self.settings.url_allowlist)
            return decode_image(fetch_url(url, policy), limits, what)
        raise InvalidURL(f"easel run reads local files and http(s) URLs; {url[:40]!r} is neither.")

    def save_image(self, image: Image.Image | np.ndarray, index: int, fmt: str = "PNG") -> dict[str, Any]:
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        path = _free_name(self._out, f"{self._stem}-{index}", ".jpg" if fmt == "JPEG" else ".png")
        if fmt == "JPEG":
            image.convert("RGB").save(path, "JPEG", quality=95)
        else:
            image.save(path, "PNG", compress_level=3)
        self.saved.append(path)
        return {"blob": str(path)}

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def progress(self, done: int, total: int) -> None:
        self._progress.update(done, total)

    def run_engine(self, task: EngineTask, request: EngineRequest) -> list[Image.Image]:
        self._progress.start_step(task.value)
        return self.engines.run(task, request, self)


def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    """folder/stem.suffix, or stem-2, stem-3 … when that exists: earlier results are never overwritten."""
    path = folder / f"{stem}{suffix}"
    counter = 2
    while path.exists():
        path = folder / f"{stem}-{counter}{suffix}"
        counter += 1
    return path


class ProgressBar:
    """A rich progress bar on stderr, one step per engine call, fed by the engine's progress reports."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                                  console=console, transient=True)
        self._task: TaskID | None = None

    @contextmanager
    def shown(self) -> Iterator[ProgressBar]:
        with self._progress:
            yield self

    def start_step(self, name: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=1, total=1)
            self._progress.stop_task(self._task)
        self._task = self._progress.add_task(name, total=None)  # pulses until the engine reports steps

    def update(self, done: int, total: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=done, total=max(1, total))


# --- the command ------------------------------------------------------------------------------------

def run_command(args: argparse.Namespace) -> int:
    if not args.verbose:  # broken engine tables are reported as this run's error, not as log lines
        logging.getLogger("easel").setLevel(logging.CRITICAL)
    try:
        ctx, outcome = _run(args)
    except CliError as exc:
        print(f"easel run: {exc}", file=sys.stderr)
        return 2
    except EaselError as exc:
        print(f"easel run: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("easel run: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an engine's own failure: one line, the traceback only with --verbose
        if args.verbose:
            raise
        print(f"easel run: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for note in ctx.notes:
        print(f"note: {note}", file=sys.stderr)
    extra = {k: v for k, v in (outcome.extra_output or {}).items() if k != "notes" and not _is_link(v)}
    if extra:
        print(f"output: {json.dumps(extra, ensure_ascii=False)}", file=sys.stderr)
    for path in ctx.saved:
        print(path)
    return 0


def _run(args: argparse.Namespace) -> tuple[LocalContext, Outcome]:
    """Build the body, validate it and check the engines as a create would, then run it here."""
    from easel.config import load_settings
    from easel.engines.config import load_engines_config

    model = find_catalog_model(args.model)
    files = {flag: getattr(args, flag) for flag in IMAGE_FIELDS}
    urls = {flag: None if value is None else value if is_remote(value) else local_file(value, flag).as_uri()
            for flag, value in files.items()}
    body = request_body(model, urls, args.prompt, args.function, parse_params(args.param or []))
    settings = load_settings()
    engines = Engines(load_engines_config(settings.home, settings.superres_model, settings.inpaint_onnx_path))
    valid = model.validate(body)
    gap = model.capability_gap(valid, engines)
    if gap is not None:
        raise gap
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(urlsplit(files['image'] or 'result').path).stem}-{valid.function or model.name}"
    bar = ProgressBar(Console(stderr=True, highlight=False))
    ctx = LocalContext(settings, engines, out, stem, bar)
    with bar.shown():
        return ctx, model.run(valid.request, ctx)


def _is_link(value: Any) -> bool:
    return isinstance(value, dict) and "$url" in value


def add_run_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="run one request on this machine's engines (no server) and write the files")
    add_input_flags(run)
    run.add_argument("--out", required=True, metavar="DIR", help="folder the result images are written into")
    run.add_argument("-v", "--verbose", action="store_true", help="show engine logs and tracebacks")
    run.set_defaults(handler=run_command)


def add_input_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a model name, e.g. wanx2.1-imageedit (see `easel models`)")
    parser.add_argument("--function", "-f", default=None, help="the model's function, e.g. super_resolution")
    parser.add_argument("--image", "-i", default=None, metavar="PATH|URL",
                        help="the input image (base_image_url / image_url)")
    parser.add_argument("--mask", default=None, metavar="PATH|URL", help="the mask image (mask_image_url)")
    parser.add_argument("--ref", default=None, metavar="PATH|URL", help="the reference image (ref_image_url)")
    parser.add_argument("--prompt", "-p", default=None, help="the prompt (prompt / ref_prompt)")
    parser.add_argument("--param", action="append", metavar="KEY=VALUE",
                        help="a parameter, repeatable; JSON values (n=2, is_sketch=true) or strings")

