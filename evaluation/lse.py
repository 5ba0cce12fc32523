"""LSE-D and LSE-C, the lip-sync metrics published papers report (syncnet_python's SyncNetInstance.evaluate).

For each start frame v up to min(frames, samples / 640) - 5: the lip window is frames v..v+4 (224x224, BGR
0..255) and the audio window MFCC columns 4v..4v+19 (13 MFCCs per 10 ms, python_speech_features on the raw
int16 samples). Distances between each lip embedding and the audio embeddings shifted by -vshift..+vshift
(zero-padded) are averaged over frames; LSE-D is the minimum of that average, LSE-C its median minus the
minimum, and the offset is vshift minus the index of the minimum.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import python_speech_features
import torch

from models.syncnet_eval import SyncNetEval

VSHIFT = 15
LIP_SIZE = 224


@dataclass
class SyncScore:
    """Offset (frames), LSE-D (min mean distance) and LSE-C (confidence) of one clip or track."""

    offset: int
    dist: float
    conf: float
    windows: int


def mfcc(audio_int16: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """(13, steps) MFCCs at 100 steps per second, as syncnet_python computes them."""
    return np.stack([np.array(c) for c in zip(*python_speech_features.mfcc(audio_int16, sample_rate))])


def lip_frames(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Face crops resized to 224x224, stacked (T,224,224,3), float32 in 0..255 BGR."""
    return np.stack([cv2.resize(f, (LIP_SIZE, LIP_SIZE)) for f in frames]).astype(np.float32)


def embeddings(model: SyncNetEval, frames: np.ndarray, audio_int16: np.ndarray, sample_rate: int = 16000,
               batch_size: int = 20, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Lip and audio embeddings of every window (W,1024) each."""
    cc = torch.from_numpy(mfcc(audio_int16, sample_rate).astype(np.float32))[None, None]  # (1,1,13,steps)
    video = torch.from_numpy(frames).permute(3, 0, 1, 2)[None]  # (1,3,T,224,224)
    windows = min(len(frames), len(audio_int16) // 640) - 5
    if windows <= 0:
        raise ValueError(f"too short to score: {len(frames)} frames and {len(audio_int16) / sample_rate:.2f} s "
                         "of audio give no 5-frame window")
    lips, auds = [], []
    with torch.inference_mode():
        for start in range(0, windows, batch_size):
            idx = range(start, min(windows, start + batch_size))
            lip = torch.cat([video[:, :, v:v + 5] for v in idx]).to(device)
            aud = torch.cat([cc[:, :, :, 4 * v:4 * v + 20] for v in idx]).to(device)
            lips.append(model.forward_lip(lip).cpu())
            auds.append(model.forward_aud(aud).cpu())
    return torch.cat(lips), torch.cat(auds)


def shifted_distances(lip: torch.Tensor, aud: torch.Tensor, vshift: int = VSHIFT) -> torch.Tensor:
    """(W, 2*vshift+1): distance of lip i to audio i+s-vshift for every shift s (audio zero-padded)."""
    win = 2 * vshift + 1
    padded = torch.nn.functional.pad(aud, (0, 0, vshift, vshift))
    return torch.stack([torch.nn.functional.pairwise_distance(lip[[i], :].repeat(win, 1), padded[i:i + win, :])
                        for i in range(len(lip))])


def score_embeddings(lip: torch.Tensor, aud: torch.Tensor, vshift: int = VSHIFT) -> SyncScore:
    """Offset, LSE-D and LSE-C from window embeddings."""
    mean_dist = shifted_distances(lip, aud, vshift).mean(dim=0)
    min_val, min_idx = torch.min(mean_dist, 0)
    return SyncScore(offset=int(vshift - min_idx), dist=float(min_val),
                     conf=float(torch.median(mean_dist) - min_val), windows=len(lip))


def score_clip(model: SyncNetEval, frames: Sequence[np.ndarray], audio_int16: np.ndarray, sample_rate: int = 16000,
               vshift: int = VSHIFT, device: str = "cpu") -> SyncScore:
    """LSE of face crops (any size, BGR) against their 16 kHz int16 audio."""
    lip, aud = embeddings(model, lip_frames(frames), audio_int16, sample_rate, device=device)
    return score_embeddings(lip, aud, vshift)
