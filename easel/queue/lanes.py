"""Lanes: each engine task is a lane with its own concurrency, so slow work cannot block fast work.

A task's lane is the engine task its catalog plan runs (stored on the row at create time); models whose
plan runs no single engine task share the "general" lane. Lanes whose backend runs on the CPU share
one core budget, and each may hold at most all but one of its cores: two x4plus upscales on a 2-core
machine leave a core for the stylization queued behind them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from easel.catalog.base import CatalogModel, ValidRequest
from easel.engines.base import EngineTask
from easel.engines.manager import Engines

GENERAL_LANE = "general"
LANES = (GENERAL_LANE, *(task.value for task in EngineTask))


@dataclass(frozen=True)
class LaneSpec:
    name: str
    # on the CPU: counted against the shared core budget
    cpu: bool
    # most tasks of this lane one process runs at once
    concurrency: int


def lane_for(task: EngineTask | None) -> str:
    return task.value if task is not None else GENERAL_LANE


def lane_spec(name: str, engines: Engines, core_budget: int) -> LaneSpec:
    cpu_share = max(1, core_budget - 1)  # a core is always left for the other lanes
    if name == GENERAL_LANE:
        return LaneSpec(name, cpu=True, concurrency=cpu_share)
    task = EngineTask(name)
    table = engines.config.table(task)
    device = table.device if table is not None else "cpu"
    cpu = device == "cpu"
    configured = table.concurrency if table is not None else None
    if configured is not None:
        return LaneSpec(name, cpu=cpu, concurrency=configured)
    # a GPU backend batches the requests queued together, so it takes as many as its batch holds
    return LaneSpec(name, cpu=cpu, concurrency=cpu_share if cpu else (table.max_batch if table else 1))


def served_lanes(engines: Engines, named: Iterable[str] | None = None) -> list[str]:
    """The lanes a worker serves: the ones named (`easel worker --lanes`), else the general lane and
    every engine task its engines.toml can run, so a CPU-only worker never takes GPU-lane work."""
    if named:
        lanes = [name.strip() for name in named if name.strip()]
        unknown = [name for name in lanes if name not in LANES]
        if unknown:
            raise ValueError(f"unknown lane(s) {', '.join(unknown)}; lanes are: {', '.join(LANES)}")
        return lanes
    return [GENERAL_LANE, *(task.value for task in EngineTask if engines.problem(task) is None)]


def lane_of(model: CatalogModel, request: ValidRequest, engines: Engines) -> str:
    """The lane a new task is stored in: its catalog plan's engine task."""
    return lane_for(model.engine_task(request, engines))
