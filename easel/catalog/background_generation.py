"""wanx-background-generation-v2 (seed 003): a new background behind an RGBA subject, plus title text.

Two paths, chosen from the request alone (so API nodes and workers agree):
- CPU: a reference image alone becomes the background, or a studio backdrop is built from the colours the
  prompt names (exact colours, no generative engine needed).
- generative: a scene prompt or reference_edge. The engine task background_scene (any [fill] backend, or
  [background_scene]) repaints everything around the subject, starting from the fitted reference when there is
  one; reference_edge becomes a line map for a ControlNet backend. The subject is composited back with the
  CPU path's shadows and harmonisation, so the product look and the subject's pixels are the same on both.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from easel.catalog.base import CatalogModel, RunContext, ValidRequest, parse_contract
from easel.engines.base import EngineRequest, EngineTask
from easel.engines.manager import Engines
from easel.errors import EaselError, EngineUnavailable, InvalidImageResolution, InvalidParameter
from easel.ids import random_seed
from easel.inputs.decode import ImageLimits
from easel.tasks.store import Outcome
from easel.wire_types import WireFloat, WireInt

SUBJECT_LIMITS = ImageLimits(min_side=64, max_side=2048, max_bytes=10 * 1024 * 1024,
                             formats=frozenset({"PNG", "WEBP", "TIFF"}))
REFERENCE_LIMITS = ImageLimits(min_side=64, max_side=8192, max_bytes=10 * 1024 * 1024)
EDGE_LIMITS = ImageLimits(min_side=64, max_side=8192, max_bytes=10 * 1024 * 1024,
                          formats=frozenset({"PNG", "WEBP", "TIFF"}))
MAX_EDGES = 10

SCENE = EngineTask.BACKGROUND_SCENE
# seed 003: ref_prompt past its 70th word is ignored (a Han character counts as a word)
PROMPT_WORDS = 70
_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# seed 003 recommends leaving neg_ref_prompt out so the model's built-in default applies; this is ours
DEFAULT_NEGATIVE = "low quality, blurry, deformed, distorted, watermark, text, logo"
# what each scene_type adds to the prompt
SCENE_PHRASES = {
    "GENERAL": "realistic product photograph, natural light and shadow, fine detail",
    "ROOM": "home interior scene, furnished room, realistic interior photograph, natural window light, fine detail",
    "COSMETIC": "cosmetics product photograph on a display table, clean elegant setting, soft studio light, "
                "fine detail",
}
# model_version v3 (the seed's better, slower model): this many times the engine's configured steps; v2 (the
# contract's default, "faster") runs the configured steps
V3_STEPS_SCALE = 1.5


class ReferenceEdge(BaseModel):
    model_config = ConfigDict(extra="ignore")

    foreground_edge: list[str] = Field(default_factory=list)
    foreground_edge_prompt: list[str] | None = None
    background_edge: list[str] = Field(default_factory=list)
    background_edge_prompt: list[str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ReferenceEdge:
        for side in ("foreground", "background"):
            edges, prompts = getattr(self, f"{side}_edge"), getattr(self, f"{side}_edge_prompt")
            if prompts is not None and len(prompts) != len(edges):
                raise ValueError(f"{side}_edge_prompt must have one entry per {side}_edge ({len(edges)})")
        if len(self.foreground_edge) + len(self.background_edge) > MAX_EDGES:
            raise ValueError(f"at most {MAX_EDGES} foreground and background edge elements in all")
        return self

    @property
    def count(self) -> int:
        return len(self.foreground_edge) + len(self.background_edge)


class BackgroundInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    base_image_url: str
    ref_image_url: str | None = None
    ref_prompt: str | None = None
    neg_ref_prompt: str | None = None
    reference_edge: ReferenceEdge | None = None
    title: str | None = Field(None, min_length=1, max_length=8)
    sub_title: str | None = Field(None, min_length=1, max_length=10)

    @field_validator("ref_image_url", "ref_prompt", "neg_ref_prompt", "title", "sub_title", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _rules(self) -> BackgroundInput:
        if not self.ref_image_url and not self.ref_prompt:
            raise ValueError("give at least one of ref_image_url and ref_prompt")
        if self.sub_title and not self.title:
            self.sub_title = None  # seed 003: a sub_title without a title is ignored
        return self


class BackgroundParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    n: WireInt = Field(1, ge=1, le=4)
    noise_level: int = Field(300, ge=0, le=999)
    ref_prompt_weight: WireFloat = Field(0.5, ge=0.0, le=1.0)
    scene_type: Literal["GENERAL", "ROOM", "COSMETIC"] = "GENERAL"
    model_version: Literal["v2", "v3"] = "v2"
    seed: WireInt | None = Field(None, ge=0, le=2147483647)


class WanxBackgroundGeneration(CatalogModel):
    name = "wanx-background-generation-v2"
    input_model = BackgroundInput
    parameters_model = BackgroundParameters
    routes = frozenset({"background-generation/generation"})
    summary = "通义万相 图像背景生成: a background behind an RGBA subject, optional title text"

    def validate(self, body: dict[str, Any]) -> ValidRequest:
        inp = parse_contract(BackgroundInput, body.get("input"), "input")
        params = parse_contract(BackgroundParameters, body.get("parameters"), "parameters")
        if params.seed is None:
            params.seed = random_seed()
        urls = [("input.base_image_url", inp.base_image_url)]
        if inp.ref_image_url:
            urls.append(("input.ref_image_url", inp.ref_image_url))
        edge = inp.reference_edge or ReferenceEdge()
        urls += [(f"input.reference_edge.foreground_edge[{i}]", u) for i, u in enumerate(edge.foreground_edge)]
        urls += [(f"input.reference_edge.background_edge[{i}]", u) for i, u in enumerate(edge.background_edge)]
        request = {"input": inp.model_dump(), "parameters": params.model_dump()}
        return ValidRequest(function="", request=request, image_urls=urls)

    def capability_gap(self, request: ValidRequest, engines: Engines) -> EaselError | None:
        inp = BackgroundInput.model_validate(request.request["input"])
        reason = _generative_reason(inp)
        if reason is None:
            return None  # a studio backdrop or the reference image: the CPU engines serve it
        problem = engines.problem(SCENE)
        if problem is None:
            refusal = _scene_refusal(engines, _has_edges(inp))
            return EngineUnavailable(refusal) if refusal else None
        return _unavailable(inp, reason, engines, problem)

    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        from easel.engines import typeset

        inp = BackgroundInput.model_validate(request["input"])
        params = BackgroundParameters.model_validate(request["parameters"])
        subject = _subject(ctx.load_image(inp.base_image_url, SUBJECT_LIMITS, "base image"))
        if _generative_reason(inp) is None:
            images, notes = _cpu_backgrounds(inp, params, subject, ctx)
        else:
            images, notes = _generated_backgrounds(inp, params, subject, ctx)
        plain, texted, layer_sets = [], [], []
        for index, image in enumerate(images):
            plain.append(ctx.save_image(image, index))
            if inp.title:
                layout = typeset.layout_title(image, subject[:, :, 3], inp.title, inp.sub_title,
                                              seed=(params.seed or 0) + index, sample_idx=index)
                texted.append(ctx.save_image(typeset.render_layers(image, layout.layers), index + params.n))
                layer_sets.append({"sample_idx": index, "layers": layout.layers})
        if not inp.title:
            return Outcome(results=plain, extra_output={"notes": notes})
        text_results = {"urls": plain, "params": layer_sets}
        # the seed's table says text_results, its example text_result: both are sent
        extra = {"text_results": text_results, "text_result": text_results, "notes": notes}
        return Outcome(results=texted, extra_output=extra)

    def describe(self, engines: Engines) -> dict[str, Any]:
        entry = super().describe(engines)
        problem = engines.problem(SCENE)
        scene = f"not available: {_what_to_configure(engines, problem)}" if problem else engines.describe(SCENE)

        def served(edges: bool) -> str:
            refusal = None if problem else _scene_refusal(engines, edges)
            return f"not available: {refusal}" if refusal else scene

        entry["inputs"] = {
            "ref_image_url": "available: alone, the reference becomes the background (cover-fit), subject "
                             "composited with matte-aware edges, contact and cast shadows, colour harmonisation; "
                             "with a scene ref_prompt or reference_edge it is where the generated background starts "
                             "(image-to-image, strength from noise_level)",
            "ref_prompt (studio backdrop: 纯白/纯色/渐变/影棚, solid, gradient, studio + colours)":
                "available: studio backdrop with floor and shadows in the named colours",
            "ref_prompt (scene content)": served(False),
            "reference_edge": served(True),
            "title / sub_title": "available: layout engine (placement away from the subject, WCAG contrast)",
        }
        return entry


# --- which path a request takes, and what to say when it cannot be served -----------------------------------

def _has_edges(inp: BackgroundInput) -> bool:
    return bool(inp.reference_edge and inp.reference_edge.count)


def _generative_reason(inp: BackgroundInput) -> str | None:
    """Why the request needs a generated background (a scene prompt, reference_edge), or None when the CPU
    engines serve it exactly (a studio backdrop, the reference image as the background)."""
    from easel.engines.compose import needs_generative

    return needs_generative(inp.ref_prompt, has_reference_edge=_has_edges(inp))


def _probe(edges: bool) -> EngineRequest:
    """A request of the generative path's shape, for asking the backend whether it would refuse it."""
    blank = Image.new("RGB", (64, 64))
    return EngineRequest(image=blank, mask=np.ones((64, 64), bool), params={"control": blank} if edges else {})


