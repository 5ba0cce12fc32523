"""The emotion demo's pictures: the grid (each emotion's real clip beside the NEU clip rendered with that label)
and where each label acts on the face (the mean absolute difference of each render from the NEU render)."""

from __future__ import annotations

import os

import cv2
import numpy as np

from emogen.common.atomic import atomic_path
from emogen.common.contract import EMOTIONS

GRID_FRAMES = 4
LABEL_WIDTH, GAP, HEADER = 48, 6, 24


def _write_png(image: np.ndarray, out_path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with atomic_path(out_path, suffix=".png") as tmp:
        if not cv2.imwrite(tmp, image):
            raise OSError(5, "could not write the image", out_path)
    return out_path


def _label(height: int, text: str) -> np.ndarray:
    tile = np.full((height, LABEL_WIDTH, 3), 255, np.uint8)
    cv2.putText(tile, text, (4, height // 2 + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def _header(width: int, texts: list) -> np.ndarray:
    header = np.full((HEADER, width, 3), 255, np.uint8)
    for x, text in texts:
        cv2.putText(header, text, (x, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return header


def grid_picture(real: dict, renders: dict, out_path: str) -> str:
    """A PNG: one row per emotion, GRID_FRAMES real faces of that emotion's clip beside GRID_FRAMES frames of the
    NEU clip rendered with that label ({emotion: (N, 96, 96, 3) uint8 BGR}); written atomically."""
    rows = []
    for e in EMOTIONS:
        tiles = []
        for faces in (real[e], renders[e]):
            picks = np.linspace(0, len(faces) - 1, GRID_FRAMES).round().astype(int)
            tiles.append(np.concatenate([faces[i] for i in picks], axis=1))
        gap = np.full((tiles[0].shape[0], GAP, 3), 255, np.uint8)
        rows.append(np.concatenate([_label(tiles[0].shape[0], e), tiles[0], gap, tiles[1]], axis=1))
    width = rows[0].shape[1]
    right = LABEL_WIDTH + 4 + (width - LABEL_WIDTH + GAP) // 2
    header = _header(width, [(LABEL_WIDTH + 4, "real clip of the emotion"), (right, "NEU clip rendered with it")])
    return _write_png(np.concatenate([header, *rows], axis=0), out_path)


def difference_picture(renders: dict, out_path: str, scale: float = 4.0) -> str:
    """A PNG of where each label changes the face: for each emotion, the mean render beside the mean absolute
    difference of its frames from the NEU render's (grey levels times ``scale``, white = no change)."""
    base = renders["NEU"].astype(np.float32)
    tiles = []
    for e in EMOTIONS:
        n = min(len(base), len(renders[e]))
        mean = renders[e][:n].astype(np.float32).mean(axis=0)
        diff = np.abs(renders[e][:n].astype(np.float32) - base[:n]).mean(axis=0).mean(axis=2)
        heat = 255 - np.clip(diff * scale, 0, 255)
        heat = cv2.cvtColor(heat.astype(np.uint8), cv2.COLOR_GRAY2BGR)
        column = np.concatenate([mean.round().astype(np.uint8), heat], axis=0)
        label = np.full((HEADER, column.shape[1], 3), 255, np.uint8)
        cv2.putText(label, e, (30, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        tiles += [
            np.concatenate([label, column], axis=0),
            np.full((HEADER + column.shape[0], GAP, 3), 255, np.uint8),
        ]
    picture = np.concatenate(tiles[:-1], axis=1)
    note = _header(
        picture.shape[1], [(4, f"top: mean render; bottom: |render - NEU render| x{scale:g} (dark = changed)")]
    )
    return _write_png(np.concatenate([note, picture], axis=0), out_path)
