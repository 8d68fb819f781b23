"""What every public model in the catalog provides, and what a running task can ask of the server."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
from PIL import Image
from pydantic import BaseModel, ValidationError

from easel.config import Settings
from easel.engines.base import EngineRequest, EngineTask
from easel.engines.manager import Engines
from easel.errors import EaselError, InvalidParameter
from easel.inputs.decode import ImageLimits
from easel.tasks.store import Outcome


@dataclass(frozen=True)
class ValidRequest:
    """A create request that passed the model's contract, in the form stored on the task."""

    function: str
    request: dict[str, Any]
    # (field name, URL) of every image input, checked at creation (syntax, upload ownership)
    image_urls: list[tuple[str, str]] = field(default_factory=list)


class RunContext(Protocol):
    """What a model's handler may use while a task runs (implemented by the worker)."""

    settings: Settings
    task_id: str
    # the engines this process has (engines.toml), for plans that depend on what is configured
    engines: Engines

    def load_image(self, url: str, limits: ImageLimits, what: str) -> Image.Image: ...

    def save_image(self, image: Image.Image | np.ndarray, index: int, fmt: str = "PNG") -> dict[str, Any]:
        """Store one result image; returns the result entry ({"blob": key}) to put in the outcome."""
        ...

    def note(self, text: str) -> None:
        """Tell the user something about how the request was served (output.notes)."""
        ...

    def progress(self, done: int, total: int) -> None:
        """Report progress; raises TaskCanceled when the task was cancelled meanwhile."""
        ...

    def run_engine(self, task: EngineTask, request: EngineRequest) -> list[Image.Image]:
        """Run an engine task on the backend this deployment configures for it."""
        ...


class CatalogModel(ABC):
    """One public model name: its wire contract (from its seed document) and its plan of engine calls."""

    name: str
    # Service paths ("{task}/{function}" under /services/aigc/) that may carry this model.
    routes: frozenset[str]
    summary: str = ""
    # Answered in the create request itself (multimodal-generation), not through a task.
    synchronous: bool = False
    # Limits a synchronous call checks its images against before it is queued.
    input_limits: ImageLimits | None = None
    # The contract models `validate` parses `input` and `parameters` with; the OpenAPI document and the
    # playground's forms are generated from them.
    input_model: ClassVar[type[BaseModel] | None] = None
    parameters_model: ClassVar[type[BaseModel] | None] = None

    @abstractmethod
    def validate(self, body: dict[str, Any]) -> ValidRequest:
        """Check a create request against the contract; raise EaselError with a clear message."""

    def capability_gap(self, request: ValidRequest, engines: Engines) -> EaselError | None:
        """Why the configured engines cannot honestly serve this request, or None when they can."""
        return None

    def engine_task(self, request: ValidRequest, engines: Engines) -> EngineTask | None:
        """The engine task this request's plan runs, which names its queue lane; None: the general lane."""
        return None

    @abstractmethod
    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        """Do the work. Engines raise EaselError for bad inputs; anything else is an internal error."""

    def describe(self, engines: Engines) -> dict[str, Any]:
        """The model's entry in GET /api/v1/models, from the same answers as capability_gap."""
        from easel.catalog.contract import contract_of  # it imports the catalog modules, which import this one

        entry: dict[str, Any] = {"model": self.name, "summary": self.summary, "routes": sorted(self.routes)}
        contract = contract_of(self)
        if contract is not None:  # JSON Schema of the request, generated from the pydantic contract
            entry["contract"] = contract
        return entry


def parse_contract(model_cls: type[BaseModel], data: Any, where: str) -> Any:
    """Validate with pydantic and turn its errors into one InvalidParameter message users can act on."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidParameter(f"{where} must be a JSON object.")
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        raise InvalidParameter(format_validation_error(exc, where)) from None


def format_validation_error(exc: ValidationError, where: str) -> str:
    problems = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(part) for part in (where, *err["loc"]))
        message = err["msg"]
        if err["type"] == "missing":
            problems.append(f"{loc} is required")
        else:
            problems.append(f"{loc}: {message} (got {err.get('input')!r:.60})")
    return "; ".join(problems) + "."
