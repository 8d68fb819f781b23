"""Background engines for wanx-background-generation: studio backdrops, reference fitting, compositing.

Typical use, one output per seed:

    spec = parse_backdrop_prompt(prompt)            # None -> needs_generative(prompt) says why
    backdrop = studio_backdrop((w, h), spec, seed=s, variation=v, subject_alpha=rgba[..., 3])
    # or: backdrop = fit_reference(ref_rgb_or_rgba, (w, h))
    result = composite_subject(backdrop, rgba, seed=s, variation=v)
"""

from easel.engines.compose.backdrop import studio_backdrop
from easel.engines.compose.composite import (
    CompositeResult,
    Harmonization,
    Look,
    composite_subject,
    sample_look,
    variation_from_noise_level,
)
from easel.engines.compose.geometry import SubjectGeometry, subject_geometry
from easel.engines.compose.prompt import BackdropSpec, needs_generative, parse_backdrop_prompt
from easel.engines.compose.reference import cover_fit, fit_reference

__all__ = [
    "BackdropSpec",
    "CompositeResult",
    "Harmonization",
    "Look",
    "SubjectGeometry",
    "composite_subject",
    "cover_fit",
    "fit_reference",
    "needs_generative",
    "parse_backdrop_prompt",
    "sample_look",
    "studio_backdrop",
    "subject_geometry",
    "variation_from_noise_level",
]
