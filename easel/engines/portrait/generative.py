"""A generative repaint that must keep the person: attempts at falling strength until the face is kept.

`restyle_keeping_face(request, run)` runs the edit, measures the face identity distance between the input
and the output (identity.py), and when the output is beyond IDENTITY_BOUND or shows no face, runs it again
with the next, lower strength of STRENGTHS (and the next seed, so that models that ignore strength, such as
a distilled FLUX.2 klein, still try a different image). It stops at the first attempt within the bound.
What to do when none is within the bound is the caller's decision; `Restyle` says what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from easel.engines.base import EngineRequest
from easel.engines.portrait.identity import IDENTITY_BOUND, face_shape, identity_distance

# 0.5 is the instruction-edit backends' own setting (strength maps to guidance, 0.5 keeping it); each retry
# asks the prompt to pull less, which leaves more of the input, face included
STRENGTHS = (0.5, 0.35, 0.2)


@dataclass(frozen=True)
class Attempt:
    number: int  # 1-based
    strength: float
    seed: int
    image: Image.Image
    distance: float | None  # None: no face in the output (or none measurable in the input)

    def describe(self, bound: float) -> str:
        head = f"attempt {self.number} (strength {self.strength:g}, seed {self.seed})"
        if self.distance is None:
            return f"{head}: no face found in the output"
        verdict = "within" if self.distance <= bound else "beyond"
        return f"{head}: face identity distance {self.distance:.3f}, {verdict} the bound {bound:g}"


@dataclass(frozen=True)
class Restyle:
    attempts: tuple[Attempt, ...]
    bound: float
    measured: bool  # False when the input's face could not be meshed, so nothing was compared

    @property
    def kept(self) -> Attempt | None:
        """The attempt within the bound (only the last attempt can be), or None."""
        last = self.attempts[-1]
        return last if last.distance is not None and last.distance <= self.bound else None

    @property
    def closest(self) -> Attempt | None:
        """Of the attempts whose output has a face, the nearest to the input; None when none has one."""
        with_face = [a for a in self.attempts if a.distance is not None]
        return min(with_face, key=lambda a: a.distance or 0.0) if with_face else None


def restyle_keeping_face(request: EngineRequest, run: Callable[[EngineRequest], Image.Image], *,
                         strengths: tuple[float, ...] = STRENGTHS, bound: float = IDENTITY_BOUND) -> Restyle:
    """Run `request` (its image: the portrait; n = 1) through `run` at each strength in turn until the output's
    face is within `bound` of the input's. With no meshable face in the input only one attempt runs."""
    reference = face_shape(np.asarray(request.image.convert("RGB")))
    attempts: list[Attempt] = []
    for number, strength in enumerate(strengths if reference is not None else strengths[:1], start=1):
        seed = request.seed + number - 1
        image = run(replace(request, strength=strength, seed=seed, n=1)).convert("RGB")
        distance = None
        if reference is not None:
            shape = face_shape(np.asarray(image))
            distance = None if shape is None else identity_distance(reference, shape)
        attempts.append(Attempt(number, strength, seed, image, distance))
        if distance is not None and distance <= bound:
            break
    return Restyle(tuple(attempts), bound, measured=reference is not None)
