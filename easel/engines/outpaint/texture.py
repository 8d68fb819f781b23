"""Texture for the new border: detail copied from the photo in overlapping windows.

The photo's detail layer (the photo minus a blur of it) is cut into square blocks; only blocks lying
in the source region (the edge band less its salient objects, see band.py) are candidates, so the
border's texture is that of the region it continues and no object is copied. Each block of the
border takes the detail of a photo block chosen for a similar local colour (of the structure layer
there), a similar detail strength (that of the nearest part of the photo, calming with distance),
and a similar relative position (the left border prefers the photo's left side), at random among
the few best so that the border does not repeat one block. Blocks overlap by half and are weighted
with a Hann window whose overlapping copies sum to one, so there are no seams; dividing by the root
of the summed squared weights keeps the texture's strength where windows overlap.
"""

from __future__ import annotations

import cv2
import numpy as np

# The best this many blocks by colour, strength and position are shortlisted; of them, the few that
# agree best with the detail already laid down where the windows overlap are drawn from (as in image
# quilting), so that neighbouring blocks continue each other instead of repeating one motif.
_SHORTLIST = 16
_CANDIDATES_PER_CHOICE = 3
_POSITION_WEIGHT = 1.0
_ENERGY_WEIGHT = 1.0
_COLOUR_WEIGHT = 100.0 / 255.0**2
# Far from the photo the expected detail strength settles to this percentile of the source's own.
_CALM_PERCENTILE = 25
# A candidate block must lie at least this much inside the source region.
_MIN_SOURCE_COVER = 0.9


