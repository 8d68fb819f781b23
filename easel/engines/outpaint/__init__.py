"""Outpainting (wanx2.1-imageedit expand) without a generative model."""

from easel.engines.outpaint.border import CREDIBLE_SCALE, MAX_SCALE, MIN_SCALE, border_sizes, expand, scale_note

__all__ = ["CREDIBLE_SCALE", "MAX_SCALE", "MIN_SCALE", "border_sizes", "expand", "scale_note"]