def _scene_refusal(engines: Engines, edges: bool) -> str | None:
    """Why the configured background_scene backend would refuse this kind of request, or None."""
    backend = engines.backend(SCENE)
    if backend is None:
        return None
    refusal = backend.refuses(SCENE, _probe(edges))
    if refusal is None:
        return None
    if edges and backend.refuses(SCENE, _probe(False)) is None:
        return (f"reference_edge elements are a line map the engine must follow, and {refusal} Configure a "
                f"[background_scene] table in engines.toml with a ControlNet backend = {_backends(control=True)}, "
                "its weights and its controlnet")
    return (f"the engine that serves background_scene here refuses this request: {refusal} Configure a "
            f"[background_scene] table with a fill backend = {_backends(control=False)} for prompts without "
            "reference_edge")


def _backends(control: bool) -> str:
    """The backends that serve background_scene, those that follow a line map or those that do not, as
    engines.toml spells them."""
    from easel.engines.registry import BACKENDS, backend_class

    names = sorted(name for name in BACKENDS if SCENE in backend_class(name).tasks
                   and getattr(backend_class(name), "accepts_control", False) == control)
    return " | ".join(f'"{name}"' for name in names) or "(none in this version of Easel)"


def _what_to_configure(engines: Engines, problem: str) -> str:
    """Why no engine serves background_scene here, naming the engines.toml tables that would."""
    if SCENE in engines.config.tables:
        return f"the [background_scene] engine cannot run: {problem.rstrip('.')}"
    text = ("no working one is configured on this Easel server (the CPU engines only remove, extend, restyle and "
            "upscale). Add a [fill] table to engines.toml (its backend serves background_scene too) or a "
            f"[background_scene] table, with backend = {_backends(control=False)} and its weights; reference_edge "
            f"needs a ControlNet backend in [background_scene] (backend = {_backends(control=True)})")
    fill_problem = engines.problem(EngineTask.FILL) if EngineTask.FILL in engines.config.tables else None
    if fill_problem:
        text += f". The [fill] table here cannot serve it: {fill_problem.rstrip('.')}"
    return text


