"""Outpainting (wanx2.1-imageedit expand) without a generative model."""

from easel.engines.outpaint.border import MAX_SCALE, MIN_SCALE, border_sizes, expand

__all__ = ["MAX_SCALE", "MIN_SCALE", "border_sizes", "expand"]
