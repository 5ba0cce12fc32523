"""Does the emotion label change the face? One preprocessed clip rendered with each of the six labels, scored by
an emotion classifier trained separately on the real clips, and by how far apart the renders are in the upper
face (brows and eyes), where zero means the label changes nothing there."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from itertools import combinations
from typing import Mapping, Sequence

import cv2
import numpy as np
import torch

from emogen.common.contract import EMOTIONS, MEL_STEP_SIZE, WINDOW, emotion_one_hot, mel_index
from emogen.data.layout import MEL_FILE
from emogen.inference.geometry import generator_inputs

UPPER_FACE_ROWS = (0.0, 0.5)
"""The brows and eyes: the top half of a 96 px crop (the nose tip and mouth are below its middle)."""


@dataclass
class ClipFaces:
    """The face crops of a preprocessed clip that have a full mel window, with their frame numbers and mels."""

    frames: list[int]
    faces: np.ndarray  # (N, 96, 96, 3) uint8 BGR
    mels: np.ndarray  # (N, 80, 16)


@dataclass
class Judgement:
    """What the classifier calls one render: the requested label, the mean probability of each emotion."""

    requested: str
    probabilities: dict[str, float]

    @property
    def predicted(self) -> str:
        """The emotion with the highest mean probability."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def correct(self) -> bool:
        """Whether the classifier agrees with the label the render was asked for."""
        return self.predicted == self.requested


@dataclass
class LabelScores:
    """The six renders' judgements and their upper-face distance (mean absolute difference, 0-255 levels)."""

    judgements: list[Judgement] = field(default_factory=list)
    upper_face_distance: float = 0.0

    @property
    def correct(self) -> int:
        """How many renders the classifier assigns to the requested emotion."""
        return sum(j.correct for j in self.judgements)

    @property
    def accuracy(self) -> float:
        """The share of renders assigned to the requested emotion."""
        return self.correct / max(1, len(self.judgements))


def read_clip_faces(folder: str, fps: float, img_size: int = 96) -> ClipFaces:
    """The crops of a preprocess_crema-d.py clip folder, in frame order, each with the mel window inference
    gives that frame (starting at int(80 * frame / fps), 16 steps)."""
    mel = np.load(os.path.join(folder, MEL_FILE))
    numbers = sorted(int(f[:-4]) for f in os.listdir(folder) if f.endswith(".jpg") and f[:-4].isdigit())
    frames, faces, mels = [], [], []
    for n in numbers:
        start = mel_index(n, fps)
        image = cv2.imread(os.path.join(folder, f"{n}.jpg"))
        if image is None or start + MEL_STEP_SIZE > mel.shape[1]:
            continue
        frames.append(n)
        faces.append(cv2.resize(image, (img_size, img_size)))
        mels.append(mel[:, start : start + MEL_STEP_SIZE])
    return ClipFaces(frames, np.stack(faces), np.stack(mels).astype(np.float32))


def render_faces(model: torch.nn.Module, clip: ClipFaces, emotion: str, batch: int = 16) -> np.ndarray:
    """The generator's faces (N, 96, 96, 3) uint8 BGR for every crop of ``clip`` with ``emotion``, each frame its
    own reference as in inference.py."""
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for i in range(0, len(clip.faces), batch):
            mel, face = generator_inputs(list(clip.faces[i : i + batch]), list(clip.mels[i : i + batch]), 96)
            labels = np.repeat(emotion_one_hot(emotion)[None], len(mel), axis=0)
            pred = model(*(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in (mel, face, labels)))
            out.append((pred.float().clamp(0, 1).cpu().numpy().transpose(0, 2, 3, 1) * 255.0).round())
    return np.concatenate(out).astype(np.uint8)


def classify(classifier: torch.nn.Module, faces: np.ndarray) -> dict[str, float]:
    """Mean probability of each emotion over every 5-frame window of ``faces`` ((N,96,96,3) uint8 BGR, the
    layout the classifier trained on)."""
    device = next(classifier.parameters()).device
    video = torch.from_numpy(faces.astype(np.float32) / 255.0).permute(3, 0, 1, 2)  # (3, N, 96, 96)
    windows = torch.stack([video[:, s : s + WINDOW] for s in range(len(faces) - WINDOW + 1)])
    with torch.inference_mode():
        probs = torch.softmax(classifier(windows.to(device)).float(), dim=1).mean(dim=0).cpu().numpy()
    return {e: float(p) for e, p in zip(EMOTIONS, probs)}


def upper_face_distance(renders: Sequence[np.ndarray]) -> float:
    """Mean absolute difference (0-255 levels) in the upper face between every pair of renders, frame by frame
    over the shortest one's length; 0 when the label leaves the brows and eyes as they are."""
    top, bottom = (int(round(f * renders[0].shape[1])) for f in UPPER_FACE_ROWS)
    n = min(len(r) for r in renders)
    pairs = [
        float(np.abs(a[:n, top:bottom].astype(np.float32) - b[:n, top:bottom].astype(np.float32)).mean())
        for a, b in combinations(renders, 2)
    ]
    return float(np.mean(pairs)) if pairs else 0.0


def score_labels(classifier: torch.nn.Module, renders: Mapping[str, np.ndarray]) -> LabelScores:
    """Judge each render by the label it was asked for, and measure how far apart the renders are."""
    judgements = [Judgement(e, classify(classifier, faces)) for e, faces in renders.items()]
    return LabelScores(judgements, upper_face_distance(list(renders.values())))
