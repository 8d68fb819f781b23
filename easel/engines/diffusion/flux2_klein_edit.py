"""FLUX.2 [klein] instruction edit: `Flux2KleinPipeline` with the input as its reference image (`image=`).

Defaults: 4 steps when the folder says `is_distilled` (the released 4B/9B klein), else 50; guidance 4.0, which
the distilled model ignores. The pipeline has no strength: on the base model `strength` sets the guidance
(0.5 keeps it, 0 turns the prompt's pull off, 1 doubles it; see `DiffusionBackend.edit_guidance`); on a
distilled model guidance does nothing, so strength is ignored and the result says so in a note.

Not batched across requests: a list of images is read as several references for one prompt, not one image
per prompt. A request's `n` images share the reference and run as one call.
"""

from __future__ import annotations

from typing import Any

from easel.engines.base import EngineContext, EngineRequest
from easel.engines.diffusion.common import EDIT_TASKS, DiffusionBackend, Entry, Job

FLUX2_COMPONENTS = ("scheduler", "vae", "text_encoder", "tokenizer", "transformer")
FLUX2_FOLDERS = frozenset({"Flux2KleinPipeline", "Flux2KleinInpaintPipeline"})


def text_encoder_layers(pipe: Any) -> tuple[int, ...]:
    """The encoder layers whose states the transformer reads: as many as its joint width holds, evenly spaced
    (9, 18, 27 of the 36 layers of the released encoders)."""
    text = pipe.text_encoder.config
    count = max(1, pipe.transformer.config.joint_attention_dim // text.hidden_size)
    return tuple(round(text.num_hidden_layers * (k + 1) / (count + 1)) for k in range(count))


class Flux2KleinBase(DiffusionBackend):
    """What the klein edit and inpaint backends share."""

    accepts = FLUX2_FOLDERS
    components = FLUX2_COMPONENTS
    default_guidance = 4.0
    min_side = 64  # the pipeline refuses smaller reference images
    # measured: the hooks subtract a list from a tensor where a double-stream block meets a single-stream one
    no_cache_reason = "diffusers 0.42's first-block cache fails on FLUX.2's blocks (TypeError in its hook)"

    def _distilled(self) -> bool:
        return bool(getattr(self.pipe.config, "is_distilled", False))

    def _default_steps(self) -> int:
        return 4 if self._distilled() else 50

    def _klein_kwargs(self, job: Job) -> dict[str, Any]:
        layers = self.config.extra.get("text_encoder_out_layers") or text_encoder_layers(self.pipe)
        return {"guidance_scale": job.guidance, "text_encoder_out_layers": tuple(layers)}


class Flux2KleinEdit(Flux2KleinBase):
    name = "flux2-klein"
    tasks = EDIT_TASKS
    pipeline_class = "Flux2KleinPipeline"
    default_steps = 4

    def _guidance(self, request: EngineRequest, ctx: EngineContext) -> float:
        if self._distilled() and request.strength is not None:
            ctx.note(f"{self.name}: this distilled model has no strength or guidance; strength was ignored.")
            return self.config.guidance if self.config.guidance is not None else self.default_guidance
        return super()._guidance(request, ctx)

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        return {"image": entries[0].image, **self._klein_kwargs(job)}
