"""Lip sync judged by landmark models trained elsewhere (dlib's 68 points), without SyncNet weights.

- dubbing sync: Pearson r between the inner-lip opening per frame (over the inter-ocular distance) and the driving
  speech's loudness per frame (log RMS over the frame's span), at the best lag within +-MAX_LAG frames. A real face
  with its own speech scores about 0.3 to 0.7 on a few seconds; with unrelated speech, about 0.
- copy: Pearson r (no lag) between the output's mouth opening and that of the source frame it was drawn on. A
  generator that copies its reference's mouth scores near 1 whatever the speech.
- LMD / mouth-LMD: mean distance between the output's landmarks and the real frame's (all 68, or the 20 mouth
  points), after removing position and scale (eye midpoint at 0, inter-ocular distance 1); where real frames exist.
- identity: mean cosine similarity of dlib's face descriptors of output and source frames (1 = same person's
  face as dlib sees it; dlib calls two faces one person below a descriptor distance of 0.6).
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

import audio
from emogen.common.media import extract_audio, iter_frames, video_fps
from face_detection.landmarks import MOUTH, FaceLandmarks, LandmarkModel

MAX_LAG = 2  # frames: speech and lips lead or lag each other by up to about 80 ms
MIN_FRAMES = 10  # fewer frames with a face give no correlation (nan)
SAMPLE_RATE = 16000
SILENCE = 1e-4  # the RMS floor of a silent frame, so log loudness stays finite
IDENTITY_FRAMES = 8  # descriptors are computed on this many frames spread over the video (each costs ~0.1 s)


def speech_loudness(wav: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """log RMS of 16 kHz ``wav`` over each frame's span [i/fps, (i+1)/fps); silence (or no speech) -> log 1e-4."""
    bounds = (np.arange(frames + 1) * SAMPLE_RATE / fps).astype(int)
    out = np.full(frames, math.log(SILENCE))
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        piece = wav[a:b]
        if len(piece):
            out[i] = math.log(max(float(np.sqrt(np.mean(piece.astype(np.float64) ** 2))), SILENCE))
    return out


def correlation(a: Sequence[float], b: Sequence[float], max_lag: int = 0) -> float:
    """Pearson r of a[t + lag] and b[t] at the lag in [-max_lag, max_lag] that gives the highest r, over frames
    where both are finite; nan when fewer than MIN_FRAMES pairs remain or either side is constant."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    best = math.nan
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b[: len(b) - lag]) if lag >= 0 else (a[:lag], b[-lag:])
        n = min(len(x), len(y))
        x, y = x[:n], y[:n]
        keep = np.isfinite(x) & np.isfinite(y)
        if keep.sum() < MIN_FRAMES or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
            continue
        r = float(np.corrcoef(x[keep], y[keep])[0, 1])
        best = r if math.isnan(best) else max(best, r)
    return best


def mouth_openings(faces: Sequence[Optional[FaceLandmarks]]) -> np.ndarray:
    """The inner-lip opening of each frame's face (nan where no face was found)."""
    return np.array([f.mouth_opening if f is not None else math.nan for f in faces])


def landmark_distance(out: Sequence[Optional[FaceLandmarks]], real: Sequence[Optional[FaceLandmarks]], points=None):
    """Mean distance (inter-ocular units) between matching normalised landmarks of the frames both have."""
    points = slice(None) if points is None else points
    dists = [
        float(np.linalg.norm(a.normalised()[points] - b.normalised()[points], axis=1).mean())
        for a, b in zip(out, real)
        if a is not None and b is not None
    ]
    return float(np.mean(dists)) if dists else math.nan


@dataclass
class LipSyncScore:
    """One output video's scores (nan where a score does not apply or could not be computed)."""

    video: str
    frames: int
    faces: int  # frames where a face was found
    dubbing_sync: float
    copy: float = math.nan
    lmd: float = math.nan
    mouth_lmd: float = math.nan
    identity: float = math.nan


@dataclass
class VideoTrack:
    """A video's frames' landmarks, mouth openings and frame rate."""

    path: str
    fps: float
    faces: list

    @property
    def openings(self) -> np.ndarray:
        """Mouth opening per frame."""
        return mouth_openings(self.faces)


def track_video(model: LandmarkModel, path: str) -> VideoTrack:
    """Landmarks of every frame of ``path``."""
    return VideoTrack(path, video_fps(path) or 25.0, model.track(iter_frames(path)))


