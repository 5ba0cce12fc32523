"""Training data for the three EmoGen networks, read from the preprocessed layout (one module for all scripts).

Per clip folder: ``<frame>.jpg`` face crops, ``mel.npy`` (cached normalized mel, never recomputed here),
names ``ActorID_SentenceID_EMOTION_INTENSITY``. Samples are 5-frame windows; mel windows are 16 steps starting
at int(80 * frame / fps). Broken samples are skipped (counted) and never loop forever.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from emogen.common.contract import EMOTIONS, MEL_STEP_SIZE, WINDOW, mask_mouth, mel_index
from emogen.common.errors import UserError
from hparams import HParams
from hparams import hparams as default_hparams

from .augment import WindowAugment
from .crema_d import emotion_of, parse_crema_name
from .layout import MEL_FILE

T = WINDOW
REFERENCE_MODES = ("same_clip", "other_emotion", "neutral")
REFERENCE_MOUTH_MODES = ("keep", "mask")  # mask: the reference window's mouth region set to zero
"""Where the generator's reference window comes from: the target's own clip (the original); a clip of the same
actor with another emotion, so that the expression has to come from the label; or the same actor's neutral clips,
the case of a user's own (often neutral) face at inference."""
NEUTRAL = EMOTIONS.index("NEU")
MAX_ATTEMPTS = 100  # tries per sample before giving up with a clear message


@dataclass
class Clip:
    """One preprocessed video: its folder, emotion index, and the window starts whose 5 frames all exist."""

    name: str
    folder: str
    emotion: int
    frames: list[int]
    starts: list[int]


def index_clips(data_root: str, names: Sequence[str]) -> tuple[list[Clip], list[str]]:
    """Clips usable for training (more than 3*T frames, at least one full window) and the names left out."""
    clips, left_out = [], []
    for name in names:
        folder = os.path.join(data_root, name)
        try:
            frames = sorted(int(f[:-4]) for f in os.listdir(folder) if f.endswith(".jpg") and f[:-4].isdigit())
            emotion = emotion_of(name)
        except (OSError, ValueError):
            left_out.append(name)
            continue
        present = set(frames)
        starts = [s for s in frames if all(s + k in present for k in range(T))]
        if len(frames) <= 3 * T or not starts or not os.path.isfile(os.path.join(folder, MEL_FILE)):
            left_out.append(name)
            continue
        clips.append(Clip(name, folder, emotion, frames, starts))
    return clips, left_out


def one_hot(index: int, n: int = len(EMOTIONS)) -> np.ndarray:
    """float32 one-hot vector."""
    v = np.zeros(n, dtype=np.float32)
    v[index] = 1.0
    return v


class SampleError(Exception):
    """A sample that cannot be built (missing frame, unreadable JPEG, audio too short); another is drawn."""


