"""Turning S3FD's raw maps into face boxes, vectorised (the original loops over every anchor in Python)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.nn import functional as F

VARIANCES = (0.1, 0.2)
CANDIDATE_THRESHOLD = 0.05
NMS_IOU = 0.3
KEEP_THRESHOLD = 0.5


def decode_maps(olist: Sequence[torch.Tensor], min_score: float = CANDIDATE_THRESHOLD) -> list[np.ndarray]:
    """Per image, every anchor with face probability above ``min_score`` as rows (x1, y1, x2, y2, score)."""
    batch = olist[0].shape[0]
    per_image: list[list[np.ndarray]] = [[] for _ in range(batch)]
    for level in range(len(olist) // 2):
        cls = F.softmax(olist[2 * level].float(), dim=1)[:, 1]
        reg = olist[2 * level + 1].float()
        stride = 2 ** (level + 2)
        b_idx, h_idx, w_idx = torch.nonzero(cls > min_score, as_tuple=True)
        if b_idx.numel() == 0:
            continue
        loc = reg[b_idx, :, h_idx, w_idx].double()  # (K, 4)
        anchor = 4.0 * stride
        cx = stride / 2 + w_idx.double() * stride + loc[:, 0] * VARIANCES[0] * anchor
        cy = stride / 2 + h_idx.double() * stride + loc[:, 1] * VARIANCES[0] * anchor
        w = anchor * torch.exp(loc[:, 2] * VARIANCES[1])
        h = anchor * torch.exp(loc[:, 3] * VARIANCES[1])
        x1, y1 = cx - w / 2, cy - h / 2
        rows = torch.stack([x1, y1, x1 + w, y1 + h, cls[b_idx, h_idx, w_idx].double()], dim=1).cpu().numpy()
        b_np = b_idx.cpu().numpy()
        for b in np.unique(b_np):
            per_image[b].append(rows[b_np == b])
    return [np.concatenate(rows) if rows else np.zeros((0, 5)) for rows in per_image]


def nms(dets: np.ndarray, thresh: float = NMS_IOU) -> np.ndarray:
    """Greedy non-maximum suppression with the +1 pixel area convention; indices kept, best first."""
    if len(dets) == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2, scores = dets.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        overlap = w * h / (areas[i] + areas[rest] - w * h)
        order = rest[overlap <= thresh]
    return np.asarray(keep, dtype=np.int64)


def boxes_from_maps(olist: Sequence[torch.Tensor]) -> list[np.ndarray]:
    """Kept faces per image (rows x1 y1 x2 y2 score, best first): NMS at IoU 0.3, then score above 0.5.

    Only candidates above 0.5 can survive, and greedy NMS lets a box be suppressed only by a higher-scoring
    one, so decoding just those gives the original's result at a fraction of the work.
    """
    results = []
    for dets in decode_maps(olist, min_score=KEEP_THRESHOLD):
        keep = nms(dets, NMS_IOU)
        kept = dets[keep]
        results.append(kept[kept[:, 4] > KEEP_THRESHOLD])
    return results
