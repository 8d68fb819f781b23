"""Face identity distance on real photos, and the retry policy of the generative portrait repaint."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import ClassVar

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask, NullContext
from easel.engines.config import BackendConfig
from easel.engines.portrait.engine import render
from easel.engines.portrait.generative import STRENGTHS, restyle_keeping_face
from easel.engines.portrait.identity import IDENTITY_BOUND, face_shape, identity_distance
from easel.engines.portrait.prompts import KEEP_FACE, NEGATIVE_PROMPT, PROMPTS
from easel.engines.portrait.styles import STYLES


def grace_hopper() -> np.ndarray:
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


def jpeg(rgb: np.ndarray, quality: int = 40) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def rotated(rgb: np.ndarray, degrees: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)


def stretched(rgb: np.ndarray, factor: float) -> np.ndarray:
    """The same photo with the face made `factor` times wider (another face shape), cut back to its width."""
    w = rgb.shape[1]
    wide = cv2.resize(rgb, (round(w * factor), rgb.shape[0]), interpolation=cv2.INTER_CUBIC)
    left = (wide.shape[1] - w) // 2
    return np.ascontiguousarray(wide[:, left:left + w])


def shape_of(rgb: np.ndarray) -> np.ndarray:
    shape = face_shape(rgb)
    assert shape is not None, "the face mesh finds the face"
    return shape


@pytest.fixture(scope="module")
def people() -> dict[str, np.ndarray]:
    return {"astronaut": data.astronaut(), "grace_hopper": grace_hopper()}


def test_distance_is_procrustes_disparity_and_ignores_pose_and_size() -> None:
    from scipy.spatial import procrustes

    points = shape_of(data.astronaut())
    other = shape_of(grace_hopper())
    _, _, disparity = procrustes(points, other)
    assert identity_distance(points, other) == pytest.approx(np.sqrt(disparity), abs=1e-9)
    turn = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    assert identity_distance(points, points @ turn.T * 2.5 + 40.0) < 1e-6, "a similarity transform is free"


@pytest.mark.parametrize("person", ["astronaut", "grace_hopper"])
def test_the_same_person_with_mild_changes_is_within_the_bound(person: str, people: dict[str, np.ndarray]) -> None:
    rgb = people[person]
    base = shape_of(rgb)
    h, w = rgb.shape[:2]
    variants = {
        "jpeg": jpeg(rgb),
        "blur": cv2.GaussianBlur(rgb, (0, 0), 1.5),
        "brighter": np.clip(rgb.astype(np.int16) + 30, 0, 255).astype(np.uint8),
        "rotated": rotated(rgb, 8),
        "larger": cv2.resize(rgb, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC),
        "CPU 二次元 style": render(rgb, 2, short_side=512),
        "CPU 喜迎新年 style": render(rgb, 9, short_side=512),
    }
    for name, image in variants.items():
        distance = identity_distance(base, shape_of(image))
        assert distance <= IDENTITY_BOUND, f"{person} {name}: {distance:.4f}"


def test_different_people_are_beyond_the_bound(people: dict[str, np.ndarray]) -> None:
    astronaut, grace = people["astronaut"], people["grace_hopper"]
    pairs = {
        "astronaut vs grace hopper": (astronaut, grace),
        "jpeg astronaut vs rotated grace hopper": (jpeg(astronaut), rotated(grace, 6)),
        "CPU-styled astronaut vs grace hopper": (render(astronaut, 6, short_side=512), grace),
        "grace hopper vs a 20 % wider face": (grace, stretched(grace, 1.2)),
        "astronaut vs a 20 % wider face": (astronaut, stretched(astronaut, 1.2)),
    }
    for name, (first, second) in pairs.items():
        distance = identity_distance(shape_of(first), shape_of(second))
        assert distance > IDENTITY_BOUND, f"{name}: {distance:.4f}"


def test_pictures_without_a_face_have_no_shape() -> None:
    assert face_shape(data.coffee()) is None
    noise = np.random.default_rng(3).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    assert face_shape(noise) is None


def test_every_style_has_a_recipe_that_keeps_the_face() -> None:
    assert [p.index for p in PROMPTS] == [s.index for s in STYLES] == list(range(10))
    assert [p.name for p in PROMPTS] == [s.name_zh for s in STYLES]
    assert len({p.restyle for p in PROMPTS}) == 10
    assert all(p.prompt.endswith(KEEP_FACE) for p in PROMPTS)
    assert "armour" in PROMPTS[6].prompt and "battlefield" in PROMPTS[6].prompt
    assert "red" in PROMPTS[9].prompt and "New Year" in PROMPTS[9].prompt
    assert "different person" in NEGATIVE_PROMPT


class Drifting(Backend):
    """A test double of an instruction-edit backend: how far it moves the face depends on the strength.
    Above `faceless_above` it paints no face at all, above `drift_above` a wider face (another face shape),
    and below that the input, slightly blurred and recoloured (the same person)."""

    name = "drifting"
    tasks: ClassVar[frozenset[EngineTask]] = frozenset({EngineTask.PORTRAIT_STYLE})

    def __init__(self, faceless_above: float, drift_above: float) -> None:
        super().__init__(BackendConfig(backend=self.name))
        self.faceless_above, self.drift_above = faceless_above, drift_above
        self.calls: list[EngineRequest] = []

    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        self.calls.append(request)
        rgb = np.asarray(request.image.convert("RGB"))
        strength = request.strength if request.strength is not None else 0.5
        if strength > self.faceless_above:
            out = np.random.default_rng(request.seed).integers(0, 256, rgb.shape, dtype=np.uint8)
        elif strength > self.drift_above:
            out = stretched(rgb, 1.25)
        else:
            out = cv2.GaussianBlur(rgb, (0, 0), 1.2)
            out = np.clip(out.astype(np.int16) + np.array([20, -10, 0]), 0, 255).astype(np.uint8)
        return [Image.fromarray(out).resize(request.out_size, Image.Resampling.LANCZOS)]


def run_with(backend: Backend) -> Callable[[EngineRequest], Image.Image]:
    def run(request: EngineRequest) -> Image.Image:
        return backend.run(EngineTask.PORTRAIT_STYLE, request, NullContext())[0]

    return run


def portrait_request() -> EngineRequest:
    return EngineRequest(image=Image.fromarray(data.astronaut()), prompt=PROMPTS[6].prompt,
                         negative_prompt=NEGATIVE_PROMPT, size=(768, 768), seed=10)


def test_retries_at_lower_strength_until_the_face_is_kept() -> None:
    backend = Drifting(faceless_above=0.4, drift_above=0.25)
    restyle = restyle_keeping_face(portrait_request(), run_with(backend))
    assert [a.strength for a in restyle.attempts] == list(STRENGTHS) == [c.strength for c in backend.calls]
    assert [a.seed for a in restyle.attempts] == [10, 11, 12], "each retry draws the next seed"
    first, second, third = restyle.attempts
    assert first.distance is None, "noise has no face"
    assert second.distance is not None and second.distance > IDENTITY_BOUND, "a wider face is someone else"
    assert third.distance is not None and third.distance <= IDENTITY_BOUND
    assert restyle.measured and restyle.kept is third and third.image.size == (768, 768)
    assert "no face found" in first.describe(restyle.bound) and "beyond" in second.describe(restyle.bound)
    assert "within the bound 0.048" in third.describe(restyle.bound)


def test_a_first_attempt_that_keeps_the_face_is_the_only_one() -> None:
    backend = Drifting(faceless_above=1.0, drift_above=1.0)
    restyle = restyle_keeping_face(portrait_request(), run_with(backend))
    assert len(backend.calls) == 1 and restyle.kept is restyle.attempts[0]


def test_when_no_attempt_keeps_the_face_the_closest_one_is_known() -> None:
    restyle = restyle_keeping_face(portrait_request(), run_with(Drifting(faceless_above=0.4, drift_above=0.0)))
    assert len(restyle.attempts) == 3 and restyle.kept is None
    assert restyle.closest is restyle.attempts[1] or restyle.closest is restyle.attempts[2]
    assert restyle.closest.distance == min(a.distance for a in restyle.attempts if a.distance is not None)
    faceless = restyle_keeping_face(portrait_request(), run_with(Drifting(faceless_above=0.0, drift_above=0.0)))
    assert faceless.kept is None and faceless.closest is None and len(faceless.attempts) == 3


def test_an_input_whose_face_cannot_be_meshed_runs_once_unmeasured() -> None:
    backend = Drifting(faceless_above=1.0, drift_above=1.0)
    request = portrait_request()
    request.image = Image.fromarray(data.coffee())
    restyle = restyle_keeping_face(request, run_with(backend))
    assert not restyle.measured and len(restyle.attempts) == 1 and restyle.attempts[0].distance is None


class EditContext:
    """What the catalog's generative plan uses of a task's context: notes and one engine."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)

    def run_engine(self, task: EngineTask, request: EngineRequest) -> list[Image.Image]:
        return self.backend.run(task, request, NullContext())


def test_the_catalog_returns_the_kept_attempt_or_the_closest_with_a_plain_note() -> None:
    from easel.catalog.style_repaint import _generative

    astronaut = data.astronaut()
    kept = EditContext(Drifting(faceless_above=0.4, drift_above=0.25))
    image = _generative(astronaut, 6, kept)
    assert image.size == (1536, 1536) and len(kept.backend.calls) == 3
    assert kept.backend.calls[0].prompt == PROMPTS[6].prompt and kept.backend.calls[0].size == (1536, 1536)
    assert "Returned attempt 3: its face is within the identity bound." in kept.notes
    drifted = EditContext(Drifting(faceless_above=0.4, drift_above=0.0))
    _generative(astronaut, 6, drifted)
    verdict = drifted.notes[-1]
    assert verdict.startswith("No attempt kept the face within the identity bound 0.048; returned attempt ")
    assert "the face may not look like the person in the photo" in verdict
    assert not any("within the identity bound." in n for n in drifted.notes)
