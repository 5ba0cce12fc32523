"""How well a generated video redraws a face it never saw in training: PSNR and SSIM inside the face box
against the real frames, and a side-by-side picture."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

from emogen.common.atomic import atomic_path
from emogen.common.contract import Coords
from emogen.common.media import iter_frames
from evaluation.metrics.image_quality import psnr, ssim


@dataclass
class FaceBoxScore:
    """Mean per-frame PSNR (dB, colour) and SSIM (grayscale) inside the face box, over ``frames`` frames."""

    psnr: float
    ssim: float
    frames: int


def face_box_score(real_video: str, generated_video: str, coords: Sequence[Optional[Coords]]) -> FaceBoxScore:
    """Score the face region (the crop the generator redraws) of every frame pair that has a box."""
    psnrs, ssims = [], []
    for i, (real, fake) in enumerate(zip(iter_frames(real_video), iter_frames(generated_video))):
        box = coords[i % len(coords)]
        if box is None:
            continue
        y1, y2, x1, x2 = box
        a, b = real[y1:y2, x1:x2], fake[y1:y2, x1:x2]
        psnrs.append(psnr(a, b))
        ssims.append(ssim(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.cvtColor(b, cv2.COLOR_BGR2GRAY)))
    finite = [p for p in psnrs if math.isfinite(p)]
    return FaceBoxScore(
        float(np.mean(finite)) if finite else math.inf, float(np.mean(ssims)) if ssims else 0.0, len(psnrs)
    )


def side_by_side(
    real_video: str,
    generated_videos: Sequence[tuple[str, str]],
    coords: Sequence[Optional[Coords]],
    out_path: str,
    count: int = 4,
    height: int = 160,
) -> str:
    """A PNG with ``count`` frames spread over the video: rows real | each generated video, face boxes only,
    labelled; written atomically."""
    real = list(iter_frames(real_video))
    fakes = [(label, list(iter_frames(path))) for label, path in generated_videos]
    n = min([len(real)] + [len(f) for _, f in fakes])
    picks = [i for i in np.linspace(0, n - 1, count).round().astype(int) if coords[i % len(coords)] is not None]
    columns = [("real", real)] + fakes
    # One tile size for every row (the boxes' mean shape): the box changes size from frame to frame.
    aspect = float(np.mean([(x2 - x1) / (y2 - y1) for y1, y2, x1, x2 in (coords[i % len(coords)] for i in picks)]))
    size = (max(1, round(height * aspect)), height)
    rows = []
    for i in picks:
        y1, y2, x1, x2 = coords[i % len(coords)]
        rows.append(np.concatenate([cv2.resize(frames[i][y1:y2, x1:x2], size) for _, frames in columns], axis=1))
    grid = np.concatenate(rows, axis=0)
    header = np.full((28, grid.shape[1], 3), 255, np.uint8)
    tile_w = grid.shape[1] // len(columns)
    for k, (label, _) in enumerate(columns):
        cv2.putText(header, label, (k * tile_w + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    image = np.concatenate([header, grid], axis=0)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with atomic_path(out_path, suffix=".png") as tmp:
        if not cv2.imwrite(tmp, image):
            raise OSError(5, "could not write the image", out_path)
    return out_path
