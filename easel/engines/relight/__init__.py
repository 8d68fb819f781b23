"""CPU relighting: the light a prompt describes, applied to a subject given by a mask or alpha.

No generative model: shape from the silhouette, the face mesh and the luminance; albedo by dividing
out the photo's low-frequency shading; new shading from the parsed lights. Scene content asked for in
the prompt is never painted; the result's notes say so.
"""

from easel.engines.relight.engine import RelightResult, guidance_to_strength, relight
from easel.engines.relight.prompt import Light, LightPlan, parse_light_prompt

__all__ = ["Light", "LightPlan", "RelightResult", "guidance_to_strength", "parse_light_prompt", "relight"]
