"""What the reference_to_image backends share: the reference images of a request and the size of a new picture.

The request image is the first reference (for control_cartoon_feature: the character to keep); the images in
params["references"] follow it. The result is a new picture, not an edit of the input, so it is generated at the
character's aspect in `max_area` (or at request.size's aspect) and comes back at that work size unless
request.size names another one.
"""

from __future__ import annotations

from PIL import Image

from easel.engines.base import EngineContext, EngineRequest, EngineTask
from easel.engines.diffusion.common import DiffusionBackend, Job, fit_area
from easel.errors import InvalidParameter


def reference_images(request: EngineRequest) -> list[Image.Image]:
    """The request image, then params["references"], all RGB."""
    extra = request.params.get("references") or []
    if not all(isinstance(image, Image.Image) for image in extra):
        raise InvalidParameter("params['references'] must be a list of images.")
    return [request.image.convert("RGB"), *(image.convert("RGB") for image in extra)]


def reference_weight(request: EngineRequest) -> float | None:
    weight = request.params.get("reference_weight")
    if weight is None:
        return None
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.0 <= weight <= 1.0:
        raise InvalidParameter(f"params['reference_weight'] must be a number from 0 to 1, got {weight!r}.")
    return float(weight)


class ReferenceGeneration(DiffusionBackend):
    """Work and output size for REFERENCE_TO_IMAGE; the other tasks keep DiffusionBackend's."""

    def _job(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> Job:
        job = super()._job(task, request, ctx)
        if task == EngineTask.REFERENCE_TO_IMAGE and request.size is not None:
            job.work = fit_area(request.size, self.config.max_area, self._multiple(), self.min_side)
        return job

    def _finish(self, job: Job) -> list[Image.Image]:
        if job.task != EngineTask.REFERENCE_TO_IMAGE:
            return super()._finish(job)
        out_size = job.request.size or job.work
        results = []
        for image in job.images:
            image = image.convert("RGB")
            if image.size != out_size:
                image = image.resize(out_size, Image.Resampling.LANCZOS)
            results.append(image)
        return results
