"""How visible a pasted face is: the seam ratio at the face box's border, and sharpness inside the box.

The seam ratio is the mean grey-level step across the box's border lines, divided by the mean step across the
parallel lines 4 to 8 pixels inside and outside them. On real frames it is about 1 (a border line is like any
other line); a hard-pasted face whose edges differ from the frame around them gives several times that.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

OFFSETS = range(4, 9)  # the parallel lines, in pixels from the border, inside and outside


def _gray(frame: np.ndarray) -> np.ndarray:
    return (cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame).astype(np.float32)


def _steps_across_rows(g: np.ndarray, row: int, x1: int, x2: int) -> float:
    """Mean |g[row] - g[row - 1]| over the columns x1..x2 (the step between a line and the one above it)."""
    return float(np.abs(g[row, x1:x2] - g[row - 1, x1:x2]).mean())


def seam_ratio(frame: np.ndarray, box: Sequence[int]) -> float:
    """The seam ratio of ``frame`` (BGR or grey) around ``box`` (top, bottom, left, right; exclusive ends, as
    inference pastes ``frame[top:bottom, left:right]``). Sides too close to the frame's edge are left out."""
    g = _gray(frame)
    y1, y2, x1, x2 = (int(v) for v in box)
    h, w = g.shape
    border, parallel = [], []
    # Each side as rows of a (possibly transposed) image: the border lies between lines b - 1 and b; the parallel
    # steps are taken on both sides of it.
    for image, b, lo, hi in ((g, y1, x1, x2), (g, y2, x1, x2), (g.T, x1, y1, y2), (g.T, x2, y1, y2)):
        size = image.shape[0]
        reach = max(OFFSETS) + 1
        if b - reach < 0 or b + reach > size or hi - lo < 2:
            continue
        border.append(_steps_across_rows(image, b, lo, hi))
        steps = [_steps_across_rows(image, b + k * d, lo, hi) for k in OFFSETS for d in (1, -1)]
        parallel.append(float(np.mean(steps)))
    if not border:
        raise ValueError(f"box {tuple(box)} leaves no side at least {max(OFFSETS) + 1} px from the edges of {w}x{h}")
    return float(np.mean(border) / max(np.mean(parallel), 1e-6))


def laplacian_variance(frame: np.ndarray, box: Sequence[int]) -> float:
    """Sharpness inside ``box``: the variance of the grey image's Laplacian (higher is sharper)."""
    y1, y2, x1, x2 = (int(v) for v in box)
    return float(cv2.Laplacian(_gray(frame)[y1:y2, x1:x2], cv2.CV_32F).var())
