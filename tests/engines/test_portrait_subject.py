"""Issue 13: the portrait styles keep the whole subject (the person and what they hold or stand with) and
still replace the background."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from skimage import data

from easel.engines.portrait import scene
from easel.engines.portrait.engine import render
from easel.engines.portrait.subject import subject_matte

NEW_YEAR = 9


def _redness(rgb: np.ndarray) -> np.ndarray:
    return rgb[:, :, 0].astype(np.float32) - rgb[:, :, 1]


def test_cameramans_tripod_legs_survive_new_year() -> None:
    """The person model gives the tripod ~0; the legs used to turn festive red (issue 13)."""
    photo = data.camera()
    out = render(photo, NEW_YEAR, short_side=512)  # 512² in, 512² out: same pixel grid
    legs = np.zeros(photo.shape, np.uint8)
    for start, end in (((309, 334), (401, 508)), ((293, 340), (293, 460))):  # right leg, centre pole
        cv2.line(legs, start, end, 1, 3)
    legs = legs.astype(bool)
    grass = (slice(262, 512), slice(430, 512))
    # The legs keep their own light and dark stripes (the grade warms them a little) ...
    assert np.corrcoef(photo[legs].astype(np.float32), out[:, :, 1][legs].astype(np.float32))[0, 1] > 0.4
    assert _redness(out)[legs].mean() < 0.6 * _redness(out)[grass].mean()
    # ... while the grass round them is still replaced by the red backdrop.
    assert _redness(out)[grass].mean() > 80


def _composite(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """256² picture: sky over textured grass, a 'person' (known matte) and a camera on a tripod beside them."""
    size = 256
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    sky = (1 - t) * np.float32((0.45, 0.65, 0.95)) + t * np.float32((0.85, 0.9, 0.97))
    grass = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 1.0)[:, :, None]
    field = np.float32((0.2, 0.45, 0.12)) + (grass - 0.5) * 0.35
    rgb = np.where(np.arange(size)[:, None, None] < 110, np.broadcast_to(sky, (size, size, 3)), field)
    person = np.zeros((size, size), np.uint8)
    cv2.ellipse(person, (70, 60), (28, 34), 0, 0, 360, 1, -1)  # head
    cv2.ellipse(person, (70, 220), (62, 130), 0, 0, 360, 1, -1)  # body, cut by the bottom edge
    subject = np.zeros((size, size), np.uint8)
    cv2.rectangle(subject, (125, 95), (175, 120), 1, -1)  # camera body touching the shoulder
    for foot in ((150, 255), (200, 255), (175, 250)):
        cv2.line(subject, (160, 120), foot, 1, 3)  # tripod legs
    person, subject = person.astype(bool), subject.astype(bool) & ~person.astype(bool)
    rgb[person] = (0.55, 0.3, 0.25)
    rgb[subject] = (0.12, 0.12, 0.14)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8), person, subject, ~(person | subject)


def test_composite_object_is_kept_and_its_background_replaced() -> None:
    rgb, person, tripod, background = _composite(np.random.default_rng(0))
    person_matte = cv2.GaussianBlur(person.astype(np.float32), (0, 0), 1.5)
    matte = subject_matte(rgb, person_matte)
    assert (person_matte[tripod] >= 0.5).mean() < 0.1  # the person alone would lose the tripod
    assert (matte[tripod] >= 0.5).mean() > 0.9
    assert (matte[background] < 0.5).mean() > 0.95
    assert np.all(matte >= person_matte - 1e-6)  # the person's own matte, soft edges included, is kept


def test_plain_portrait_background_is_still_replaced_without_a_halo() -> None:
    photo = data.astronaut()
    person = scene._person_mask(photo)
    matte = subject_matte(photo, person)
    solid = (person >= 0.5).astype(np.uint8)
    outside = ~cv2.dilate(solid, np.ones((31, 31), np.uint8)).astype(bool)
    assert (matte[outside] < 0.5).mean() > 0.9
    # Round the hair (rows above the chin) nothing is added: no ring of old background.
    ring = cv2.dilate(solid, np.ones((21, 21), np.uint8)).astype(bool) & ~solid.astype(bool)
    ring[130:] = False
    assert (matte[ring] - person[ring]).mean() < 0.02
    out = render(photo, NEW_YEAR, short_side=384)
    assert _redness(out)[10:60, 230:290].mean() > 80  # the grey backdrop right of the head is now red


def test_matte_is_cheap_at_working_size() -> None:
    photo = cv2.resize(data.astronaut(), (768, 768), interpolation=cv2.INTER_CUBIC)
    person = scene._person_mask(photo)
    subject_matte(photo, person)
    start = time.perf_counter()
    subject_matte(photo, person)
    assert time.perf_counter() - start < 1.0  # a few per cent of a style's time even on a loaded machine


@pytest.mark.parametrize("empty", [0.0, 0.3])
def test_no_person_adds_nothing(empty: float) -> None:
    """Without a person core there is nothing for an object to be joined to."""
    rgb, _, _, _ = _composite(np.random.default_rng(1))
    person = np.full(rgb.shape[:2], empty, np.float32)
    assert np.array_equal(subject_matte(rgb, person), person)
