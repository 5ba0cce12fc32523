"""How well a generated video redraws a face it never saw in training: PSNR and SSIM inside the face box
against the real frames, how the generated mouth moves with the speech, and a side-by-side picture."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

import audio
from emogen.common.atomic import atomic_path
from emogen.common.contract import Coords
from emogen.common.media import iter_frames
from evaluation.metrics.image_quality import psnr, ssim
from hparams import hparams


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


def speech_energy(wav_path: str, fps: float, frames: int) -> np.ndarray:
    """RMS of the 16 kHz speech under each video frame."""
    wav = audio.load_wav(wav_path, hparams.sample_rate)
    bounds = (np.arange(frames + 1) * hparams.sample_rate / fps).astype(int)
    return np.array(
        [
            float(np.sqrt(np.mean(wav[a:b] ** 2))) if min(b, len(wav)) > a else 0.0
            for a, b in zip(bounds[:-1], bounds[1:])
        ]
    )


MOUTH_ROWS, MOUTH_COLUMNS = (0.6, 0.95), (0.25, 0.75)  # the mouth inside a face box, as fractions of its sides
MOUTH_SIZE = (48, 32)  # mouth crops are compared at one size, so a box that changes size does not count as motion
SMOOTHING_FRAMES = 3


def mouth_motion(video: str, coords: Sequence[Optional[Coords]]) -> np.ndarray:
    """Mean absolute grey-level change of the mouth (the lower-middle part of the face box, resized to MOUTH_SIZE)
    from the previous frame; 0 for the first frame and after a frame without a box."""
    changes, previous = [], None
    for i, frame in enumerate(iter_frames(video)):
        box = coords[i % len(coords)]
        if box is None:
            changes.append(0.0)
            previous = None
            continue
        y1, y2, x1, x2 = box
        h, w = y2 - y1, x2 - x1
        crop = frame[
            y1 + int(MOUTH_ROWS[0] * h) : y1 + int(MOUTH_ROWS[1] * h),
            x1 + int(MOUTH_COLUMNS[0] * w) : x1 + int(MOUTH_COLUMNS[1] * w),
        ]
        mouth = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), MOUTH_SIZE).astype(np.float32)
        changes.append(float(np.mean(np.abs(mouth - previous))) if previous is not None else 0.0)
        previous = mouth
    return np.array(changes)


def mouth_speech_correlation(video: str, wav_path: str, fps: float, coords: Sequence[Optional[Coords]]) -> float:
    """Pearson r between how much the mouth changes and how much the speech energy changes, frame by frame (both
    smoothed over SMOOTHING_FRAMES frames).

    Lips move when the sound starts, stops or changes, so the energy's change is compared, not its level (the
    level gave r = -0.5 on real footage). On the seven shared real talking-head clips (5-8 s) with their own
    soundtracks this gives r = -0.02 to +0.43 (mean +0.20); with the other clips' soundtracks +0.03 on average,
    and a clip's own soundtrack scores above that average for six clips of seven. A weak measure on a few
    seconds, to be read beside the same r of the real frames.
    """
    motion = mouth_motion(video, coords)
    energy = speech_energy(wav_path, fps, len(motion))
    kernel = np.ones(SMOOTHING_FRAMES) / SMOOTHING_FRAMES
    motion = np.convolve(motion, kernel, "same")[1:]
    energy_change = np.convolve(np.r_[0.0, np.abs(np.diff(energy))], kernel, "same")[1:]
    if len(motion) < 3 or motion.std() == 0 or energy_change.std() == 0:
        return 0.0
    return float(np.corrcoef(motion, energy_change)[0, 1])


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
