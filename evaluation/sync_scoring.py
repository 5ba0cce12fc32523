"""LSE-D / LSE-C of whole videos: 25 fps frames and 16 kHz audio, face tracks (or the whole frame), scores."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Optional

from scipy.io import wavfile

from emogen.media import extract_audio, input_arg, iter_frames, run_ffmpeg, video_fps

from .face_tracks import TrackSettings, crop_face, crop_plan, track_faces
from .lse import SyncScore, embeddings, lip_frames, score_clip, score_embeddings
from models.syncnet_eval import SyncNetEval

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
    run_ffmpeg(["-i", input_arg(path), "-r", "25", "-c:v", "libx264", "-crf", "12", "-c:a", "aac", input_arg(out)],
               f"convert {path} to 25 fps")
    return out


def score_video(path: str, model: SyncNetEval, detector=None, settings: TrackSettings = TrackSettings(),
                whole_frame: bool = False, device: str = "cpu") -> list[TrackScore]:
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
            audio = samples[first * SAMPLES_PER_FRAME:(last + 1) * SAMPLES_PER_FRAME]
            lip, aud = embeddings(model, lip_frames(crops), audio, device=device)
            results.append(TrackScore(name, t, first, last, score_embeddings(lip, aud)))
        return results


def main_track(scores: list[TrackScore]) -> Optional[TrackScore]:
    """The track with the most scored windows (the main speaker)."""
    return max(scores, key=lambda s: s.score.windows) if scores else None


def average(scores: list[TrackScore]) -> tuple[float, float]:
    """Mean LSE-D and LSE-C of a list of scores."""
    return (sum(s.score.dist for s in scores) / len(scores), sum(s.score.conf for s in scores) / len(scores))