def _unavailable(inp: BackgroundInput, reason: str, engines: Engines, problem: str) -> EngineUnavailable:
    """Today's CPU refusal, naming the engines.toml table that would serve the request."""
    text = f"{reason}, and {_what_to_configure(engines, problem)}"
    if inp.ref_image_url and not _has_edges(inp):
        text += "; or send ref_image_url alone to use the reference image as the background"
    return EngineUnavailable(text + ".")


def _subject(image: Image.Image) -> np.ndarray:
    """The subject as RGBA; the seed requires a real transparent background."""
    if max(image.size) > 2048:
        raise InvalidImageResolution(f"base_image_url is {image.width}x{image.height}; its long side must be "
                                     "at most 2048 px.")
    rgba = np.asarray(image.convert("RGBA"))
    alpha = rgba[:, :, 3]
    if image.mode not in ("RGBA", "LA", "PA", "P") or alpha.min() > 250 or alpha.max() < 5:
        raise InvalidParameter(
            "base_image_url must be an RGBA image whose alpha channel cuts out the subject (transparent "
            "background); this image has no usable transparency."
        )
    return rgba


# --- the CPU path: the reference image or a studio backdrop --------------------------------------------------

def _cpu_backgrounds(inp: BackgroundInput, params: BackgroundParameters, subject: np.ndarray,
                     ctx: RunContext) -> tuple[list[np.ndarray], list[str]]:
    from easel.engines import compose

    size = (subject.shape[1], subject.shape[0])
    reference = _reference(inp, size, ctx)
    spec = compose.parse_backdrop_prompt(inp.ref_prompt) if inp.ref_prompt and reference is None else None
    variation = compose.variation_from_noise_level(params.noise_level)
    images = []
    for index in range(params.n):
        seed = (params.seed or 0) + index
        background = reference if reference is not None else compose.studio_backdrop(
            size, spec, seed=seed, variation=variation, subject_alpha=subject[:, :, 3])
        images.append(compose.composite_subject(background, subject, seed=seed, variation=variation).image)
    return images, _cpu_notes(inp, params, reference is not None)