def detail_layer(photo: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(blurred photo, photo - blurred photo), float32."""
    image = photo.astype(np.float32)
    low = cv2.GaussianBlur(image, (0, 0), sigma)
    return low, image - low


def block_size(short_side: int) -> int:
    return int(np.clip(short_side / 8, 16, 96)) // 2 * 2


def hann_window(size: int) -> np.ndarray:
    """2-D window whose copies at half-size steps sum to one."""
    n = np.arange(size, dtype=np.float32)
    w = np.sin(np.pi * (n + 0.5) / size) ** 2
    return np.outer(w, w)


class _Sources:
    """Candidate photo blocks and what they are matched on."""

    def __init__(self, low: np.ndarray, detail: np.ndarray, size: int, source: np.ndarray) -> None:
        h, w = detail.shape[:2]
        stride = max(1, size // 4)
        ys, xs = np.meshgrid(np.arange(0, h - size + 1, stride), np.arange(0, w - size + 1, stride), indexing="ij")
        ys, xs = ys.ravel(), xs.ravel()
        cover = _block_means(cv2.integral(source.astype(np.uint8)), ys, xs, size)
        inside = cover >= _MIN_SOURCE_COVER
        if inside.any():  # else a band thinner than a block: every block, as before
            ys, xs = ys[inside], xs[inside]
        self.y, self.x = ys, xs
        self.colour = _block_means(cv2.integral(low), self.y, self.x, size)
        energy = _block_means(cv2.integral((detail**2).sum(axis=2)), self.y, self.x, size)
        self.energy = np.log1p(np.sqrt(np.maximum(energy.ravel(), 0.0)))
        self.cy = (self.y + size / 2) / h
        self.cx = (self.x + size / 2) / w


def _block_means(integral: np.ndarray, y: np.ndarray, x: np.ndarray, size: int) -> np.ndarray:
    total = integral[y + size, x + size] - integral[y, x + size] - integral[y + size, x] + integral[y, x]
    return total / float(size * size)


def expected_energy(
    detail: np.ndarray, known: np.ndarray, offset: tuple[int, int], size: int, reach: float, source: np.ndarray
) -> np.ndarray:
    """Per canvas pixel, the log detail strength the border should have there: that of the nearest
    photo pixel (the source's median where that pixel is not a source pixel), calming toward the
    source's quieter parts with distance (backgrounds are usually quieter than what the photo cuts
    through, and far from the photo nothing is known)."""
    # Box-filtered squares can come out a hair below zero in float32.
    local = np.log1p(np.sqrt(np.maximum(cv2.boxFilter((detail**2).sum(axis=2), -1, (size, size)), 0.0)))
    pool = local[source] if source.any() else local.ravel()
    local = np.where(source, local, float(np.median(pool))) if source.any() else local
    distance, labels = cv2.distanceTransformWithLabels(
        (known == 0).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    ky, kx = np.nonzero(known)
    near_y = np.zeros(labels.max() + 1, np.int32)
    near_x = np.zeros(labels.max() + 1, np.int32)
    near_y[labels[ky, kx]], near_x[labels[ky, kx]] = ky, kx
    ny, nx = near_y[labels], near_x[labels]
    nearest = local[np.clip(ny - offset[0], 0, local.shape[0] - 1), np.clip(nx - offset[1], 0, local.shape[1] - 1)]
    keep = np.exp(-distance / max(1.0, reach))
    return (nearest * keep + float(np.percentile(pool, _CALM_PERCENTILE)) * (1.0 - keep)).astype(np.float32)


def synthesize(
    photo: np.ndarray,
    known: np.ndarray,
    offset: tuple[int, int],
    structure: np.ndarray,
    sigma: float,
    reach: float,
    rng: np.random.Generator,
    source: np.ndarray,
) -> np.ndarray:
    """Detail (float32, zero-mean, canvas-sized) for every unknown canvas pixel, copied from blocks of
    the `source` region (photo-sized bool)."""
    h, w = photo.shape[:2]
    size = min(block_size(min(h, w)), min(h, w) // 2 * 2)
    if size < 4:  # a photo a few pixels across has no texture to lend
        return np.zeros((*known.shape, 3), np.float32)
    hop = size // 2
    low, detail = detail_layer(photo, sigma)
    sources = _Sources(low, detail, size, source)
    energy = expected_energy(detail, known, offset, size, reach, source)
    canvas_h, canvas_w = known.shape
    padded = cv2.copyMakeBorder(structure, size, size, size, size, cv2.BORDER_REPLICATE)
    structure_sums = cv2.integral(padded)
    window = hann_window(size)
    acc = np.zeros((canvas_h + 2 * size, canvas_w + 2 * size, 3), np.float32)
    squares = np.zeros(acc.shape[:2], np.float32)
    y0, x0 = offset
    for ty in range(y0 % hop - size, canvas_h, hop):
        for tx in range(x0 % hop - size, canvas_w, hop):
            a0, a1, b0, b1 = max(ty, 0), min(ty + size, canvas_h), max(tx, 0), min(tx + size, canvas_w)
            if a1 <= a0 or b1 <= b0 or known[a0:a1, b0:b1].all():
                continue
            colour = _block_means(structure_sums, np.array([ty + size]), np.array([tx + size]), size)[0]
            centre_y, centre_x = min(canvas_h - 1, (a0 + a1) // 2), min(canvas_w - 1, (b0 + b1) // 2)
            rel_y = np.clip((ty + size / 2 - y0) / h, 0.0, 1.0)
            rel_x = np.clip((tx + size / 2 - x0) / w, 0.0, 1.0)
            expected = float(energy[centre_y, centre_x])
            cost = (
                _COLOUR_WEIGHT * ((sources.colour - colour) ** 2).sum(axis=1)
                + _POSITION_WEIGHT * ((sources.cy - rel_y) ** 2 + (sources.cx - rel_x) ** 2)
                + _ENERGY_WEIGHT * (sources.energy - expected) ** 2
            )
            pick = _pick(sources, cost, detail, acc, squares, (ty + size, tx + size), size, window, rng)
            sy, sx = sources.y[pick], sources.x[pick]
            # Never louder than expected here: a block cut from an object's outline keeps its shape
            # but not its contrast when it lands on a quiet background.
            gain = min(1.0, float(np.expm1(expected) / max(np.expm1(sources.energy[pick]), 1e-6)))
            acc[ty + size : ty + 2 * size, tx + size : tx + 2 * size] += (
                detail[sy : sy + size, sx : sx + size] * (gain * window)[..., None]
            )
            squares[ty + size : ty + 2 * size, tx + size : tx + 2 * size] += window**2
    acc = acc[size : size + canvas_h, size : size + canvas_w]
    squares = squares[size : size + canvas_h, size : size + canvas_w]
    return acc / np.sqrt(np.maximum(squares, 1e-6))[..., None]


def _pick(
    sources: _Sources,
    cost: np.ndarray,
    detail: np.ndarray,
    acc: np.ndarray,
    squares: np.ndarray,
    at: tuple[int, int],
    size: int,
    window: np.ndarray,
    rng: np.random.Generator,
) -> int:
    """Index of the source block for the tile at `at` (padded accumulator coordinates)."""
    k = min(_SHORTLIST, len(cost))
    shortlist = np.argpartition(cost, k - 1)[:k]
    y, x = at
    laid = squares[y : y + size, x : x + size]
    if laid.max() <= 0:  # nothing laid down yet next to this tile
        return int(shortlist[rng.integers(min(_CANDIDATES_PER_CHOICE, k))])
    # Compared on every other pixel: as discriminating for blocks this size, four times cheaper.
    laid = laid[::2, ::2]
    so_far = acc[y : y + size : 2, x : x + size : 2] / np.sqrt(np.maximum(laid, 1e-6))[..., None]
    weight = (np.sqrt(laid) * window[::2, ::2])[..., None]
    blocks = np.stack(
        [
            detail[sy : sy + size : 2, sx : sx + size : 2]
            for sy, sx in zip(sources.y[shortlist], sources.x[shortlist], strict=True)
        ]
    )
    mismatch = (((blocks - so_far[None]) ** 2) * weight[None]).sum(axis=(1, 2, 3))
    best = np.argsort(mismatch)[: min(_CANDIDATES_PER_CHOICE, k)]
    return int(shortlist[best[rng.integers(len(best))]])
