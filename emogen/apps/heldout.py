"""The quick start's held-out check: the face video's last seconds, never trained on, rendered from their own speech
by the trained and by an untrained generator, and scored against the real frames inside the face box (PSNR, SSIM),
with a side-by-side picture. It measures how well the face is drawn; lip sync is judged separately, on speech the
face never spoke, because a generator that copies its reference's mouth would score well here."""

from __future__ import annotations

import os
from dataclasses import dataclass

from emogen.common.atomic import atomic_path
from emogen.common.media import input_arg, run_ffmpeg

from .demo_stages import inference_stage
from .face_scores import face_box_score, side_by_side
from .stages import picture_duration, render_precision, run_stage

HOLDOUT_SECONDS = 1.2  # the end of the face video, never trained on, rendered with its own speech and scored
HOLDOUT_EMOTION = "NEU"


@dataclass
class HeldoutScore:
    """PSNR (dB) and SSIM in the face box, trained and untrained, over ``frames`` frames; the picture's path."""

    psnr: float
    ssim: float
    psnr_untrained: float
    ssim_untrained: float
    frames: int
    real: str
    picture: str


def cut_heldout(face: str, start: float, out: str) -> str:
    """The face video from ``start`` to the end of its picture (written atomically; kept for reruns)."""
    if not os.path.isfile(out):
        # Up to the last picture: where the soundtrack runs longer, ffmpeg would repeat the last frame.
        args = ["-ss", f"{start:.3f}", "-i", input_arg(face), "-t", f"{picture_duration(face) - start:.3f}"]
        with atomic_path(out, suffix=".mp4") as tmp:
            run_ffmpeg([*args, "-c:v", "libx264", "-crf", "12", "-c:a", "aac", input_arg(tmp)], "cut the held-out part")
    return out


def untrained_generator(path: str) -> str:
    """A seeded, untrained generator (the baseline the trained one is compared with), saved once."""
    if not os.path.isfile(path):
        import torch

        from emogen.common.checkpoint_io import save_checkpoint
        from models import Wav2Lip

        torch.manual_seed(0)
        save_checkpoint(path, Wav2Lip())
    return path


def heldout_boxes(video: str, detector: str, cache: str) -> list:
    """The crop boxes inference used for ``video`` (read back from the detection cache, as inference.py ran)."""
    from emogen.inference.face_boxes import face_coords
    from emogen.inference.face_source import FaceSource
    from emogen.inference.options import InferenceOptions
    from emogen.inference.plan import plan_faces, resolve_runtime

    opts = InferenceOptions("", video, video, HOLDOUT_EMOTION, face_detector=detector, cache_dir=cache, progress=False)
    source = FaceSource(opts)
    frames = sum(1 for _ in source.frames(10**9))
    coords, _, _ = face_coords(opts, plan_faces(opts, resolve_runtime(opts)), source, frames, {})
    return coords


def score_heldout(face: str, start: float, generator: str, folder: str, detector: str, logs: str) -> HeldoutScore:
    """Render the held-out part with its own speech by both generators and score them in the face box."""
    real = cut_heldout(face, start, os.path.join(folder, "heldout.mp4"))
    cache = os.path.join(folder, "detection_cache")
    rendered = {}
    for label, weights in (
        ("untrained", untrained_generator(os.path.join(folder, "untrained.pth"))),
        ("trained", generator),
    ):
        rendered[label] = os.path.join(folder, f"{label}_{HOLDOUT_EMOTION}.mp4")
        # The score is the generator's: a soft blend would mix real pixels into the box's border.
        extra = ["--emotion", HOLDOUT_EMOTION, "--face_detector", detector, "--detection_cache_dir", cache]
        extra += ["--precision", render_precision(), "--blend", "hard"]
        run_stage(
            inference_stage(f"held-out render, {label} generator", weights, real, real, rendered[label], extra), logs
        )
    coords = heldout_boxes(real, detector, cache)
    before, after = (face_box_score(real, rendered[k], coords) for k in ("untrained", "trained"))
    pairs = [("trained", rendered["trained"]), ("untrained", rendered["untrained"])]
    picture = side_by_side(real, pairs, coords, os.path.join(folder, "side_by_side.png"))
    return HeldoutScore(after.psnr, after.ssim, before.psnr, before.ssim, after.frames, real, picture)
