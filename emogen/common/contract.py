"""The facts every stage must agree on, defined once: emotion labels and their order, the 5-frame window, the
16-step mel window and where it starts, and the face box type with its interpolation.

The released generator depends on each of them; change nothing here without new weights.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Union

import numpy as np

from .errors import UserError

EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
"""Emotion labels in the index order baked into the released generator's one-hot input."""

EMOTION_WORDS = {"ANG": "Angry", "DIS": "Disgusted", "FEA": "Fearful", "HAP": "Happy", "NEU": "Neutral", "SAD": "Sad"}

WINDOW = 5
"""Frames per training window (syncnet_T / emonet_T), the emotion-scoring window and the box-smoothing window."""

MEL_STEP_SIZE = 16
"""Mel steps per output frame (0.2 s of audio at 80 mel steps per second)."""

MEL_STEPS_PER_SECOND = 80.0

Box = tuple[int, int, int, int]
"""A face box (x1, y1, x2, y2) in pixels of the frame it was found in."""

Coords = tuple[int, int, int, int]
"""A crop as the original stores it: (y1, y2, x1, x2)."""


def emotion_index(emotion: str) -> int:
    """Index of an emotion label (ANG 0 ... SAD 5); a UserError naming the choices for anything else."""
    label = (emotion or "").strip().upper()
    if label not in EMOTIONS:
        raise UserError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTIONS)} (or all)")
    return EMOTIONS.index(label)


def emotion_one_hot(emotion: str) -> np.ndarray:
    """float32 one-hot vector in the order ANG, DIS, FEA, HAP, NEU, SAD."""
    vec = np.zeros(len(EMOTIONS), dtype=np.float32)
    vec[emotion_index(emotion)] = 1.0
    return vec


def parse_emotions(values: Union[str, Iterable[Optional[str]], None]) -> list[str]:
    """'all', one emotion, or several (one comma-separated string, or a list of them) -> the emotions to
    generate, without duplicates, always in the canonical order ANG, DIS, FEA, HAP, NEU, SAD.

    'all' may stand beside other labels (it already holds them). Anything else is one UserError.
    """
    items = [values] if isinstance(values, str) or values is None else list(values)
    chosen: set[str] = set()
    for item in items:
        for part in (item or "").split(","):
            label = part.strip().upper()
            if not label:
                continue
            if label == "ALL":
                chosen.update(EMOTIONS)
                continue
            chosen.add(EMOTIONS[emotion_index(label)])
    if not chosen:
        raise UserError(f"choose at least one emotion: {', '.join(EMOTIONS)}, several joined by commas, or all")
    return [e for e in EMOTIONS if e in chosen]


def mel_index(frame: int, fps: float) -> int:
    """First mel step of the window that drives video frame ``frame``: int(frame * 80 / fps), computed as the
    original's inference does (int(i * (80 / fps))); its training form int(80 * (frame / fps)) gives the same
    integers (tests check both)."""
    return int(frame * (MEL_STEPS_PER_SECOND / fps))


def interpolate_box(a: Sequence[float], b: Sequence[float], t: float) -> Box:
    """The box a fraction ``t`` of the way from ``a`` to ``b``, rounded to pixels."""
    return tuple(int(round((1 - t) * p + t * q)) for p, q in zip(a, b))  # type: ignore[return-value]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes (x1, y1, x2, y2); 0 when both are empty."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


MOUTH_REGION = (0.58, 1.0, 0.18, 0.82)
"""Where the mouth lies in a face crop (top, bottom, left, right as fractions of its sides): the part of the
reference face that ``--reference masked_mouth`` (inference) and ``--reference_mouth mask`` (training) set to zero,
so the generator cannot copy the reference's mouth and has to draw it from the speech."""


def mask_mouth(crops: np.ndarray) -> np.ndarray:
    """A copy of ``crops`` (..., H, W, C) with MOUTH_REGION set to zero."""
    out = np.array(crops, copy=True)
    h, w = out.shape[-3], out.shape[-2]
    top, bottom, left, right = MOUTH_REGION
    out[..., int(round(top * h)) : int(round(bottom * h)), int(round(left * w)) : int(round(right * w)), :] = 0
    return out