class WindowDataset(Dataset):
    """Base: random clip, random window; subclasses build the tensors. ``len`` is the number of clips unless
    ``length`` sets the samples per epoch (the original's random split draws from all clips)."""

    augment_p: float = 0.2
    augment_p_noise: Optional[float] = None

    def __init__(
        self,
        data_root: str,
        names: Sequence[str],
        hp: Optional[HParams] = None,
        augment: bool = True,
        seed: Optional[int] = None,
        length: Optional[int] = None,
    ) -> None:
        self.hp = hp or default_hparams
        self.clips, self.left_out = index_clips(data_root, names)
        if not self.clips:
            raise UserError(
                f"none of the {len(names)} clips listed yields a training sample under {data_root} "
                f"(each needs more than {3 * T} face frames, a full {T}-frame window and {MEL_FILE}); "
                "check --data_root and the filelist"
            )
        self.augment = WindowAugment(self.augment_p, self.augment_p_noise) if augment else None
        self.seed = seed
        self.length = len(self.clips) if length is None else length  # samples per epoch
        self._rng: Optional[random.Random] = None
        self.skipped = 0

    @property
    def rng(self) -> random.Random:
        """Per-process generator: seeded from torch's seed, which DataLoader sets differently in every worker."""
        if self._rng is None:
            base = torch.initial_seed() if self.seed is None else self.seed
            self._rng = random.Random(base)
        return self._rng

    def __len__(self) -> int:
        return self.length

    def read_window(self, clip: Clip, start: int) -> np.ndarray:
        """(T,H,W,3) uint8 BGR frames start..start+4 resized to img_size."""
        size = self.hp.img_size
        out = np.empty((T, size, size, 3), dtype=np.uint8)
        for k in range(T):
            img = cv2.imread(os.path.join(clip.folder, f"{start + k}.jpg"))
            if img is None:
                raise SampleError(f"unreadable frame {start + k} of {clip.name}")
            out[k] = cv2.resize(img, (size, size))
        return out

    def mel(self, clip: Clip) -> np.ndarray:
        """The cached mel of a clip, (80, frames), memory-mapped (read, not recomputed)."""
        return np.load(os.path.join(clip.folder, MEL_FILE), mmap_mode="r")

    def mel_window(self, mel: np.ndarray, frame: int) -> np.ndarray:
        """(80, 16) mel starting at int(80 * frame / fps)."""
        start = mel_index(frame, float(self.hp.fps))
        if start < 0 or start + MEL_STEP_SIZE > mel.shape[1]:
            raise SampleError("audio too short for this window")
        return np.array(mel[:, start : start + MEL_STEP_SIZE], dtype=np.float32)  # a copy: the cache is read-only

    def frame_mels(self, mel: np.ndarray, start: int) -> np.ndarray:
        """(T, 80, 16): frame k of the window uses the mel at frame start + k - 1 (one earlier, as the original)."""
        if start - 1 < 0:
            raise SampleError("window starts at frame 0")
        return np.stack([self.mel_window(mel, start + k - 1) for k in range(T)])

    def other_start(self, clip: Clip, start: int) -> int:
        """A different window start of the same clip."""
        choices = [s for s in clip.starts if s != start]
        if not choices:
            raise SampleError("clip has a single window")
        return self.rng.choice(choices)

    def augment_frames(self, frames: np.ndarray) -> np.ndarray:
        """The same colour augmentation on every frame given."""
        return self.augment(frames, self.rng) if self.augment else frames

    def build(self, clip: Clip):
        """Make one sample from ``clip`` or raise SampleError."""
        raise NotImplementedError

    def __getitem__(self, idx: int):
        for _ in range(MAX_ATTEMPTS):
            clip = self.rng.choice(self.clips)
            try:
                return self.build(clip)
            except SampleError:
                self.skipped += 1
        raise UserError(
            f"no usable sample in {MAX_ATTEMPTS} attempts ({self.skipped} skipped so far): frames are "
            "missing or unreadable or the audio is too short; re-run preprocess_crema-d.py"
        )


def to_tensor_video(frames: np.ndarray) -> torch.Tensor:
    """(T,H,W,3) uint8 -> (3,T,H,W) float in [0, 1]."""
    return torch.from_numpy(frames.transpose(3, 0, 1, 2).astype(np.float32) / 255.0)


