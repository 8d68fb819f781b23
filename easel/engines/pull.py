"""`easel pull`: put the weights engines.toml names on disk before the first request needs them.

Every hub id ("org/name") in a table's `weights` (or its other weight fields: controlnet, ip_adapter,
image_encoder, fc, fbc), or in a string value of its `extra`, is fetched with
huggingface_hub into $EASEL_HOME/models/<org>/<name>, which is where `weights_path` looks. HF_ENDPOINT
(a mirror) and HF_TOKEN (gated or private repos) work as they do for huggingface_hub itself. Local paths
are only checked, never fetched. A finished pull leaves a small record (the commit and every file's size)
so that a later `easel pull` can tell a complete copy without asking the hub, which keeps it usable on a
machine that has since lost its network; `--update` asks the hub for a newer commit anyway.
"""

from __future__ import annotations

import errno
import json
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from easel.engines.config import WEIGHT_FIELDS, BackendConfig, EnginesConfig, hub_repo, is_hub_id, weights_path

# kept beside huggingface_hub's own .cache/huggingface so the model folder itself stays exactly the repo's files
RECORD = Path(".cache") / "easel" / "pull.json"
DEFAULT_REVISION = "main"

State = Literal["pulled", "up to date", "present", "missing", "failed"]


class PullError(Exception):
    """One thing could not be pulled; the message is a single line meant for the operator."""


@dataclass
class Want:
    """One thing the deployment needs on disk: a hub id to fetch, or a local path to check."""

    ref: str  # the hub repo ("org/name") or the local path
    path: Path
    hub: bool
    uses: list[str] = field(default_factory=list)  # where it is named, e.g. "[instruct_edit] weights"
    part: str = ""  # a file or folder inside the repo, when only that is needed

    @property
    def root(self) -> Path:
        """Where the repo's files go (want.path is the part inside it)."""
        return Path(str(self.path)[: -len(self.part) - 1]) if self.part else self.path

    @property
    def record(self) -> Path:
        """The pull record: one per repo, or per part of a repo pulled by parts."""
        name = "pull.json" if not self.part else f"pull-{self.part.replace('/', '--')}.json"
        return self.root / RECORD.parent / name


@dataclass
class Outcome:
    want: Want
    state: State
    detail: str = ""
    size: int = 0


def wants_from_config(config: EnginesConfig) -> list[Want]:
    """What the engines config needs; one Want per distinct id or path, however many tables name it."""
    found: dict[str, Want] = {}
    for task, table in sorted(config.tables.items(), key=lambda item: item[0].value):
        for key, ref, must_be_path in _table_refs(table):
            repo = hub_repo(ref)
            if repo is not None and (must_be_path or is_hub_id(ref)):
                # a file or folder inside a repo pulls that part of the repo only
                want = found.setdefault(ref, Want(repo[0], weights_path(ref, config.models_dir), hub=True,
                                                  part=repo[1]))
            elif must_be_path or _looks_like_path(ref):
                want = found.setdefault(ref, Want(ref, weights_path(ref, config.models_dir), hub=False))
            else:
                continue  # an extra option that is neither (e.g. a preprocessor name)
            want.uses.append(f"[{task.value}] {key}")
    return list(found.values())


def _table_refs(table: BackendConfig) -> Iterable[tuple[str, str, bool]]:
    """(key, value, is-certainly-weights) for the weight fields and every string in extra."""
    for key in WEIGHT_FIELDS:
        value = getattr(table, key)
        if value:
            yield key, value, True
    for key, value in table.extra.items():
        if isinstance(value, str) and value:
            yield f"extra.{key}", value, False


def _looks_like_path(ref: str) -> bool:
    return ref.startswith(("/", "~", "./", "../"))


def wants_from_ids(ids: list[str], models_dir: Path) -> list[Want]:
    """Hub ids named on the command line; anything that is not "org/name" is refused up front."""
    bad = [ref for ref in ids if not is_hub_id(ref)]
    if bad:
        raise PullError(f"not a hub id (expected org/name): {', '.join(bad)}")
    return [Want(ref, models_dir / ref, hub=True, uses=["command line"]) for ref in dict.fromkeys(ids)]


