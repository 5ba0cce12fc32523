"""The mel spectrogram of speech that is still arriving: each 12.5 ms step is computed once the samples it
spans are in, with the offline code's own arithmetic, so the steps equal ``audio.melspectrogram`` of the same
samples; ``finish`` adds the last steps, which see the zero padding after the end, as the offline path does."""

from __future__ import annotations

import numpy as np

import audio
from emogen.common.errors import UserError
from hparams import HParams
from hparams import hparams as default_hparams


class StreamingMel:
    """80-band mel steps of a growing 16 kHz signal; memory holds one STFT window of samples."""

    def __init__(self, hp: HParams = default_hparams) -> None:
        if hp.use_lws:
            raise UserError("live mode computes the mel with librosa's STFT; set use_lws=False")
        self.hp = hp
        self.hop = audio.get_hop_size(hp)
        self.n_fft = hp.n_fft
        self.samples = 0  # raw samples received
        self.steps = 0  # mel steps handed out so far
        self._last_raw = 0.0  # pre-emphasis state: the previous raw sample
        # Pre-emphasized signal from absolute sample index self._origin on; the STFT's centring pads n_fft // 2
        # zeros in front, so the buffer starts with them.
        self._signal = np.zeros(self.n_fft // 2)
        self._origin = -(self.n_fft // 2)
        self.finished = False

    def push(self, pcm: np.ndarray) -> np.ndarray:
        """Add float samples in [-1, 1]; return the mel steps (80, k) that became complete (k may be 0)."""
        if self.finished:
            raise RuntimeError("push after finish")
        x = np.asarray(pcm, dtype=np.float32).reshape(-1).astype(np.float64)
        if len(x) == 0:
            return np.zeros((self.hp.num_mels, 0), np.float32)
        if self.hp.preemphasize:
            previous = np.concatenate(([self._last_raw], x[:-1]))
            emphasized = x - self.hp.preemphasis * previous
        else:
            emphasized = x
        self._last_raw = float(x[-1])
        self._signal = np.concatenate((self._signal, emphasized))
        self.samples += len(x)
        # Step j spans samples [j*hop - n_fft/2, j*hop + n_fft/2): complete once j*hop + n_fft/2 samples are in.
        ready = (self.samples - self.n_fft // 2) // self.hop + 1 if self.samples >= self.n_fft // 2 else 0
        return self._take(ready)

    def finish(self) -> np.ndarray:
        """The remaining steps up to the offline count (1 + samples // hop), over zeros after the last sample."""
        if self.finished:
            return np.zeros((self.hp.num_mels, 0), np.float32)
        self.finished = True
        self._signal = np.concatenate((self._signal, np.zeros(self.n_fft // 2)))
        return self._take(1 + self.samples // self.hop)

    def _take(self, upto: int) -> np.ndarray:
        if upto <= self.steps:
            return np.zeros((self.hp.num_mels, 0), np.float32)
        first = self.steps * self.hop - self.n_fft // 2 - self._origin
        frames = np.lib.stride_tricks.sliding_window_view(self._signal[first:], self.n_fft)[:: self.hop]
        frames = frames[: upto - self.steps]
        mel = audio.mel_from_stft(audio.stft_frames(frames, self.n_fft, self.hp.win_size), self.hp)
        self.steps = upto
        keep_from = self.steps * self.hop - self.n_fft // 2 - self._origin
        self._signal = self._signal[keep_from:]
        self._origin += keep_from
        return mel