class SyncDataset(WindowDataset):
    """Lip-sync expert data: (lower halves (15,48,96), mel (1,80,16), label 1 synced / 0 off-sync)."""

    augment_p_noise = 0.25  # EmoGen's expert augmentation (Wav2Lip's had none; 0.2 for the other ops)

    def build(self, clip: Clip):
        start = self.rng.choice(clip.starts)
        synced = self.rng.random() < 0.5
        shown = start if synced else self.other_start(clip, start)
        mel = self.mel_window(self.mel(clip), start)
        frames = self.augment_frames(self.read_window(clip, shown))
        x = np.concatenate(list(frames), axis=2).astype(np.float32) / 255.0  # H, W, 3T
        x = x.transpose(2, 0, 1)
        x = x[:, x.shape[1] // 2 :]
        return (
            torch.from_numpy(np.ascontiguousarray(x)),
            torch.from_numpy(mel).unsqueeze(0),
            torch.tensor([1.0 if synced else 0.0]),
        )


class EmotionDataset(WindowDataset):
    """Emotion discriminator data: (whole-face window (3,T,96,96) in [0,1], one-hot emotion (6,))."""

    augment_p_noise = 0.25  # the original's GaussNoise probability for this dataset

    def build(self, clip: Clip):
        frames = self.augment_frames(self.read_window(clip, self.rng.choice(clip.starts)))
        return to_tensor_video(frames), torch.from_numpy(one_hot(clip.emotion))


def actor_of(name: str) -> str:
    """The actor of a clip: the first field of a CREMA-D name (the whole name when it has no fields)."""
    parsed = parse_crema_name(name)
    return parsed.actor if parsed else name.split("_")[0]


class GeneratorDataset(WindowDataset):
    """Generator data: (input (6,T,96,96) = masked zeros + reference window, per-frame mels (T,1,80,16),
    mel (1,80,16), ground truth (3,T,96,96), one-hot emotion (6,)).

    ``reference="same_clip"`` draws the reference window from the target's clip, as the original; the label is
    then redundant with the reference's expression. ``"other_emotion"`` draws it from a clip of the same actor
    with a different emotion; ``"neutral"`` from another NEU clip of the same actor (for a NEU target too). Where
    the actor has no such clip the reference stays in the target's clip (counted in ``same_clip_fallbacks``;
    for ``"neutral"`` that is the original's NEU-from-NEU case)."""

    augment_p = 0.4

    def __init__(self, *args, reference: str = "same_clip", reference_mouth: str = "keep", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if reference not in REFERENCE_MODES:
            raise UserError(f"reference window {reference!r} is not one of {', '.join(REFERENCE_MODES)}")
        if reference_mouth not in REFERENCE_MOUTH_MODES:
            raise UserError(f"reference mouth {reference_mouth!r} is not one of {', '.join(REFERENCE_MOUTH_MODES)}")
        self.reference = reference
        self.mask_reference_mouth = reference_mouth == "mask"
        self.partners: dict[str, list[Clip]] = {
            clip.name: [other for other in self.clips if self._partner(clip, other)] for clip in self.clips
        }
        self.same_clip_fallbacks = 0

    def _partner(self, clip: Clip, other: Clip) -> bool:
        """Whether ``other`` may give ``clip``'s reference windows under this dataset's reference mode."""
        if self.reference == "same_clip" or actor_of(other.name) != actor_of(clip.name):
            return False
        if self.reference == "neutral":
            return other.emotion == NEUTRAL and other.name != clip.name
        return other.emotion != clip.emotion

    @property
    def clips_without_partner(self) -> list[str]:
        """Clips with no clip to draw references from under this reference mode (theirs stay in the clip)."""
        return [name for name, others in self.partners.items() if not others]

    def reference_window(self, clip: Clip, start: int) -> np.ndarray:
        """The reference window for a target window of ``clip`` starting at ``start``."""
        others = self.partners[clip.name]
        if others:
            source = self.rng.choice(others)
            return self.read_window(source, self.rng.choice(source.starts))
        if self.reference != "same_clip":
            self.same_clip_fallbacks += 1
        return self.read_window(clip, self.other_start(clip, start))

    def build(self, clip: Clip):
        start = self.rng.choice(clip.starts)
        mel = self.mel(clip)
        window_mel = self.mel_window(mel, start)
        frame_mels = self.frame_mels(mel, start)
        reference = self.reference_window(clip, start)
        both = self.augment_frames(np.concatenate([self.read_window(clip, start), reference]))
        gt, ref = (
            to_tensor_video(both[:T]),
            to_tensor_video(mask_mouth(both[T:]) if self.mask_reference_mouth else both[T:]),
        )
        x = torch.cat([torch.zeros_like(ref), ref], dim=0)  # EmoGen masks the whole target face
        return (
            x,
            torch.from_numpy(frame_mels).unsqueeze(1),
            torch.from_numpy(window_mel).unsqueeze(0),
            gt,
            torch.from_numpy(one_hot(clip.emotion)),
        )