def pull_all(wants: list[Want], revision: str | None = None, update: bool = False,
             err: TextIO = sys.stderr) -> list[Outcome]:
    """Fetch or check each want in turn; one failure does not stop the others."""
    outcomes = []
    for want in wants:
        outcome = pull_one(want, revision, update) if want.hub else _check_local(want)
        if outcome.state in ("failed", "missing"):
            print(f"easel pull: {want.ref}: {outcome.detail}", file=err, flush=True)
        outcomes.append(outcome)
    return outcomes


def _check_local(want: Want) -> Outcome:
    if want.path.exists():
        return Outcome(want, "present", str(want.path), _disk_size(want.path))
    return Outcome(want, "missing", f"local path {want.path} does not exist (named by {', '.join(want.uses)})")


def pull_one(want: Want, revision: str | None = None, update: bool = False) -> Outcome:
    """Download one hub id into want.path unless a complete copy of that revision is already there."""
    wanted = revision or DEFAULT_REVISION
    record = None if update else complete_record(want.root, wanted, want.record)
    if record is not None:
        return Outcome(want, "up to date", f"commit {record['commit'][:10]}", sum(record["files"].values()))
    try:
        record = _download(want, wanted)
    except PullError as exc:
        return Outcome(want, "failed", str(exc))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # whatever huggingface_hub or the disk raised: one line, never a traceback
        return Outcome(want, "failed", explain(exc, want.path))
    return Outcome(want, "pulled", f"commit {record['commit'][:10]}", sum(record["files"].values()))


def complete_record(path: Path, revision: str, record_file: Path | None = None) -> dict[str, Any] | None:
    """The pull record, when it is for this revision and every file it lists is on disk at its size."""
    try:
        record = json.loads((record_file or path / RECORD).read_text())
        files: dict[str, int] = record["files"]
        if revision not in (record["revision"], record["commit"]):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for name, size in files.items():
        file = path / name
        if not file.is_file() or file.stat().st_size != size:
            return None
    return record


def _download(want: Want, revision: str) -> dict[str, Any]:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.hf_api import RepoFile

    repo_id, path, part = want.ref, want.root, want.part
    api = HfApi()
    # resolve the branch to a commit first, so every file comes from the same commit and the record names it
    commit = api.model_info(repo_id, revision=revision).sha
    if not commit:
        raise PullError(f"the hub at {_endpoint()} did not say which commit {revision!r} is")
    tree = api.list_repo_tree(repo_id, recursive=True, revision=commit)
    files = {f.path: int(f.size) for f in tree if isinstance(f, RepoFile)
             if not part or f.path == part or f.path.startswith(part + "/")}
    if part and not files:
        raise PullError(f"{repo_id} has no {part!r} at {revision}")
    _check_space(path, files)
    size = _human(sum(files.values()))
    print(f"easel pull: {repo_id} @ {commit[:10]}: {_plural(len(files), 'file')}, {size} -> {path}",
          file=sys.stderr, flush=True)
    snapshot_download(repo_id, revision=commit, local_dir=path,
                      allow_patterns=[part, f"{part}/*"] if part else None)
    absent = [name for name in files if not (path / name).is_file()]
    if absent:
        raise PullError(f"{len(absent)} file(s) did not arrive (e.g. {absent[0]}); run easel pull again")
    record = {"repo_id": repo_id, "revision": revision, "commit": commit, "files": files}
    want.record.parent.mkdir(parents=True, exist_ok=True)
    want.record.write_text(json.dumps(record, indent=1))
    return record


def _check_space(path: Path, files: dict[str, int]) -> None:
    """Fail before downloading, not half-way, when the disk cannot hold what is still missing."""
    needed = sum(size for name, size in files.items() if not _has_size(path / name, size))
    free = shutil.disk_usage(_existing_parent(path)).free
    if needed > free:
        raise PullError(f"needs {_human(needed)} but only {_human(free)} is free under {_existing_parent(path)}")


