"""Calibration data for the int8 generator: real face crops and their mel windows from the example video
shipped in examples/, each batch under one emotion (all six in turn), built exactly as inference builds them."""
from __future__ import annotations

import os

import numpy as np

from emogen.common.contract import EMOTIONS, MEL_STEP_SIZE, emotion_one_hot
from emogen.common.examples import EXAMPLE_FACE, EXAMPLE_SPEECH
from face_detection.registry import download_free_detector
from hparams import hparams

from .face_boxes import face_coords
from .face_source import FaceSource
from .geometry import generator_inputs, mel_chunk_starts
from .options import InferenceOptions
from .speech import load_audio_mel

CALIBRATION_BATCHES = 24
CALIBRATION_BATCH_SIZE = 8


def calibration_batches(face: str, speech: str, batches: int, batch_size: int,
                        face_detector: str = "auto") -> list[list[np.ndarray]]:
    """``batches`` generator input batches [mel, face, one-hot] from ``face`` (video) and ``speech``."""
    import tempfile

    opts = InferenceOptions("", face, speech, "NEU", face_detector=face_detector, progress=False)
    source = FaceSource(opts)
    with tempfile.TemporaryDirectory(prefix="emogen-calib-") as workdir:
        mel, _ = load_audio_mel(speech, workdir)
        starts = mel_chunk_starts(mel.shape[1], source.fps)
        frames = list(source.frames(min(len(starts), batches * batch_size)))
        coords, _, _ = face_coords(opts, source, len(frames), os.path.join(workdir, "calibration.mp4"), {})
    out = []
    for b in range(batches):
        idx = [(b * batch_size + k) % len(frames) for k in range(batch_size)]
        idx = [i for i in idx if coords[i] is not None]
        faces = [frames[i][y1:y2, x1:x2] for i in idx for (y1, y2, x1, x2) in [coords[i]]]
        mels = [mel[:, starts[i]:starts[i] + MEL_STEP_SIZE] for i in idx]
        mel_t, face_t = generator_inputs(faces, mels, hparams.img_size)
        one_hot = np.repeat(emotion_one_hot(EMOTIONS[b % len(EMOTIONS)])[None], len(idx), axis=0)
        out.append([mel_t.numpy(), np.ascontiguousarray(face_t.numpy()), one_hot.astype(np.float32)])
    return out


def example_calibration_batches() -> list[list[np.ndarray]]:
    """The default calibration set: the example video's faces and speech."""
    # A download-free detector: the crops only need to be faces, and S3FD would spend minutes on a CPU here.
    return calibration_batches(EXAMPLE_FACE, EXAMPLE_SPEECH, CALIBRATION_BATCHES, CALIBRATION_BATCH_SIZE,
                               download_free_detector())
