"""syncnet_python's S3FD post-processing: priors, box decoding, per-class NMS, confidence 0.9, NMS 0.1.

Reference semantics (run_pipeline.py with its detectors/s3fd): anchors of size 16..512 at strides 4..128 in
coordinates relative to the (scaled) input; boxes decoded with variances (0.1, 0.2); candidates above 0.05
sorted by score, the best 5000 kept, greedy NMS at IoU 0.3 (plain areas) and at most 750 boxes; those above
``conf_th`` (0.9), in score order, scaled to the full frame; then greedy NMS at IoU 0.1. Every face is kept.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

MIN_SIZES = (16, 32, 64, 128, 256, 512)
STEPS = (4, 8, 16, 32, 64, 128)
VARIANCES = (0.1, 0.2)
CANDIDATE_THRESHOLD, CANDIDATE_NMS, NMS_TOP_K, TOP_K = 0.05, 0.3, 5000, 750


def priors(image_hw: tuple[int, int], sizes: Sequence[tuple[int, int]]) -> np.ndarray:
    """(P, 4) prior boxes (cx, cy, w, h) relative to the input, in the order the heads are flattened."""
    imh, imw = image_hw
    out = []
    for (fh, fw), step, size in zip(sizes, STEPS, MIN_SIZES):
        jj, ii = np.meshgrid(np.arange(fw), np.arange(fh))
        cx = (jj.ravel() + 0.5) / (imw / step)
        cy = (ii.ravel() + 0.5) / (imh / step)
        out.append(np.stack([cx, cy, np.full_like(cx, size / imw), np.full_like(cx, size / imh)], axis=1))
    return np.concatenate(out).astype(np.float32)


def decode(loc: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """(P, 4) boxes x1 y1 x2 y2 relative to the input."""
    centre = prior[:, :2] + loc[:, :2] * VARIANCES[0] * prior[:, 2:]
    size = prior[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    x1y1 = centre - size / 2
    return np.concatenate([x1y1, x1y1 + size], axis=1)


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Indices kept by greedy NMS in descending score order, IoU with plain areas, kept while IoU <= threshold."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        order = rest[inter / (areas[i] + areas[rest] - inter) <= threshold]
    return keep


def detect(
    loc: np.ndarray,
    prob: np.ndarray,
    prior: np.ndarray,
    frame_wh: tuple[int, int],
    conf_th: float = 0.9,
    final_nms: float = 0.1,
) -> np.ndarray:
    """Faces of one image as rows (x1, y1, x2, y2, score) in full-frame pixels."""
    boxes = decode(loc, prior)
    candidates = np.nonzero(prob > CANDIDATE_THRESHOLD)[0]
    if candidates.size == 0:
        return np.zeros((0, 5))
    scores = prob[candidates]
    best = candidates[np.argsort(-scores, kind="stable")[:NMS_TOP_K]]
    kept = best[greedy_nms(boxes[best], prob[best], CANDIDATE_NMS)][:TOP_K]
    kept = kept[prob[kept] > conf_th]
    w, h = frame_wh
    rows = np.concatenate([boxes[kept] * np.array([w, h, w, h]), prob[kept, None]], axis=1).astype(np.float64)
    if len(rows) == 0:
        return np.zeros((0, 5))
    return rows[greedy_nms(rows[:, :4], rows[:, 4], final_nms)]
