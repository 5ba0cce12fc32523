"""Emotion accuracy (EmoAcc): a trained emotion discriminator classifies 5-frame face windows of generated videos,
with the emotion each video was generated for as the label."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import cv2
import numpy as np
import torch

from emogen.common.contract import EMOTIONS
from emogen.common.media import iter_frames

WINDOW = 5


def face_windows(
    path: str, detector=None, img_size: int = 96, boxes: Optional[Sequence[Optional[tuple]]] = None
) -> np.ndarray:
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
    """Clip-level results (the headline: a clip's class is the argmax of its windows' mean logits) and
    window-level results beside them."""

    confusion: np.ndarray = field(default_factory=lambda: np.zeros((6, 6), dtype=np.int64))  # windows [true, pred]
    clip_confusion: np.ndarray = field(default_factory=lambda: np.zeros((6, 6), dtype=np.int64))  # clips

    def add(self, label: int, logits: np.ndarray) -> None:
        """Record one clip's window logits (N,6)."""
        for pred in logits.argmax(axis=1):
            self.confusion[label, pred] += 1
        self.clip_confusion[label, int(logits.mean(axis=0).argmax())] += 1

    @property
    def videos(self) -> int:
        """Clips classified."""
        return int(self.clip_confusion.sum())

    @property
    def videos_correct(self) -> int:
        """Clips whose mean-logit class is the intended emotion."""
        return int(np.trace(self.clip_confusion))

    @property
    def clip_accuracy(self) -> float:
        """EmoAcc, the headline: share of clips classified as the intended emotion."""
        return self.videos_correct / self.videos if self.videos else float("nan")

    @property
    def accuracy(self) -> float:
        """Window-level accuracy: share of 5-frame windows classified as the intended emotion."""
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else float("nan")

    def per_emotion(self, clips: bool = True) -> dict[str, float]:
        """Accuracy per intended emotion, of clips (default) or windows (NaN where none)."""
        matrix = self.clip_confusion if clips else self.confusion
        out = {}
        for i, name in enumerate(EMOTIONS):
            row = matrix[i].sum()
            out[name] = float(matrix[i, i] / row) if row else float("nan")
        return out

    def table(self) -> str:
        """The summary: clip-level EmoAcc, window-level beside it, and the clip confusion matrix."""
        lines = [
            f"EmoAcc (clips, mean logits of each clip's windows): {self.clip_accuracy:.4f} "
            f"({self.videos_correct}/{self.videos})   window-level: {self.accuracy:.4f} "
            f"({int(np.trace(self.confusion))}/{int(self.confusion.sum())} windows)",
            "",
            "clips: intended \\ predicted  " + " ".join(f"{e:>5}" for e in EMOTIONS) + "  clip acc  window acc",
        ]
        clips, windows = self.per_emotion(True), self.per_emotion(False)
        for i, name in enumerate(EMOTIONS):
            lines.append(
                f"{name:>29}  "
                + " ".join(f"{v:5d}" for v in self.clip_confusion[i])
                + f"  {clips[name]:8.3f}  {windows[name]:10.3f}"
            )
        return "\n".join(lines)


def classify(model: torch.nn.Module, windows: np.ndarray, device: str = "cpu", batch_size: int = 32) -> np.ndarray:
    """Logits (N,6) of the windows."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(windows), batch_size):
            out.append(model(torch.from_numpy(windows[i : i + batch_size]).to(device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 6), np.float32)
