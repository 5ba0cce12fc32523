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


@pytest.mark.slow
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


def test_numpy_front_end_equals_librosa(shared):
    import librosa

    wav = librosa.load(str(shared / "data/audio/speech_en_16k.wav"), sr=16000)[0]
    assert np.array_equal(audio.load_wav(str(shared / "data/audio/speech_en_16k.wav"), 16000), wav)
    y = audio.preemphasis(wav, hparams.preemphasis)
    for n_fft, hop, win in ((800, 200, 800), (1024, 256, 800)):
        np.testing.assert_array_equal(
            audio.stft(y, n_fft, hop, win), librosa.stft(y=y, n_fft=n_fft, hop_length=hop, win_length=win)
        )
    assert np.array_equal(
        audio._mel_basis(16000, 800, 80, 55.0, 7600.0),
        librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600),
    )
    ref = np.load(shared / "spec/mel_speech_en_16k.npy")
    assert np.abs(audio.melspectrogram(wav) - ref).max() < 1e-6


def test_mel_of_a_16k_wav_needs_no_numba(shared):
    import subprocess
    import sys

    from shared_data import REPO_ROOT

    code = (
        "import sys, audio\n"
        f"audio.melspectrogram(audio.load_wav({str(shared / 'data/audio/speech_en_16k.wav')!r}, 16000))\n"
        "print('numba' in sys.modules, 'librosa.util.utils' in sys.modules, 'scipy.signal' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    # No 10-20 s of JIT compilation on a first run, and none of scipy.signal's 0.8 s of imports on every run.
    assert out.stdout.split() == ["False", "False", "False"]


def test_preemphasis_and_window_equal_scipy_bit_for_bit(shared):
    from scipy import signal

    wav = audio.load_wav(str(shared / "data/audio/speech_ja_48k.wav"), 16000)
    ours = audio.preemphasis(wav, hparams.preemphasis)
    assert ours.dtype == np.float64
    assert np.array_equal(ours, signal.lfilter([1, -hparams.preemphasis], [1], wav))
    for n in (1, 2, 399, 400, 800, 1024):
        assert np.array_equal(audio.periodic_hann(n), signal.get_window("hann", n, fftbins=True))


def test_long_speech_mel_in_pieces_equals_one_piece(shared):
    """Past MEL_PIECE_COLUMNS the mel is computed piece by piece; real speech repeated to 110 s, with lengths on
    either side of a piece boundary, gives the one-piece values (float32 identical, float64 to the last bits)."""
    wav = audio.load_wav(str(shared / "data/audio/speech_en_16k.wav"), 16000)
    hop = audio.get_hop_size(hparams)
    for columns in (2 * audio.MEL_PIECE_COLUMNS + 1, audio.MEL_PIECE_COLUMNS + 1):
        for extra in (0, hop - 1):
            n = (columns - 1) * hop + extra
            long = np.resize(wav, n)
            pieces = audio.melspectrogram(long)
            whole = audio.mel_from_stft(audio._stft(audio.preemphasis(long, hparams.preemphasis), hparams))
            assert pieces.shape == whole.shape == (80, columns)
            assert np.abs(pieces - whole).max() < 1e-12
            assert np.array_equal(pieces.astype(np.float32), whole.astype(np.float32))


def test_an_hour_of_speech_fits_in_bounded_memory(tmp_path):
    """One hour through the inference speech stage (ffmpeg conversion, WAV, mel) peaks well under the 4.8 GB
    that one STFT of the whole file needed; the result is the 80-per-second mel of the whole hour."""
    import subprocess
    import sys

    from shared_data import REPO_ROOT

    hour = tmp_path / "hour.wav"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono"]
        + ["-t", "3600", "-c:a", "pcm_s16le", str(hour)],
        check=True,
    )
    code = (
        "import sys, tempfile\n"
        "from emogen.inference.speech import load_audio_mel\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    mel, seconds = load_audio_mel(sys.argv[1], d)\n"
        "peak = int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) // 1024\n"
        "print(mel.shape[0], mel.shape[1], seconds, peak)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(hour)], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    bands, columns, seconds, peak_mib = int(out[0]), int(out[1]), float(out[2]), int(out[3])
    assert (bands, columns, seconds) == (80, 3600 * 80 + 1, 3600.0)
    assert peak_mib < 1200, f"peak {peak_mib} MiB"
