"""The engines one process has: which backend serves each engine task, loaded lazily, one copy each.

Resolution, per engine task: its own engines.toml table; else a configured, healthy backend of another
table that also serves it (a fill backend erases and outpaints, an instruction-edit backend
stylizes), so one model in memory serves several tasks; else the CPU default. Capability answers come
from `check()` (no loading), so an API node with no workers answers what its workers will do.

Loading is thread-safe and happens once per backend; with a memory budget, the least recently used
idle backends are unloaded to make room.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image

from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask
from easel.engines.config import BackendConfig, EnginesConfig
from easel.engines.registry import BACKENDS, DEFAULT_BACKENDS, backend_class
from easel.errors import EngineUnavailable
from easel.observability.metrics import ENGINE_LOAD

log = logging.getLogger("easel.engines")


@dataclass
class _Slot:
    """One backend instance and its bookkeeping."""

    backend: Backend
    source: str  # "engines.toml [fill]", "default", …
    problem: str | None
    loaded: bool = False
    in_use: int = 0
    last_used: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Engines:
    def __init__(self, config: EnginesConfig) -> None:
        self.config = config
        self._slots: dict[EngineTask, _Slot | None] = {}
        self._problems: dict[EngineTask, str] = {}
        self._budget_lock = threading.Lock()
        self._resolve_all()

    # --- resolution (static, no loading) ------------------------------------------------------
    def _resolve_all(self) -> None:
        explicit: dict[EngineTask, _Slot] = {}
        for task, table in self.config.tables.items():
            slot = self._explicit_slot(task, table)
            if slot is not None:
                explicit[task] = slot
        for task in EngineTask:
            self._slots[task] = explicit.get(task) or self._derived_slot(task, explicit) or self._default_slot(task)
        for task, problem in self._problems.items():
            log.error("engine task %s is unavailable: %s", task.value, problem)

    def _explicit_slot(self, task: EngineTask, table: BackendConfig) -> _Slot | None:
        where = self.config.origins.get(task, f"[{task.value}]")
        if table.backend not in BACKENDS:
            self._problems[task] = f"{where}: unknown backend {table.backend!r}; known: {', '.join(sorted(BACKENDS))}"
            return None
        cls = backend_class(table.backend)
        if task not in cls.tasks:
            serving = ", ".join(sorted(t.value for t in cls.tasks))
            self._problems[task] = f"{where}: backend {table.backend} does not do {task.value} (it does {serving})"
            return None
        backend = cls(table, self.config.models_dir)
        problem = backend.check()
        if problem:
            problem = self._problems[task] = f"{where}: {problem}"
        return _Slot(backend, where, problem)

    def _derived_slot(self, task: EngineTask, explicit: dict[EngineTask, _Slot]) -> _Slot | None:
        if task in self.config.tables:
            return None  # its own table is broken: say so, do not fall back silently
        for slot in explicit.values():
            if task in slot.backend.tasks and slot.problem is None:
                return slot
        return None

    def _default_slot(self, task: EngineTask) -> _Slot | None:
        if task in self.config.tables or task not in DEFAULT_BACKENDS:
            return None
        backend = backend_class(DEFAULT_BACKENDS[task])(BackendConfig(backend=DEFAULT_BACKENDS[task]))
        return _Slot(backend, "default", backend.check())

    # --- answers for capability checks and the listing -----------------------------------------
    def backend(self, task: EngineTask) -> Backend | None:
        """The backend that would serve `task`, healthy or not; None when nothing is configured."""
        slot = self._slots.get(task)
        return slot.backend if slot else None

    def problem(self, task: EngineTask) -> str | None:
        """Why `task` cannot run here (None when it can)."""
        slot = self._slots.get(task)
        if slot is None:
            return self._problems.get(task) or _not_configured(task)
        return slot.problem

    def generative(self, task: EngineTask) -> bool:
        slot = self._slots.get(task)
        return bool(slot and slot.problem is None and slot.backend.generative)

    def describe(self, task: EngineTask) -> str:
        problem = self.problem(task)
        if problem:
            return f"not available: {problem}"
        slot = self._slots[task]
        assert slot is not None
        return f"available: {slot.backend.describe()}"

    def listing(self) -> dict[str, str]:
        return {task.value: self.describe(task) for task in EngineTask}

    # --- running ------------------------------------------------------------------------------
    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        with self._acquired(task) as backend:
            refusal = backend.refuses(task, request)
            if refusal:
                raise EngineUnavailable(refusal)
            try:
                images = backend.run(task, request, ctx)
            except RuntimeError as exc:
                if "out of memory" not in str(exc).lower():
                    raise
                raise EngineUnavailable(
                    f"{backend.name} ran out of device memory on this request; lower max_area, enable offload, or "
                    "give it a device with more memory.") from None
        if len(images) != request.n:
            raise RuntimeError(f"{backend.name} returned {len(images)} images for n={request.n}")
        return images

    @contextmanager
    def _acquired(self, task: EngineTask) -> Iterator[Backend]:
        slot = self._slots.get(task)
        problem = self.problem(task)
        if slot is None or problem:
            raise EngineUnavailable(f"The engine task {task.value} is not available: {problem}.")
        self._ensure_loaded(slot)
        with self._budget_lock:
            slot.in_use += 1
            slot.last_used = time.monotonic()
        try:
            yield slot.backend
        finally:
            with self._budget_lock:
                slot.in_use -= 1

    def _ensure_loaded(self, slot: _Slot) -> None:
        if slot.loaded:
            return
        with slot.lock:
            if slot.loaded:
                return
            started = time.monotonic()
            try:
                slot.backend.load()
            except EngineUnavailable as exc:
                # weights that looked right but do not load: later requests are refused at create time
                slot.problem = exc.message.rstrip(".")
                log.error("%s (%s) cannot be loaded: %s", slot.backend.name, slot.source, exc.message)
                raise
            slot.loaded = True
            ENGINE_LOAD.labels(slot.backend.name).observe(time.monotonic() - started)
            log.info("loaded %s (%s) in %.1f s", slot.backend.name, slot.source, time.monotonic() - started)
        self._evict_over_budget(keep=slot)

    def _evict_over_budget(self, keep: _Slot) -> None:
        if not self.config.memory_budget_gb:
            return
        budget = self.config.memory_budget_gb * 1024**3
        with self._budget_lock:
            loaded = {id(s): s for s in self._slots.values() if s is not None and s.loaded}
            total = sum(s.backend.memory_bytes() for s in loaded.values())
            for slot in sorted(loaded.values(), key=lambda s: s.last_used):
                if total <= budget:
                    break
                if slot is keep or slot.in_use:
                    continue
                with slot.lock:
                    total -= slot.backend.memory_bytes()
                    slot.backend.unload()
                    slot.loaded = False
                log.info("unloaded %s to stay within the %.1f GB engine memory budget",
                         slot.backend.name, self.config.memory_budget_gb)

    def loaded_backends(self) -> list[str]:
        seen = {id(s): s for s in self._slots.values() if s is not None and s.loaded}
        return sorted(s.backend.name for s in seen.values())


def _not_configured(task: EngineTask) -> str:
    candidates = sorted(name for name in BACKENDS if task in backend_class(name).tasks)
    if not candidates:
        return f"no backend for {task.value} exists in this version of Easel"
    kind = "generative (diffusion) engine" if all(backend_class(c).generative for c in candidates) else "engine"
    return (f"no {kind} is configured for {task.value}; add a [{task.value}] table to engines.toml with backend = "
            + " | ".join(f'"{c}"' for c in candidates) + " and its weights")
