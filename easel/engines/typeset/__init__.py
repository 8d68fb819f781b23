"""Typesetting for wanx-background-generation: title/subtitle layout and layer rendering.

    layout = layout_title(image, rgba[..., 3], "分享好时光", "只为不一样的你", seed=s, sample_idx=i)
    output.text_results.params.append(layout.params())
    final = render_layers(image, layout.layers)
"""

from easel.engines.typeset.fonts import FontMissingError, available_families
from easel.engines.typeset.layout import TitleLayout, layout_title
from easel.engines.typeset.palette import WCAG_MIN
from easel.engines.typeset.render import measure_text, render_layers

__all__ = [
    "WCAG_MIN",
    "FontMissingError",
    "TitleLayout",
    "available_families",
    "layout_title",
    "measure_text",
    "render_layers",
]