def _has_size(file: Path, size: int) -> bool:
    return file.is_file() and file.stat().st_size == size


def _existing_parent(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


def explain(exc: BaseException, path: Path) -> str:
    """A one-line reason for a failed pull, by what kind of failure it was."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = _endpoint()
    if isinstance(exc, GatedRepoError):
        return f"gated repo on {endpoint}: accept its terms on the hub and set HF_TOKEN"
    if isinstance(exc, RepositoryNotFoundError):
        return f"repository not found on {endpoint} (if it is private or gated, set HF_TOKEN)"
    if isinstance(exc, RevisionNotFoundError):
        return f"revision not found on {endpoint}"
    if isinstance(exc, OfflineModeIsEnabled) or _offline_cause(exc):
        return "HF_HUB_OFFLINE is set, so nothing can be downloaded; unset it to pull"
    if isinstance(exc, (*_network_errors(), LocalEntryNotFoundError)):
        reason = _first_line(exc.__cause__ or exc)
        return f"cannot reach the hub at {endpoint} ({reason}); check the network or HF_ENDPOINT"
    if isinstance(exc, HfHubHTTPError):
        return f"the hub at {endpoint} answered: {_first_line(exc)}"
    if isinstance(exc, OSError):
        return _disk_reason(exc, path)
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _disk_reason(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"disk full while writing under {path}"
    where = exc.filename or path
    return f"cannot write {where}: {exc.strerror or _first_line(exc)}"


def _offline_cause(exc: BaseException) -> bool:
    from huggingface_hub.errors import OfflineModeIsEnabled

    return isinstance(exc.__cause__, OfflineModeIsEnabled)


def _network_errors() -> tuple[type[BaseException], ...]:
    """The transport errors of whichever HTTP client this huggingface_hub uses (httpx2 in 2.x, httpx in 1.x)."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module in ("httpx2", "httpx"):
        try:
            errors.append(__import__(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def print_summary(outcomes: list[Outcome], out: TextIO = sys.stdout) -> None:
    """One line per id or path: what happened, how big, where it is."""
    if not outcomes:
        print("easel pull: nothing to do: the engines config names no weights (or pass HUB_ID ...)", file=out)
        return
    width = max(len(o.want.ref) for o in outcomes)
    for o in outcomes:
        size = _human(o.size) if o.state in ("pulled", "up to date", "present") else ""
        where = str(o.want.path) if o.state != "failed" else o.detail
        print(f"  {o.want.ref:<{width}}  {o.state:<10}  {size:>9}  {where}", file=out)
    counts = {state: sum(o.state == state for o in outcomes) for state in ("pulled", "up to date", "present")}
    bad = sum(o.state in ("failed", "missing") for o in outcomes)
    print(f"easel pull: {counts['pulled']} pulled, {counts['up to date']} already complete, "
          f"{counts['present']} local present, {bad} failed or missing", file=out, flush=True)


def run_pull(config: EnginesConfig, ids: list[str], revision: str | None = None, update: bool = False) -> int:
    """The `easel pull` command: 0 when everything is on disk, 1 when anything failed or is missing."""
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        print("easel pull: needs huggingface_hub; pip install 'easel[diffusion]'", file=sys.stderr)
        return 1
    models_dir = config.models_dir or Path("models")
    if revision and not ids:
        # one revision cannot sensibly apply to every table's model
        print("easel pull: --revision applies to HUB_IDs named on the command line", file=sys.stderr)
        return 2
    try:
        wants = wants_from_ids(ids, models_dir) if ids else wants_from_config(config)
    except PullError as exc:
        print(f"easel pull: {exc}", file=sys.stderr)
        return 2
    try:
        outcomes = pull_all(wants, revision, update)
    except KeyboardInterrupt:
        print("\neasel pull: interrupted; run it again to finish", file=sys.stderr)
        return 130
    print_summary(outcomes)
    return 1 if any(o.state in ("failed", "missing") for o in outcomes) else 0
