"""LSE-D and LSE-C, the lip-sync metrics published papers report (syncnet_python's SyncNetInstance.evaluate).

For each start frame v up to min(frames, samples / 640) - 5: the lip window is frames v..v+4 (224x224, BGR
0..255) and the audio window MFCC columns 4v..4v+19 (13 MFCCs per 10 ms, python_speech_features on the raw
int16 samples). Distances between each lip embedding and the audio embeddings shifted by -vshift..+vshift
(zero-padded) are averaged over frames; LSE-D is the minimum of that average, LSE-C its median minus the
minimum, and the offset is vshift minus the index of the minimum.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np
import python_speech_features
import torch
from scipy.io import wavfile

from emogen.common.checkpoint_io import load_weights
from emogen.common.errors import UserError
from emogen.common.media import extract_audio, input_arg, iter_frames, run_ffmpeg, video_fps
from emogen.common.weights import WEIGHTS
from models.syncnet_eval import SyncNetEval

from .face_tracks import TrackSettings, crop_face, crop_plan, track_faces

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


def embeddings(
    model: SyncNetEval,
    frames: np.ndarray,
    audio_int16: np.ndarray,
    sample_rate: int = 16000,
    batch_size: int = 20,
    device: str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lip and audio embeddings of every window (W,1024) each."""
    cc = torch.from_numpy(mfcc(audio_int16, sample_rate).astype(np.float32))[None, None]  # (1,1,13,steps)
    video = torch.from_numpy(frames).permute(3, 0, 1, 2)[None]  # (1,3,T,224,224)
    windows = min(len(frames), len(audio_int16) // 640) - 5
    if windows <= 0:
        raise ValueError(
            f"too short to score: {len(frames)} frames and {len(audio_int16) / sample_rate:.2f} s "
            "of audio give no 5-frame window"
        )
    lips, auds = [], []
    with torch.inference_mode():
        for start in range(0, windows, batch_size):
            idx = range(start, min(windows, start + batch_size))
            lip = torch.cat([video[:, :, v : v + 5] for v in idx]).to(device)
            aud = torch.cat([cc[:, :, :, 4 * v : 4 * v + 20] for v in idx]).to(device)
            lips.append(model.forward_lip(lip).cpu())
            auds.append(model.forward_aud(aud).cpu())
    return torch.cat(lips), torch.cat(auds)


def shifted_distances(lip: torch.Tensor, aud: torch.Tensor, vshift: int = VSHIFT) -> torch.Tensor:
    """(W, 2*vshift+1): distance of lip i to audio i+s-vshift for every shift s (audio zero-padded)."""
    win = 2 * vshift + 1
    padded = torch.nn.functional.pad(aud, (0, 0, vshift, vshift))
    return torch.stack(
        [
            torch.nn.functional.pairwise_distance(lip[[i], :].repeat(win, 1), padded[i : i + win, :])
            for i in range(len(lip))
        ]
    )


def score_embeddings(lip: torch.Tensor, aud: torch.Tensor, vshift: int = VSHIFT) -> SyncScore:
    """Offset, LSE-D and LSE-C from window embeddings."""
    mean_dist = shifted_distances(lip, aud, vshift).mean(dim=0)
    min_val, min_idx = torch.min(mean_dist, 0)
    return SyncScore(
        offset=int(vshift - min_idx),
        dist=float(min_val),
        conf=float(torch.median(mean_dist) - min_val),
        windows=len(lip),
    )


def score_clip(
    model: SyncNetEval,
    frames: Sequence[np.ndarray],
    audio_int16: np.ndarray,
    sample_rate: int = 16000,
    vshift: int = VSHIFT,
    device: str = "cpu",
) -> SyncScore:
    """LSE of face crops (any size, BGR) against their 16 kHz int16 audio."""
    lip, aud = embeddings(model, lip_frames(frames), audio_int16, sample_rate, device=device)
    return score_embeddings(lip, aud, vshift)


def load_syncnet_eval(path: Optional[str] = None, device: str = "cpu") -> SyncNetEval:
    """The scoring SyncNet with its weights, in eval mode; a clear error when the file is missing."""
    where = WEIGHTS["syncnet_eval"].path(path)
    if not os.path.isfile(where):
        raise UserError(WEIGHTS["syncnet_eval"].missing_message(where, "--syncnet_path"))
    model = SyncNetEval()
    load_weights(model, where, "syncnet_python SyncNet", map_location="cpu")
    return model.to(device).eval()


SAMPLES_PER_FRAME = 640  # 16 kHz at 25 fps


@dataclass
class TrackScore:
    """The score of one face track of a video."""

    video: str
    track: int
    start_frame: int
    end_frame: int
    score: SyncScore


def _as_25fps(path: str, workdir: str) -> str:
    fps = video_fps(path)
    if abs(fps - 25.0) < 1e-3:
        return path
    out = os.path.join(workdir, "video25.mp4")
    run_ffmpeg(
        ["-i", input_arg(path), "-r", "25", "-c:v", "libx264", "-crf", "12", "-c:a", "aac", input_arg(out)],
        f"convert {path} to 25 fps",
    )
    return out


def score_video(
    path: str,
    model: SyncNetEval,
    detector=None,
    settings: TrackSettings = TrackSettings(),
    whole_frame: bool = False,
    device: str = "cpu",
) -> list[TrackScore]:
    """Scores of every face track of a video (one entry for the whole frame with ``whole_frame``)."""
    name = os.path.basename(path)
    with tempfile.TemporaryDirectory(prefix="emogen-lse-") as workdir:
        video = _as_25fps(path, workdir)
        wav = os.path.join(workdir, "audio.wav")
        extract_audio(video, wav, 16000)
        _, samples = wavfile.read(wav)
        if whole_frame:
            frames = list(iter_frames(video))
            return [TrackScore(name, 0, 0, len(frames) - 1, score_clip(model, frames, samples, device=device))]
        frame_faces = []
        for frame in iter_frames(video):  # every face of every frame, as the reference tracks them
            frame_faces.append([tuple(row[:4]) for row in detector.detect_from_image(frame)])
        results = []
        for t, track in enumerate(track_faces(frame_faces, settings)):
            plan = crop_plan(track, settings)
            first, last = int(track.frames[0]), int(track.frames[-1])
            crops = []
            for index, frame in enumerate(iter_frames(video, limit=last + 1)):
                if index >= first:
                    crops.append(crop_face(frame, *plan[index - first], crop_scale=settings.crop_scale))
            audio = samples[first * SAMPLES_PER_FRAME : (last + 1) * SAMPLES_PER_FRAME]
            lip, aud = embeddings(model, lip_frames(crops), audio, device=device)
            results.append(TrackScore(name, t, first, last, score_embeddings(lip, aud)))
        return results


def main_track(scores: list[TrackScore]) -> Optional[TrackScore]:
    """The track with the most scored windows (the main speaker)."""
    return max(scores, key=lambda s: s.score.windows) if scores else None


def average(scores: list[TrackScore]) -> tuple[float, float]:
    """Mean LSE-D and LSE-C of a list of scores."""
    return (sum(s.score.dist for s in scores) / len(scores), sum(s.score.conf for s in scores) / len(scores))
