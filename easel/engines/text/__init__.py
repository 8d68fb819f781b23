"""Text detection (PP-OCRv4, Chinese and Latin) and text/watermark removal."""

from easel.engines.text.detect import TextRegion, detect_text, local_contrast
from easel.engines.text.mask import grown_quad, text_mask
from easel.engines.text.removal import fill, remove_text
from easel.engines.text.scripts import Script, text_script
from easel.engines.text.target import RemovalTarget, removal_target

__all__ = [
    "RemovalTarget",
    "Script",
    "TextRegion",
    "detect_text",
    "fill",
    "grown_quad",
    "local_contrast",
    "removal_target",
    "remove_text",
    "text_mask",
    "text_script",
]
