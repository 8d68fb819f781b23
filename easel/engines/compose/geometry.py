"""Where the subject stands in the frame, read from its alpha matte."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A subject whose matte reaches the bottom edge over this share of the width is cut by the frame
# (a half-body portrait, a cropped product): it has no visible floor contact.
_BOTTOM_CUT_SHARE = 0.02


@dataclass(frozen=True)
class SubjectGeometry:
    """Bounding box (pixels, right/bottom exclusive), horizontal centre of mass, base row."""

    left: int
    top: int
    right: int
    bottom: int
    centre_x: float
    touches_bottom: bool

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def base_y(self) -> int:
        """The lowest row of the subject: where it meets the floor."""
        return self.bottom - 1


def subject_geometry(alpha: np.ndarray) -> SubjectGeometry | None:
    """Geometry of the opaque part (alpha >= 50%) of a uint8 or float matte; None when it is empty."""
    solid = _as_unit(alpha) >= 0.5
    rows = np.flatnonzero(solid.any(axis=1))
    cols = np.flatnonzero(solid.any(axis=0))
    if rows.size == 0:
        return None
    column_mass = solid.sum(axis=0).astype(np.float64)
    centre_x = float((column_mass * np.arange(solid.shape[1])).sum() / column_mass.sum())
    touches_bottom = bool(solid[-1].mean() > _BOTTOM_CUT_SHARE)
    return SubjectGeometry(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1,
                           centre_x, touches_bottom)


def _as_unit(alpha: np.ndarray) -> np.ndarray:
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) / 255.0
    return alpha.astype(np.float32)