def _reference(inp: BackgroundInput, size: tuple[int, int], ctx: RunContext) -> np.ndarray | None:
    from easel.engines import compose

    if not inp.ref_image_url:
        return None
    ref = ctx.load_image(inp.ref_image_url, REFERENCE_LIMITS, "reference image")
    return compose.fit_reference(np.asarray(ref.convert("RGBA")), size)


def _cpu_notes(inp: BackgroundInput, params: BackgroundParameters, has_reference: bool) -> list[str]:
    """What the CPU engine did with parameters that mean more to a generative model."""
    notes = []
    if inp.neg_ref_prompt:
        notes.append("neg_ref_prompt has no effect: the CPU engine does not generate content it could steer away "
                     "from.")
    if has_reference and inp.ref_prompt:
        notes.append("ref_prompt_weight has no effect: the reference image is used as the background.")
    notes.append(f"scene_type {params.scene_type} and model_version {params.model_version} select the same CPU "
                 "engine; noise_level sets how far the n variations differ.")
    return notes


# --- the generative path: a masked fill around the subject ---------------------------------------------------

def _generated_backgrounds(inp: BackgroundInput, params: BackgroundParameters, subject: np.ndarray,
                           ctx: RunContext) -> tuple[list[np.ndarray], list[str]]:
    from easel.engines import compose
    from easel.engines.compose import scene
    from easel.engines.diffusion.common import FEATHER

    size = (subject.shape[1], subject.shape[0])
    alpha = subject[:, :, 3]
    reference = _reference(inp, size, ctx)
    backdrop = reference if reference is not None else compose.studio_backdrop(
        size, compose.parse_backdrop_prompt(""), subject_alpha=alpha)
    edge = inp.reference_edge or ReferenceEdge()
    foreground = [_element(url, f"foreground_edge[{i}]", size, ctx) for i, url in enumerate(edge.foreground_edge)]
    background = [_element(url, f"background_edge[{i}]", size, ctx) for i, url in enumerate(edge.background_edge)]
    front = scene.front_alpha(foreground)
    prompt, clipped = _scene_prompt(inp, params.scene_type)
    extra: dict[str, Any] = {}
    if foreground or background:
        extra["control"] = Image.fromarray(scene.line_map(subject, background, foreground))
    if reference is not None and inp.ref_prompt:
        extra["prompt_weight"] = params.ref_prompt_weight
    if params.model_version == "v3":
        extra["steps_scale"] = V3_STEPS_SCALE
    strength = _strength(params.noise_level) if reference is not None else None
    request = EngineRequest(
        image=Image.fromarray(scene.paste_subject(backdrop, subject)), prompt=prompt,
        negative_prompt=inp.neg_ref_prompt or DEFAULT_NEGATIVE, mask=scene.scene_mask(alpha, front, FEATHER),
        n=params.n, seed=params.seed or 0, strength=strength, params=extra)
    generated = ctx.run_engine(SCENE, request)
    images = [scene.finish(np.asarray(_sized(image, size)), subject, front,
                           seed=(params.seed or 0) + index) for index, image in enumerate(generated)]
    notes = _generative_notes(inp, params, prompt, clipped, strength, len(foreground), len(background))
    return images, notes


