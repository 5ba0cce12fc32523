"""A picture of lip sync: for each video, its mouth opening and the loudness of the speech that drives it over
time, each scaled to its own range, so a viewer sees whether the mouth opens where the speech is loud."""

from __future__ import annotations

import os
from typing import Sequence

import cv2
import numpy as np

from emogen.common.atomic import atomic_path

PANEL_HEIGHT, LEFT, WIDTH = 150, 10, 900
MOUTH_COLOUR, SPEECH_COLOUR = (40, 40, 40), (0, 140, 255)  # BGR: dark grey and orange


def _scaled(values: np.ndarray, height: int) -> np.ndarray:
    """Pixel rows for ``values`` scaled into [0.1, 0.9] of ``height`` (top = largest); nan stays nan."""
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    return height * (0.9 - 0.8 * (values - lo) / span)


def _curve(panel: np.ndarray, values: np.ndarray, colour, frames: int, top: int) -> None:
    rows = _scaled(np.asarray(values, dtype=np.float64), PANEL_HEIGHT - 30)
    xs = LEFT + np.arange(len(rows)) * (WIDTH - 2 * LEFT) / max(1, frames - 1)
    points = [(int(x), top + int(y)) for x, y in zip(xs, rows) if np.isfinite(y)]
    for a, b in zip(points[:-1], points[1:]):
        cv2.line(panel, a, b, colour, 2, cv2.LINE_AA)


def plot_mouth_and_speech(rows: Sequence[tuple[str, Sequence[float], Sequence[float]]], out_path: str) -> str:
    """A PNG with one panel per (label, mouth openings, speech loudness) row, written atomically."""
    frames = max(len(r[1]) for r in rows)
    panels = []
    for label, openings, loudness in rows:
        panel = np.full((PANEL_HEIGHT, WIDTH, 3), 255, np.uint8)
        cv2.putText(panel, label, (LEFT, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        _curve(panel, np.asarray(loudness), SPEECH_COLOUR, frames, 26)
        _curve(panel, np.asarray(openings), MOUTH_COLOUR, frames, 26)
        cv2.line(panel, (0, PANEL_HEIGHT - 1), (WIDTH, PANEL_HEIGHT - 1), (200, 200, 200), 1)
        panels.append(panel)
    legend = np.full((26, WIDTH, 3), 255, np.uint8)
    for x, text, colour in ((LEFT, "mouth opening", MOUTH_COLOUR), (200, "speech loudness (log RMS)", SPEECH_COLOUR)):
        cv2.line(legend, (x, 13), (x + 24, 13), colour, 3)
        cv2.putText(legend, text, (x + 30, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with atomic_path(out_path, suffix=".png") as tmp:
        if not cv2.imwrite(tmp, np.concatenate([legend, *panels])):
            raise OSError(5, "could not write the image", out_path)
    return out_path
