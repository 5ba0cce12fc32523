"""Emotion accuracy (EmoAcc): a trained emotion discriminator classifies 5-frame face windows of generated videos,
with the emotion each video was generated for as the label."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional, Sequence

import cv2
import numpy as np
import torch

from emogen import EMOTIONS
from emogen.media import iter_frames

WINDOW = 5


def intended_emotion(path: str) -> Optional[int]:
    """The emotion a video was generated for: the last ANG/DIS/FEA/HAP/NEU/SAD field of its name."""
    fields = os.path.splitext(os.path.basename(path))[0].split("_")
    for token in reversed(fields):
        if token.upper() in EMOTIONS:
            return EMOTIONS.index(token.upper())
    return None


def reference_video(generated: str, reference_dir: str) -> Optional[str]:
    """The source video of a generated one: the same name, or the name without its _<EMOTION> suffix."""
    name = os.path.basename(generated)
    stem, ext = os.path.splitext(name)
    candidates = [name]
    if intended_emotion(generated) is not None and "_" in stem:
        candidates.append(stem.rsplit("_", 1)[0] + ext)
    for candidate in candidates:
        path = os.path.join(reference_dir, candidate)
        if os.path.isfile(path):
            return path
    return None


def face_windows(path: str, detector=None, img_size: int = 96,
                 boxes: Optional[Sequence[Optional[tuple]]] = None) -> np.ndarray:
    """Non-overlapping 5-frame windows of face crops (N,3,5,96,96) in [0, 1], BGR as in training.

    Each frame is cropped to its face box: from ``boxes`` (frame i uses boxes[i mod len], as inference cycles a
    shorter face video), else from ``detector``; frames without a face break the window. With neither, the
    whole frame is used.
    """
    windows, current = [], []
    for index, frame in enumerate(iter_frames(path)):
        if boxes is not None or detector is not None:
            box = boxes[index % len(boxes)] if boxes else detector.best_boxes([frame])[0]
            if box is None:
                current = []
                continue
            x1, y1, x2, y2 = box
            frame = frame[y1:y2, x1:x2]
        current.append(cv2.resize(frame, (img_size, img_size)))
        if len(current) == WINDOW:
            windows.append(np.stack(current))
            current = []
    if not windows:
        return np.zeros((0, 3, WINDOW, img_size, img_size), np.float32)
    return np.stack(windows).transpose(0, 4, 1, 2, 3).astype(np.float32) / 255.0


@dataclass
class EmotionReport:
    """Window- and video-level results."""

    confusion: np.ndarray = field(default_factory=lambda: np.zeros((6, 6), dtype=np.int64))  # [true, predicted]
    videos: int = 0
    videos_correct: int = 0

    def add(self, label: int, logits: np.ndarray) -> None:
        """Record one video's window logits (N,6)."""
        for pred in logits.argmax(axis=1):
            self.confusion[label, pred] += 1
        self.videos += 1
        self.videos_correct += int(logits.mean(axis=0).argmax() == label)

    @property
    def accuracy(self) -> float:
        """Share of windows classified as the intended emotion."""
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else float("nan")

    def per_emotion(self) -> dict[str, float]:
        """Window accuracy per intended emotion (NaN where none)."""
        out = {}
        for i, name in enumerate(EMOTIONS):
            row = self.confusion[i].sum()
            out[name] = float(self.confusion[i, i] / row) if row else float("nan")
        return out

    def table(self) -> str:
        """The summary table with the confusion matrix."""
        lines = [f"EmoAcc (windows): {self.accuracy:.4f}   videos: {self.videos_correct}/{self.videos} "
                 f"(mean logits)", "", "intended \\ predicted  " + " ".join(f"{e:>5}" for e in EMOTIONS) + "    acc"]
        for i, name in enumerate(EMOTIONS):
            acc = self.per_emotion()[name]
            lines.append(f"{name:>20}  " + " ".join(f"{v:5d}" for v in self.confusion[i]) + f"  {acc:5.3f}")
        return "\n".join(lines)


def classify(model: torch.nn.Module, windows: np.ndarray, device: str = "cpu", batch_size: int = 32) -> np.ndarray:
    """Logits (N,6) of the windows."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(windows), batch_size):
            out.append(model(torch.from_numpy(windows[i:i + batch_size]).to(device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 6), np.float32)
