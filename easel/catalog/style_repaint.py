"""wanx-style-repaint-v1 (seed 004): a portrait repainted in one of ten styles, asynchronous.

Two ways to serve it, chosen by engines.toml:
- generative: the engine task portrait_style (its own [portrait_style] table, or a configured instruction-edit
  [instruct_edit] table, which also serves it) with the style's prompt recipe (engines/portrait/prompts.py).
  Each output's face is compared with the input's (engines/portrait/identity.py); beyond the bound, or with
  no face, the edit runs again at a lower strength (engines/portrait/generative.py). When no attempt keeps
  the face within the bound, the closest attempt that has a face is returned and the notes say plainly that
  the face may not look like the person; when no attempt shows a face at all, the CPU style is served
  instead, since an output without the person is no portrait.
- CPU: the classical styles of engines/portrait/ when no generative portrait_style engine is configured.
Either way the input is framed per seed 004 (up to 1.5:1 keeps its aspect, short side 1536; wider is cropped
to 1.5:1 around the face, 2304x1536) and output.notes say which recipe ran and the identity distance measured.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from easel.catalog.base import CatalogModel, RunContext, ValidRequest, parse_contract
from easel.catalog.capabilities import engine_gap
from easel.engines.base import EngineRequest, EngineTask
from easel.engines.face import FaceBox
from easel.engines.manager import Engines
from easel.errors import EaselError
from easel.inputs.decode import ImageLimits
from easel.tasks.store import Outcome
from easel.wire_types import WireInt

# seed 004: 256x256 to 5760x3240, at most 10 MB, JPEG/PNG/JPG/BMP/WEBP
IMAGE_LIMITS = ImageLimits(min_side=256, max_bytes=10 * 1024 * 1024, max_box=(5760, 3240),
                           formats=frozenset({"JPEG", "PNG", "BMP", "WEBP"}))
STYLE_NAMES = (
    "复古漫画", "3D童话", "二次元", "小清新", "未来科技", "国画古风", "将军百战", "炫彩卡通", "清雅国风", "喜迎新年",
)
TASK = EngineTask.PORTRAIT_STYLE
# the contract has no seed: every request starts from this one, so the same photo and style repeat
ENGINE_SEED = 0


class StyleRepaintInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image_url: str
    style_index: WireInt = Field(ge=0, le=len(STYLE_NAMES) - 1)


class NoFace(EaselError):
    code = "InvalidImage.NoFace"


def generative_route(engines: Engines) -> bool:
    """Whether portrait_style goes to a generative engine: its own [portrait_style] table, or an instruction-edit
    table that also serves it. One that turns out broken (a table that does not check, weights that do not load)
    stays the route, so its problem is reported rather than hidden behind the CPU styles."""
    backend = engines.backend(TASK)
    return TASK in engines.config.tables or (backend is not None and backend.generative)


class WanxStyleRepaint(CatalogModel):
    name = "wanx-style-repaint-v1"
    input_model = StyleRepaintInput
    routes = frozenset({"image-generation/generation"})
    summary = "通义万相 人像风格重绘: a portrait in one of ten styles (style_index 0-9)"

    def validate(self, body: dict[str, Any]) -> ValidRequest:
        inp = parse_contract(StyleRepaintInput, body.get("input"), "input")
        return ValidRequest(function="", request={"input": inp.model_dump()},
                            image_urls=[("input.image_url", inp.image_url)])

    def capability_gap(self, request: ValidRequest, engines: Engines) -> EaselError | None:
        if not generative_route(engines):
            return None  # the CPU styles serve every style index
        return engine_gap(engines, TASK, "wanx-style-repaint-v1 with the configured generative engine")

    def run(self, request: dict[str, Any], ctx: RunContext) -> Outcome:
        inp = StyleRepaintInput.model_validate(request["input"])
        rgb = np.asarray(ctx.load_image(inp.image_url, IMAGE_LIMITS, "image").convert("RGB"))
        if generative_route(ctx.engines):
            result = _generative(rgb, inp.style_index, ctx)
        else:
            result = _cpu(rgb, inp.style_index, ctx, why="no generative portrait_style engine is configured")
        saved = ctx.save_image(result, 0, fmt="JPEG")
        # seed 004's success example also carries error_code 0 / error_message "Success"
        return Outcome(results=[saved], extra_output={"result_url": {"$url": saved["blob"]},
                                                      "style_index": inp.style_index, "error_code": 0,
                                                      "error_message": "Success"})

    def describe(self, engines: Engines) -> dict[str, Any]:
        from easel.engines.portrait import STYLES
        from easel.engines.portrait.generative import STRENGTHS
        from easel.engines.portrait.identity import IDENTITY_BOUND
        from easel.engines.portrait.prompts import PROMPTS

        entry = super().describe(engines)
        generative = generative_route(engines)
        if generative:
            served = f"generative portrait_style engine, {engines.describe(TASK)}"
        else:
            served = ("CPU style (no generative portrait_style engine is configured; an [instruct_edit] or "
                      "[portrait_style] table with an instruction-edit backend serves the generative recipe)")
        entry["styles"] = {
            str(style.index): {"name": style.name_zh, "english": style.name_en, "served_by": served,
                               "prompt": PROMPTS[style.index].prompt, "how": style.method,
                               "cpu_note": style.approximation}
            for style in STYLES
        }
        if generative:
            entry["identity_check"] = {
                "bound": IDENTITY_BOUND, "strengths": list(STRENGTHS),
                "measure": "face-mesh geometry after similarity alignment (0 = same face shape)",
                "when_no_attempt_passes": "the closest attempt with a face, with a note; the CPU style when no "
                                          "attempt shows a face"}
        return entry


def _find_face(rgb: np.ndarray) -> FaceBox:
    from easel.engines.portrait import NoFaceError
    from easel.engines.portrait.framing import find_clear_face

    try:
        return find_clear_face(rgb)
    except NoFaceError as exc:
        raise NoFace(
            f"No clear face was found in image_url ({exc.message}); use a photo in which one face is "
            "clearly visible, frontal and not too small."
        ) from None


def _cpu(rgb: np.ndarray, style_index: int, ctx: RunContext, *, why: str) -> np.ndarray:
    from easel.engines.portrait import repaint
    from easel.engines.portrait.identity import IDENTITY_BOUND, face_shape, identity_distance

    _find_face(rgb)  # the clear refusal, before any painting
    result = repaint(rgb, style_index)
    before, after = face_shape(rgb), face_shape(result)
    measured = ("face identity not measured (the face mesh found no face in the "
                f"{'input' if before is None else 'result'})" if before is None or after is None
                else f"face identity distance {identity_distance(before, after):.3f} (bound {IDENTITY_BOUND:g})")
    ctx.note(f"style {style_index} {STYLE_NAMES[style_index]}: the CPU style ({why}); {measured}.")
    return result


def _generative(rgb: np.ndarray, style_index: int, ctx: RunContext) -> Image.Image | np.ndarray:
    from easel.engines.portrait import plan_frame
    from easel.engines.portrait.generative import restyle_keeping_face
    from easel.engines.portrait.prompts import NEGATIVE_PROMPT, PROMPTS

    face = _find_face(rgb)
    plan = plan_frame(rgb.shape[1], rgb.shape[0], face)
    recipe = PROMPTS[style_index]
    ctx.note(f"style {style_index} {recipe.name}: the generative recipe ran on the portrait_style engine, "
             f"prompt: {recipe.prompt}")
    request = EngineRequest(image=Image.fromarray(plan.crop(rgb)), prompt=recipe.prompt,
                            negative_prompt=NEGATIVE_PROMPT, size=(plan.out_width, plan.out_height),
                            seed=ENGINE_SEED)
    restyle = restyle_keeping_face(request, lambda attempt: ctx.run_engine(TASK, attempt)[0])
    for attempt in restyle.attempts:
        ctx.note(attempt.describe(restyle.bound))
    if not restyle.measured:
        ctx.note("Face identity was not measured: the face mesh found no face in the input, so the result was "
                 "not compared with it.")
        return restyle.attempts[0].image
    if restyle.kept is not None:
        ctx.note(f"Returned attempt {restyle.kept.number}: its face is within the identity bound.")
        return restyle.kept.image
    closest = restyle.closest
    if closest is not None:
        ctx.note(f"No attempt kept the face within the identity bound {restyle.bound:g}; returned attempt "
                 f"{closest.number}, the closest (distance {closest.distance:.3f}): the face may not look like the "
                 "person in the photo.")
        return closest.image
    return _cpu(rgb, style_index, ctx, why=f"none of the {len(restyle.attempts)} generative attempts showed a face")
