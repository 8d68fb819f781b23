"""The one place that decides whether the configured engines can honestly serve a request.

Each catalog model says which engine tasks a request needs (its plan); whether they can run comes
from the engines this process has (engines.toml + defaults, see easel/engines/manager.py). CPU
engines can remove things, remove text, extend borders, restyle a whole image and upscale; new
content from a prompt needs a generative backend. Requests that cannot be served fail with
EngineUnavailable and a message naming what to configure; the model listing (GET /api/v1/models,
`easel models`) is built from the same answers.
"""

from __future__ import annotations

import re

from easel.engines.base import EngineTask
from easel.engines.manager import Engines
from easel.errors import EngineUnavailable

GENERATIVE_MISSING = (
    "it needs a generative (diffusion) engine to create new content from the prompt, and none is "
    "configured on this Easel server; the CPU engines only remove, extend, restyle and upscale"
)

# Words that ask for something to be taken away, and words that ask for something new instead.
_REMOVAL = re.compile(
    r"删除|删掉|去掉|去除|移除|擦除|抹去|消除|清除|除去|去水印|\b(remove|erase|delete|get rid of|clean up|wipe)\b",
    re.IGNORECASE,
)
_NEW_CONTENT = re.compile(
    r"替换|换成|换为|改成|改为|变成|添加|加上|增加|生成|画一|\b(replace|add|insert|turn .* into|change .* to|put)\b",
    re.IGNORECASE,
)


def is_removal_prompt(prompt: str) -> bool:
    """Empty prompts and prompts that only ask to remove something (seed 002: "提示词可留空")."""
    text = prompt.strip()
    if not text:
        return True
    return bool(_REMOVAL.search(text)) and not _NEW_CONTENT.search(text)


def needs_generative(what: str) -> EngineUnavailable:
    return EngineUnavailable(f"{what}: {GENERATIVE_MISSING}.")


def engine_gap(engines: Engines, task: EngineTask, what: str) -> EngineUnavailable | None:
    """Why `what` cannot be served (it needs `task`), or None when the configured engines can do it."""
    problem = engines.problem(task)
    return EngineUnavailable(f"{what} needs the engine task {task.value}, which is not available here: {problem}.") \
        if problem else None


def engine_status(engines: Engines, task: EngineTask) -> str:
    """The listing's line for a function served by `task`."""
    return engines.describe(task)
