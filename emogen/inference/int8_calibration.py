"""Real generator inputs for the int8 model: face crops and their mel windows from the example video shipped in
examples/, each batch under one emotion (all six in turn), built exactly as inference builds them. One set
calibrates the quantization; a second (the same faces with speech windows the first never paired them with)
checks the quantized model against float32."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from emogen.common.contract import EMOTIONS, MEL_STEP_SIZE, emotion_one_hot
from emogen.common.examples import EXAMPLE_FACE, EXAMPLE_SPEECH
from emogen.common.generator_kind import EMOGEN, WAV2LIP
from face_detection.registry import download_free_detector
from hparams import hparams

from .face_boxes import face_coords
from .face_source import FaceSource
from .geometry import generator_inputs, mel_chunk_starts
from .options import InferenceOptions
from .plan import plan_faces, resolve_runtime
from .speech import load_audio_mel

CALIBRATION_BATCHES = 24
CALIBRATION_BATCH_SIZE = 8
CHECK_BATCH_SIZE = 8  # one batch per emotion


@dataclass
class ClipInputs:
    """The frames of a face video with their boxes, and the mel of a speech with each frame's window start."""

    frames: list
    coords: list
    mel: np.ndarray
    starts: list


def load_clip_inputs(face: str, speech: str, max_frames: int, face_detector: str = "auto") -> ClipInputs:
    """Up to ``max_frames`` frames of ``face`` (a video) with their face boxes, and the mel of ``speech``."""
    import tempfile

    # No detection cache: quantizing is rare, and it should leave nothing in the user's cache of their own faces.
    opts = InferenceOptions("", face, speech, "NEU", face_detector=face_detector, progress=False, cache_dir=None)
    faces = plan_faces(opts, resolve_runtime(opts))
    source = FaceSource(opts)
    with tempfile.TemporaryDirectory(prefix="emogen-calib-") as workdir:
        mel, _ = load_audio_mel(speech, workdir)
        starts = mel_chunk_starts(mel.shape[1], source.fps)
        frames = list(source.frames(min(len(starts), max_frames)))
        coords, _, _ = face_coords(opts, faces, source, len(frames), {})
    return ClipInputs(frames, coords, mel, starts)


def input_batches(
    clip: ClipInputs, batches: int, batch_size: int, mel_shift: int = 0, kind: str = EMOGEN
) -> list[list[np.ndarray]]:
    """``batches`` generator input batches [mel, face, one-hot] ([mel, face] for a Wav2Lip generator, whose
    faces are masked in their lower half only); frame i is paired with the speech window of frame i +
    ``mel_shift`` (0: its own), and batch b runs under emotion b mod 6."""
    shift = max(0, min(mel_shift, len(clip.starts) - len(clip.frames)))
    out = []
    for b in range(batches):
        idx = [(b * batch_size + k) % len(clip.frames) for k in range(batch_size)]
        idx = [i for i in idx if clip.coords[i] is not None]
        faces = [clip.frames[i][y1:y2, x1:x2] for i in idx for (y1, y2, x1, x2) in [clip.coords[i]]]
        mels = [clip.mel[:, clip.starts[i + shift] : clip.starts[i + shift] + MEL_STEP_SIZE] for i in idx]
        mel, face = generator_inputs(faces, mels, hparams.img_size, lower_half=kind == WAV2LIP)
        if kind == WAV2LIP:
            out.append([mel, np.ascontiguousarray(face)])
            continue
        one_hot = np.repeat(emotion_one_hot(EMOTIONS[b % len(EMOTIONS)])[None], len(idx), axis=0)
        out.append([mel, np.ascontiguousarray(face), one_hot.astype(np.float32)])
    return out


def calibration_batches(
    face: str, speech: str, batches: int, batch_size: int, face_detector: str = "auto"
) -> list[list[np.ndarray]]:
    """``batches`` generator input batches [mel, face, one-hot] from ``face`` (video) and ``speech``."""
    return input_batches(load_clip_inputs(face, speech, batches * batch_size, face_detector), batches, batch_size)


@functools.lru_cache(maxsize=2)
def _example_sets(kind: str = EMOGEN) -> tuple[list, list]:
    # A download-free detector: the crops only need to be faces, and S3FD would spend minutes on a CPU.
    clip = load_clip_inputs(
        EXAMPLE_FACE, EXAMPLE_SPEECH, CALIBRATION_BATCHES * CALIBRATION_BATCH_SIZE, download_free_detector()
    )
    calibration = input_batches(clip, CALIBRATION_BATCHES, CALIBRATION_BATCH_SIZE, kind=kind)
    check = input_batches(clip, len(EMOTIONS), CHECK_BATCH_SIZE, mel_shift=len(clip.frames), kind=kind)
    return calibration, check


def example_calibration_batches(kind: str = EMOGEN) -> list[list[np.ndarray]]:
    """The default calibration set: the example video's faces and speech."""
    return _example_sets(kind)[0]


def example_check_batches(kind: str = EMOGEN) -> list[list[np.ndarray]]:
    """The default check set: 8 of the example's faces per emotion, each with a speech window calibration never
    paired it with."""
    return _example_sets(kind)[1]
