"""Qwen-Image-Edit-2509/2511 ("Plus") instruction edit: `QwenImageEditPlusPipeline` (INSTRUCT_EDIT, STYLIZE,
PORTRAIT_STYLE, REFERENCE_TO_IMAGE).

Defaults as qwen-image-edit: 40 steps, true-CFG 4.0 with negative " ", strength mapped to the CFG scale. The
work area replaces the pipeline's fixed 1024^2 VAE area and caps its 384^2 vision-prompt area (see
`qwenimage_edit`). Not batched: the pipeline refuses more than one prompt per call, and an image list means
several references for one prompt; a request's `n` images run as one call (`num_images_per_prompt`).

REFERENCE_TO_IMAGE uses the pipeline's multi-image input: the request image (the character to keep) is
"Picture 1", params["references"] are Pictures 2, 3, …, each resized at its own aspect to the work area; the
prompt recipe tells the model to keep Picture 1's character and draw the scene the prompt describes. The new
picture comes at the character's aspect in max_area, or at request.size (see `references`).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from easel.engines.base import EngineRequest, EngineTask
from easel.engines.diffusion.common import EDIT_TASKS, Entry, Job, fit_area
from easel.engines.diffusion.qwenimage_edit import QwenBase
from easel.engines.diffusion.references import ReferenceGeneration, reference_images

# The pipeline numbers its input images "Picture 1: …", "Picture 2: …" in the vision-language prompt.
CHARACTER_RECIPE = (
    "Keep the character from Picture 1 exactly as it is: the same design, face, colours, proportions and drawing "
    "style. Draw a new picture of this character in a new scene: {prompt}")
MORE_REFERENCES = " Use {pictures} as the reference for the rest of the picture (scene, objects, style)."


def reference_prompt(prompt: str, count: int) -> str:
    """The recipe for `count` input images, the first the character."""
    text = CHARACTER_RECIPE.format(prompt=prompt.strip())
    if count > 1:
        text += MORE_REFERENCES.format(pictures=", ".join(f"Picture {i}" for i in range(2, count + 1)))
    return text


class QwenImageEditPlus(ReferenceGeneration, QwenBase):
    name = "qwen-image-edit-plus"
    tasks = EDIT_TASKS | {EngineTask.REFERENCE_TO_IMAGE}
    pipeline_class = "QwenImageEditPlusPipeline"
    accepts = frozenset({"QwenImageEditPlusPipeline"})
    accepts_references = True

    def refuses(self, task: EngineTask, request: EngineRequest) -> str | None:
        if request.params.get("references") and task != EngineTask.REFERENCE_TO_IMAGE:
            return f"{self.name} follows reference images only for reference_to_image, not {task.value}."
        return super().refuses(task, request)

    def _prompts(self, task: EngineTask, request: EngineRequest) -> tuple[str, str]:
        if task == EngineTask.REFERENCE_TO_IMAGE:
            return reference_prompt(request.prompt, len(reference_images(request))), request.negative_prompt
        return super()._prompts(task, request)

    def call_kwargs(self, job: Job, entries: list[Entry]) -> dict[str, Any]:
        if job.task == EngineTask.REFERENCE_TO_IMAGE:
            area = job.work[0] * job.work[1]
            images = [image.resize(fit_area(image.size, area, self._multiple()), Image.Resampling.LANCZOS)
                      for image in reference_images(job.request)]
        else:
            images = [entries[0].image]
        return {"image": images, **self._qwen_kwargs(job, entries)}
