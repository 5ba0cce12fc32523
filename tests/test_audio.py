import numpy as np
import pytest

import audio
from hparams import hparams


def test_mel_matches_original(shared):
    wav = audio.load_wav(str(shared / "data/audio/speech_en_16k.wav"), 16000)
    mel = audio.melspectrogram(wav)
    ref = np.load(shared / "spec/mel_speech_en_16k.npy")
    assert mel.shape == ref.shape == (80, 641)
    assert np.abs(mel - ref).max() < 1e-3
    assert mel.min() >= -4.0 and mel.max() <= 4.0


def test_load_wav_resamples_to_16k(shared):
    wav = audio.load_wav(str(shared / "data/audio/speech_en_44k.wav"), 16000)
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert abs(len(wav) / 16000 - 5.0) < 0.05
    # 80 mel frames per second at hop 200.
    assert audio.melspectrogram(wav).shape[1] == len(wav) // 200 + 1


def test_mel_basis_built_once():
    audio._mel_basis.cache_clear()
    wav = np.random.default_rng(0).normal(0, 0.1, 8000).astype(np.float32)
    audio.melspectrogram(wav)
    audio.melspectrogram(wav)
    info = audio._mel_basis.cache_info()
    assert info.misses == 1 and info.hits == 1


def test_overridden_hparams_change_the_feature():
    wav = np.random.default_rng(1).normal(0, 0.1, 16000).astype(np.float32)
    hp = hparams.copy().apply_overrides(["num_mels=40"])
    assert audio.melspectrogram(wav, hp).shape == (40, 81)
    assert audio.melspectrogram(wav).shape == (80, 81)


def test_preemphasis_roundtrip_and_linear():
    x = np.random.default_rng(2).normal(0, 0.1, 4000)
    y = audio.preemphasis(x, 0.97)
    assert y[1] == pytest.approx(x[1] - 0.97 * x[0])
    assert np.allclose(audio.inv_preemphasis(y, 0.97), x)
    assert audio.linearspectrogram(x.astype(np.float32)).shape == (401, 21)


def test_save_wav_roundtrip(tmp_path):
    t = np.arange(16000) / 16000
    wav = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / "tone.wav"
    audio.save_wav(wav, str(path), 16000)
    back = audio.load_wav(str(path), 16000)
    assert len(back) == 16000
    # Peak-normalized to full scale, shape kept.
    assert np.abs(back).max() == pytest.approx(1.0, abs=1e-3)
    assert np.corrcoef(back, wav)[0, 1] > 0.999
    assert wav.max() == pytest.approx(0.5, abs=1e-6)
