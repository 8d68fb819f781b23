"""The one place that decides whether the configured engines can honestly serve a request.

CPU engines can remove things (inpainting), remove text, extend borders, restyle a whole image and
upscale. They cannot invent new content from a prompt: that needs a generative (diffusion) engine.
Requests that need one fail with EngineUnavailable and a message naming what is missing; the
model listing (GET /api/v1/models, `easel models`) shows the same decisions.
"""

from __future__ import annotations

import re

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