def _sized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    image = image.convert("RGB")
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)


def _element(url: str, what: str, size: tuple[int, int], ctx: RunContext) -> np.ndarray:
    from easel.engines.compose import scene

    image = ctx.load_image(url, EDGE_LIMITS, f"reference_edge.{what}")
    rgba = np.asarray(image.convert("RGBA"))
    if image.mode not in ("RGBA", "LA", "PA", "P") or rgba[:, :, 3].min() > 250:
        raise InvalidParameter(f"input.reference_edge.{what} must be an RGBA edge map whose alpha channel cuts out "
                               "the element (transparent elsewhere); this image has no usable transparency.")
    return scene.fit_element(rgba, size)


def _strength(noise_level: int) -> float:
    """noise_level 0..999 to how far the engine may move from the reference: 0.1 at 0, 1.0 at 999."""
    from easel.engines.compose import variation_from_noise_level

    return round(variation_from_noise_level(noise_level), 3)


def _scene_prompt(inp: BackgroundInput, scene_type: str) -> tuple[str, bool]:
    """ref_prompt (its first 70 words), the edge elements' prompts and the scene_type phrase; and whether
    ref_prompt was clipped."""
    text, clipped = _first_words(inp.ref_prompt or "", PROMPT_WORDS)
    edge = inp.reference_edge or ReferenceEdge()
    element_prompts = [p.strip() for p in (edge.foreground_edge_prompt or []) + (edge.background_edge_prompt or [])]
    parts = [text.strip(), *element_prompts, SCENE_PHRASES[scene_type]]
    return ", ".join(part for part in parts if part), clipped


def _first_words(text: str, limit: int) -> tuple[str, bool]:
    """The text up to its `limit`-th word (a Han character counts as one word), and whether it was cut."""
    words = list(_WORD.finditer(text))
    if len(words) <= limit:
        return text, False
    return text[:words[limit - 1].end()], True


def _generative_notes(inp: BackgroundInput, params: BackgroundParameters, prompt: str, clipped: bool,
                      strength: float | None, n_front: int, n_back: int) -> list[str]:
    """How each parameter was used on the generative path."""
    notes = [f"The background was generated around the subject from the prompt \"{prompt}\""
             + (" (ref_prompt clipped to its first 70 words, as the seed says)" if clipped else "")
             + f"; scene_type {params.scene_type} added its scene phrase."]
    notes.append(("neg_ref_prompt was the negative prompt" if inp.neg_ref_prompt else
                  f"The built-in negative prompt \"{DEFAULT_NEGATIVE}\" was used (no neg_ref_prompt)")
                 + " for engines that take one (FLUX backends have none).")
    if strength is not None:
        notes.append(f"ref_image_url, cover-fitted to the subject's size, was the start of the generation "
                     f"(image-to-image): noise_level {params.noise_level} set strength {strength:g} (0.1 at 0 to 1 at "
                     "999; higher moves further from the reference).")
    else:
        notes.append("noise_level has no effect without ref_image_url: the background is generated from noise.")
    if strength is not None and inp.ref_prompt:
        notes.append(f"ref_prompt_weight {params.ref_prompt_weight:g} set how hard the prompt pulls against the "
                     "reference: the engine's guidance, from 1 (no classifier-free pull) at 0 through as configured "
                     "at 0.5 to twice its pull at 1.")
    else:
        notes.append("ref_prompt_weight has no effect: it weighs ref_prompt against ref_image_url, and only one "
                     "was given.")
    notes.append(f"model_version {params.model_version}: "
                 + (f"{V3_STEPS_SCALE:g} x the engine's configured steps (better, slower)."
                    if params.model_version == "v3" else "the engine's configured steps (the faster version)."))
    if n_front or n_back:
        notes.append(f"reference_edge: {n_back} background and {n_front} foreground element(s) made one line map "
                     "(background elements, the subject over them, foreground elements on top) that the engine "
                     "followed; their prompts joined the prompt; foreground elements were generated in front of "
                     "the subject and may hide part of it.")
    notes.append(f"n={params.n}: image i seeded {params.seed}+i. The subject was composited back over each "
                 "generated background with contact/cast shadows and colour harmonisation; its opaque pixels are "
                 "its own colours through one per-channel gain and offset.")
    return notes