def read_speech(path: str) -> np.ndarray:
    """The soundtrack (or audio file) ``path`` as 16 kHz mono float samples."""
    with tempfile.TemporaryDirectory(prefix="emogen-lipsync-") as folder:
        wav = os.path.join(folder, "speech.wav")
        extract_audio(path, wav, SAMPLE_RATE)
        return audio.load_wav(wav, SAMPLE_RATE)


def identity_similarity(model: LandmarkModel, out: VideoTrack, source: VideoTrack) -> float:
    """Mean cosine similarity of the descriptors of IDENTITY_FRAMES output frames and the source frames they
    were drawn on (source frame i mod its length)."""
    picks = [int(i) for i in np.linspace(0, len(out.faces) - 1, IDENTITY_FRAMES).round()]
    want = {i: i % len(source.faces) for i in picks}
    out_frames = {i: f for i, f in enumerate(iter_frames(out.path)) if i in want}
    src_frames = {i: f for i, f in enumerate(iter_frames(source.path)) if i in set(want.values())}
    sims = []
    for i, j in want.items():
        a, b = out.faces[i], source.faces[j]
        if a is None or b is None or i not in out_frames or j not in src_frames:
            continue
        da, db = model.descriptor(out_frames[i], a), model.descriptor(src_frames[j], b)
        sims.append(float(da @ db / (np.linalg.norm(da) * np.linalg.norm(db))))
    return float(np.mean(sims)) if sims else math.nan


def score_video(
    model: LandmarkModel,
    video: str,
    source: Optional[VideoTrack] = None,
    real: Optional[VideoTrack] = None,
    speech: Optional[str] = None,
    curves: Optional[dict] = None,
) -> LipSyncScore:
    """Score one output ``video`` against the speech that drove it (``speech``, default its own soundtrack), the
    ``source`` video it was drawn on (copy, identity) and the ``real`` frames of the same moment (LMD);
    ``curves`` receives {video: (mouth openings, speech loudness)}."""
    out = track_video(model, video)
    n = len(out.faces)
    loudness = speech_loudness(read_speech(speech or video), out.fps, n)
    if curves is not None:
        curves[video] = (out.openings, loudness)
    score = LipSyncScore(video, n, sum(f is not None for f in out.faces), correlation(out.openings, loudness, MAX_LAG))
    if source is not None and source.faces:
        drawn_on = np.array([source.openings[i % len(source.faces)] for i in range(n)])
        score.copy = correlation(out.openings, drawn_on)
        if model.encoder is not None:
            score.identity = identity_similarity(model, out, source)
    if real is not None:
        score.lmd = landmark_distance(out.faces, real.faces)
        score.mouth_lmd = landmark_distance(out.faces, real.faces, MOUTH)
    return score


@dataclass
class LipSyncReport:
    """Every output's scores and, for each source video, its own dubbing sync with its own soundtrack: the real
    baseline the outputs' dubbing sync is read against."""

    scores: list
    baselines: dict  # source path -> dubbing sync of the real video with its own speech
    curves: dict = field(default_factory=dict)  # video or source path -> (mouth openings, speech loudness)

    def mean(self, name: str) -> float:
        """The mean of one score over the outputs that have it (nan when none has)."""
        values = [getattr(s, name) for s in self.scores if not math.isnan(getattr(s, name))]
        return float(np.mean(values)) if values else math.nan

    @property
    def baseline(self) -> float:
        """The mean real baseline over the sources."""
        values = [v for v in self.baselines.values() if not math.isnan(v)]
        return float(np.mean(values)) if values else math.nan


def score_results(
    videos: Sequence[str],
    sources: dict,
    reals: Optional[dict] = None,
    identity: bool = True,
    progress=None,
) -> LipSyncReport:
    """Score each of ``videos`` against its source ({video: source path or None}) and its real frames ({video:
    real video or None}); each source is tracked once and scored with its own soundtrack as the baseline."""
    model = LandmarkModel(descriptor=identity)
    tracks: dict = {}

    def tracked(path: Optional[str]) -> Optional[VideoTrack]:
        if path is None:
            return None
        if path not in tracks:
            tracks[path] = track_video(model, path)
        return tracks[path]

    scores, baselines, curves = [], {}, {}
    for video in videos if progress is None else progress(videos):
        source = tracked(sources.get(video))
        if source is not None and source.path not in baselines:
            own = speech_loudness(read_speech(source.path), source.fps, len(source.faces))
            baselines[source.path] = correlation(source.openings, own, MAX_LAG)
            curves[source.path] = (source.openings, own)
        scores.append(score_video(model, video, source, tracked((reals or {}).get(video)), curves=curves))
    return LipSyncReport(scores, baselines, curves)
