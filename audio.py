"""Audio front end: loading, pre-emphasis and the normalized 80-band mel spectrogram.

The mel is the exact feature the released EmoGen / Wav2Lip checkpoints were trained on: librosa's STFT
(centred, zero padding, periodic Hann window) and Slaney mel filterbank, written here in NumPy. They give
bit-identical numbers to librosa >= 0.10, and they avoid importing librosa's numba-compiled utilities, whose
first compilation takes 10-20 s (every run, where no cache folder is writable). librosa is still used to
load and resample audio at other sample rates. Every function takes an optional ``hp`` (defaults to the
module-level ``hparams``) so scripts can pass an overridden copy instead of mutating globals.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

import librosa
import numpy as np
import soundfile

from hparams import HParams
from hparams import hparams as default_hparams


def _hp(hp: Optional[HParams]) -> HParams:
    return default_hparams if hp is None else hp


def load_wav(path: str, sr: int) -> np.ndarray:
    """Load an audio file as mono float32 at sample rate ``sr`` (what ``librosa.load(path, sr=sr)`` gives)."""
    try:
        data, native = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError):
        native = None
    if native == sr:
        return np.ascontiguousarray(data.mean(axis=1) if data.shape[1] > 1 else data[:, 0])
    return librosa.load(path, sr=sr)[0]  # resampling (or a format libsndfile cannot read)


def save_wav(wav: np.ndarray, path: str, sr: int) -> None:
    """Write ``wav`` as 16-bit PCM, peak-normalized as the original does (the input is not modified)."""
    scaled = np.asarray(wav, dtype=np.float64) * (32767 / max(0.01, float(np.max(np.abs(wav))) if len(wav) else 0.01))
    from scipy.io import wavfile  # here, not at the top: scipy.io costs 0.2 s of every inference start-up

    wavfile.write(path, sr, scaled.astype(np.int16))


def preemphasis(wav: np.ndarray, k: float, preemphasize: bool = True) -> np.ndarray:
    """First-order high-pass y[n] = x[n] - k x[n-1], in float64 as scipy.signal.lfilter([1, -k], [1], wav) gives it
    (bit for bit: two terms, the same products), without importing scipy.signal (0.8 s at start-up)."""
    if not preemphasize:
        return wav
    x = np.asarray(wav, dtype=np.float64)
    y = x.copy()
    y[1:] -= k * x[:-1]
    return y


def inv_preemphasis(wav: np.ndarray, k: float, inv_preemphasize: bool = True) -> np.ndarray:
    """Inverse of :func:`preemphasis`."""
    if inv_preemphasize:
        from scipy import signal  # a recursive filter; only the training-time audio tools need it

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
    return stft(y, hp.n_fft, get_hop_size(hp), hp.win_size)


def stft(y: np.ndarray, n_fft: int, hop_length: int, win_length: int) -> np.ndarray:
    """librosa.stft's defaults: centred frames (n_fft // 2 zeros each side, what the reference mel was made
    with), a periodic Hann window centred in n_fft; shape (1 + n_fft // 2, 1 + len(y) // hop_length)."""
    padded = np.pad(y, (n_fft // 2, n_fft // 2), mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    return stft_frames(frames, n_fft, win_length)


def stft_frames(frames: np.ndarray, n_fft: int, win_length: int) -> np.ndarray:
    """The STFT columns of signal frames (F, n_fft) already cut out: periodic Hann window centred in n_fft, then
    the real FFT; shape (1 + n_fft // 2, F). The live mel calls this on the frames it has, stft on all."""
    return np.fft.rfft(frames * _stft_window(n_fft, win_length), axis=-1).T


@lru_cache(maxsize=8)
def _stft_window(n_fft: int, win_length: int) -> np.ndarray:
    # Built once per size: the live mel calls stft_frames for every piece of audio. Read-only, since it is shared.
    window = periodic_hann(win_length)
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        window = np.pad(window, (left, n_fft - win_length - left))
    window.setflags(write=False)
    return window


def periodic_hann(n: int) -> np.ndarray:
    """scipy.signal.get_window("hann", n, fftbins=True), computed the way scipy does (cosine terms on a
    -pi..pi grid of n + 1 points, the last dropped) so the values are identical."""
    if n <= 1:
        return np.ones(n)
    grid = np.linspace(-np.pi, np.pi, n + 1)
    window = np.zeros(n + 1)
    window += 0.5 * np.cos(0 * grid)
    window += 0.5 * np.cos(1 * grid)
    return window[:-1]


_F_SP, _MIN_LOG_HZ = 200.0 / 3, 1000.0  # Slaney's mel scale: linear below 1 kHz, logarithmic above
_MIN_LOG_MEL, _LOGSTEP = _MIN_LOG_HZ / _F_SP, np.log(6.4) / 27.0


def hz_to_mel(freqs: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa's default, htk=False)."""
    f = np.asanyarray(freqs, dtype=np.float64)
    return np.where(
        f >= _MIN_LOG_HZ, _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, f / _F_SP
    )


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asanyarray(mels, dtype=np.float64)
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


@lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, num_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax): triangles on the Slaney scale, Slaney area
    normalisation, float32 with librosa's order of rounding."""
    if fmax > sample_rate // 2:
        raise ValueError(f"fmax={fmax} is above the Nyquist frequency of sample_rate={sample_rate}")
    weights = np.zeros((num_mels, 1 + n_fft // 2), dtype=np.float32)
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), num_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    for i in range(num_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_f[2 : num_mels + 2] - mel_f[:num_mels]))[:, np.newaxis]
    return weights


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


# Above this many mel columns (about 102 s at 16 kHz) the mel is computed in pieces of this many columns: the
# whole file's STFT in complex128 would need 5 GB for an hour of speech. Shorter speech takes the one-piece path.
MEL_PIECE_COLUMNS = 8192


def melspectrogram(wav: np.ndarray, hp: Optional[HParams] = None) -> np.ndarray:
    """Normalized mel spectrogram, shape (num_mels, frames); 80 frames per second at 16 kHz.

    Long speech is computed in pieces of MEL_PIECE_COLUMNS columns, each from just the samples it needs, so memory
    beyond the input and the result stays bounded; the columns equal the one-piece computation's up to the last
    bit of the filterbank's matrix product."""
    hp = _hp(hp)
    columns = 1 + len(wav) // get_hop_size(hp)
    if hp.use_lws or columns <= MEL_PIECE_COLUMNS:
        return mel_from_stft(_stft(preemphasis(wav, hp.preemphasis, hp.preemphasize), hp), hp)
    out = np.empty((hp.num_mels, columns), dtype=np.float64)
    for start in range(0, columns, MEL_PIECE_COLUMNS):
        stop = min(columns, start + MEL_PIECE_COLUMNS)
        out[:, start:stop] = mel_from_stft(_stft_columns(wav, start, stop, hp), hp)
    return out


def _stft_columns(wav: np.ndarray, start: int, stop: int, hp: HParams) -> np.ndarray:
    """Columns ``start:stop`` of ``_stft(preemphasis(wav))`` from the samples they cover (librosa's centring:
    n_fft // 2 zeros each side of the signal)."""
    n_fft, hop = hp.n_fft, get_hop_size(hp)
    first = start * hop - n_fft // 2  # sample under the first column's first point
    last = (stop - 1) * hop - n_fft // 2 + n_fft  # one past the last column's last point
    lo, hi = max(0, first), min(len(wav), last)
    # One sample before the piece feeds the pre-emphasis of its first sample, as in the whole signal.
    context = wav[max(0, lo - 1) : hi]
    y = preemphasis(context, hp.preemphasis, hp.preemphasize)
    y = np.asarray(y[1:] if lo > 0 else y, dtype=np.float64)
    padded = np.pad(y, (lo - first, last - hi), mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    return stft_frames(frames, n_fft, hp.win_size)


def mel_from_stft(D: np.ndarray, hp: Optional[HParams] = None) -> np.ndarray:
    """Normalized mel spectrogram of STFT columns ``D`` (the second half of :func:`melspectrogram`)."""
    hp = _hp(hp)
    S = _amp_to_db(_linear_to_mel(np.abs(D), hp), hp) - hp.ref_level_db
    return _normalize(S, hp) if hp.signal_normalization else S
