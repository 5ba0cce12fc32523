"""The speech of a run: any audio or video file, converted to 16 kHz mono and turned into the 80-band mel."""

from __future__ import annotations

import os

import numpy as np

import audio
from emogen.common.errors import UserError
from emogen.common.media import extract_audio, nonfinite_audio
from hparams import hparams


def load_audio_mel(path: str, workdir: str) -> tuple[np.ndarray, float]:
    """Mel spectrogram of any audio source (converted to 16 kHz mono in ``workdir``) and its duration in s."""
    if nonfinite_audio(path):
        raise UserError.about("audio", f"{path} holds NaN or infinite samples; re-export the recording")
    wav_path = os.path.join(workdir, "audio_16k.wav")
    extract_audio(path, wav_path, hparams.sample_rate)
    wav = audio.load_wav(wav_path, hparams.sample_rate)
    if len(wav) == 0:
        raise UserError.about("audio", f"{path} holds no sound (zero samples); pass a recording of the speech")
    mel = audio.melspectrogram(wav)
    if np.isnan(mel.reshape(-1)).sum() > 0:
        raise UserError(
            "the mel spectrogram contains NaN (a TTS voice?); add a small epsilon noise to the wav file and try again"
        )
    return mel, len(wav) / hparams.sample_rate
