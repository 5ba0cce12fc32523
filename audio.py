"""Audio front end: loading, pre-emphasis and the normalized 80-band mel spectrogram.

The mel is the exact feature the released EmoGen / Wav2Lip checkpoints were trained on, computed
here with current librosa (>= 0.10). Every function takes an optional ``hp`` (defaults to the
module-level ``hparams``) so scripts can pass an overridden copy instead of mutating globals.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import librosa
import numpy as np
from scipy import signal
from scipy.io import wavfile

from hparams import HParams, hparams as default_hparams


def _hp(hp: Optional[HParams]) -> HParams:
    return default_hparams if hp is None else hp


def load_wav(path: str, sr: int) -> np.ndarray:
    """Load an audio file as mono float32 at sample rate ``sr``."""
    return librosa.load(path, sr=sr)[0]


def save_wav(wav: np.ndarray, path: str, sr: int) -> None:
    """Write ``wav`` as 16-bit PCM, peak-normalized as the original does (the input is not modified)."""
    scaled = np.asarray(wav, dtype=np.float64) * (32767 / max(0.01, float(np.max(np.abs(wav))) if len(wav) else 0.01))
    wavfile.write(path, sr, scaled.astype(np.int16))


def preemphasis(wav: np.ndarray, k: float, preemphasize: bool = True) -> np.ndarray:
    """First-order high-pass y[n] = x[n] - k x[n-1]."""
    if preemphasize:
        return signal.lfilter([1, -k], [1], wav)
    return wav


def inv_preemphasis(wav: np.ndarray, k: float, inv_preemphasize: bool = True) -> np.ndarray:
    """Inverse of :func:`preemphasis`."""
    if inv_preemphasize:
        return signal.lfilter([1], [1, -k], wav)
    return wav


def get_hop_size(hp: Optional[HParams] = None) -> int:
    """Hop length in samples (``hop_size``, or derived from ``frame_shift_ms``)."""
    hp = _hp(hp)
    if hp.hop_size is not None:
        return hp.hop_size
    if hp.frame_shift_ms is None:
        raise ValueError("set either hop_size or frame_shift_ms in hparams")
    return int(hp.frame_shift_ms / 1000 * hp.sample_rate)


def _stft(y: np.ndarray, hp: HParams) -> np.ndarray:
    if hp.use_lws:
        import lws  # optional; only when a user turns use_lws on

        return lws.lws(hp.n_fft, get_hop_size(hp), fftsize=hp.win_size, mode="speech").stft(y).T
    # librosa's default centre padding (zeros since 0.10) is what the reference mel was made with.
    return librosa.stft(y=y, n_fft=hp.n_fft, hop_length=get_hop_size(hp), win_length=hp.win_size)


@lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, num_mels: int, fmin: float, fmax: float) -> np.ndarray:
    if fmax > sample_rate // 2:
        raise ValueError(f"fmax={fmax} is above the Nyquist frequency of sample_rate={sample_rate}")
    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=num_mels, fmin=fmin, fmax=fmax)


def _linear_to_mel(spectrogram: np.ndarray, hp: HParams) -> np.ndarray:
    return np.dot(_mel_basis(hp.sample_rate, hp.n_fft, hp.num_mels, hp.fmin, hp.fmax), spectrogram)


def _amp_to_db(x: np.ndarray, hp: HParams) -> np.ndarray:
    min_level = np.exp(hp.min_level_db / 20 * np.log(10))
    return 20 * np.log10(np.maximum(min_level, x))


def _normalize(S: np.ndarray, hp: HParams) -> np.ndarray:
    scaled = (S - hp.min_level_db) / (-hp.min_level_db)
    if hp.symmetric_mels:
        out = (2 * hp.max_abs_value) * scaled - hp.max_abs_value
        low = -hp.max_abs_value
    else:
        out = hp.max_abs_value * scaled
        low = 0
    if hp.allow_clipping_in_normalization:
        return np.clip(out, low, hp.max_abs_value)
    return out


def linearspectrogram(wav: np.ndarray, hp: Optional[HParams] = None) -> np.ndarray:
    """Normalized linear-frequency dB spectrogram, shape (n_fft // 2 + 1, frames)."""
    hp = _hp(hp)
    D = _stft(preemphasis(wav, hp.preemphasis, hp.preemphasize), hp)
    S = _amp_to_db(np.abs(D), hp) - hp.ref_level_db
    return _normalize(S, hp) if hp.signal_normalization else S


def melspectrogram(wav: np.ndarray, hp: Optional[HParams] = None) -> np.ndarray:
    """Normalized mel spectrogram, shape (num_mels, frames); 80 frames per second at 16 kHz."""
    hp = _hp(hp)
    D = _stft(preemphasis(wav, hp.preemphasis, hp.preemphasize), hp)
    S = _amp_to_db(_linear_to_mel(np.abs(D), hp), hp) - hp.ref_level_db
    return _normalize(S, hp) if hp.signal_normalization else S
