"""CPBD sharpness (Narvekar & Karam, 2011), the published algorithm as the ``cpbd`` package computes it.

That package no longer imports on current SciPy (it imports the removed ``scipy.ndimage.imread``), so the
metric is implemented here: Canny edges pick 64x64 edge blocks (more than 0.2% edge pixels), Sobel edges
(Octave's thinning) give horizontal edge widths (Marziliano's method), each width w in a block of contrast c
gives a blur-detection probability 1 - exp(-(w / JNB(c))^3.6) with JNB 5 for c <= 50 and 3 above, and the
score is the share of edges whose probability is at most 0.63.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve
from skimage.feature import canny

THRESHOLD = 0.002
BETA = 3.6
BLOCK = 64
WIDTH_JNB = np.concatenate([5 * np.ones(51), 3 * np.ones(205)])
_HSOBEL = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64) / 8.0


def sobel_edges(image: np.ndarray) -> np.ndarray:
    """Octave-style Sobel edge map of vertical edges, with its simple non-maximum thinning."""
    strength = np.square(convolve(image, _HSOBEL.T))
    strength[strength <= 2 * np.sqrt(np.mean(strength))] = 0
    zc, zr = np.zeros((strength.shape[0], 1)), np.zeros((1, strength.shape[1]))
    x = (strength > np.c_[zc, strength[:, :-1]]) & (strength > np.c_[strength[:, 1:], zc])
    y = (strength > np.r_[zr, strength[:-1, :]]) & (strength > np.r_[strength[1:, :], zr])
    return x | y


MAX_MARGIN = 100  # the reference walks at most 101 pixels away from an edge


def _stops(cond: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every column k of each row: the first index >= k where ``cond`` holds (len if none), and, shifted by
    one so that column 0 stands for k = -1, the last index <= k where it holds (-1 if none)."""
    rows, length = cond.shape
    cols = np.arange(length)
    ahead = np.minimum.accumulate(np.where(cond, cols, length)[:, ::-1], axis=1)[:, ::-1]
    ahead = np.concatenate([ahead, np.full((rows, 1), length)], axis=1)
    behind = np.maximum.accumulate(np.where(cond, cols, -1), axis=1)
    behind = np.concatenate([np.full((rows, 1), -1), behind], axis=1)
    return ahead, behind


def edge_widths(edges: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Width of every horizontal-gradient edge pixel (0 elsewhere).

    From an edge at column c the reference walks right while the intensity keeps moving in the edge's direction
    and stops at the first step that does not (or at the border, or after 101 pixels), and the same to the left;
    the width is the sum of both walks. Each walk is the distance to the first "stop" step, found here for all
    edge pixels at once from running minima/maxima of the stop positions along each row.
    """
    widths = np.zeros(image.shape)
    gy, gx = np.gradient(image)
    angles = np.where(gx != 0, np.degrees(np.arctan2(gy, gx)), np.where(gy == np.pi / 2, 90.0, 0.0))
    if not np.any(angles):
        return widths
    quantized = 45 * np.round(angles / 45)
    inner = np.zeros_like(edges, dtype=bool)
    inner[1:-1, 1:-1] = edges[1:-1, 1:-1]
    r, c = np.nonzero(inner & np.isin(quantized, (0, 180, -180)))
    if len(r) == 0:
        return widths
    step = np.diff(image, axis=1)  # step[:, k] = image[:, k + 1] - image[:, k]
    falling = quantized[r, c] != 0  # +-180: intensity falls from left to right across the edge
    # A rising edge stops both walks at a step that does not rise (<= 0), a falling one at a step that does not
    # fall (>= 0).
    ahead_up, behind_up = _stops(step <= 0)
    ahead_down, behind_down = _stops(step >= 0)
    ahead = np.where(falling, ahead_down[r, c + 1], ahead_up[r, c + 1])
    behind = np.where(falling, behind_down[r, c - 1], behind_up[r, c - 1])  # shifted: index c - 1 is k = c - 2
    right = np.minimum(ahead - (c + 1), MAX_MARGIN) + 1
    left = np.minimum((c - 2) - behind, MAX_MARGIN) + 1
    widths[r, c] = left + right
    return widths


def cpbd(gray: np.ndarray) -> float:
    """CPBD sharpness of a grayscale image (higher is sharper, in [0, 1])."""
    image = np.asarray(gray, dtype=np.float64)
    edges = canny(image)
    widths = edge_widths(sobel_edges(image), image)
    hist = np.zeros(101)
    total = 0
    for i in range(image.shape[0] // BLOCK):
        for j in range(image.shape[1] // BLOCK):
            rows, cols = slice(BLOCK * i, BLOCK * (i + 1)), slice(BLOCK * j, BLOCK * (j + 1))
            if np.count_nonzero(edges[rows, cols]) <= BLOCK * BLOCK * THRESHOLD:
                continue
            block_widths = widths[rows, cols]
            block_widths = block_widths[block_widths != 0]
            block = image[rows, cols]
            jnb = WIDTH_JNB[int(np.max(block) - np.min(block))]
            prob = 1 - np.exp(-(np.abs(block_widths / jnb) ** BETA))
            np.add.at(hist, np.round(prob * 100).astype(int), 1)
            total += len(prob)
    if total:
        hist /= total
    return float(np.sum(hist[:64]))
