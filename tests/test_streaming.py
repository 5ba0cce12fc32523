"""The live core (emogen.inference.streaming, streaming_mel) against the offline path, on real speech and faces."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from shared_data import REPO_ROOT, ffmpeg, load_script, seeded_state_dict

import audio
from emogen.common.errors import run_cli
from emogen.common.media import iter_frames
from emogen.common.precision import resolve_precision
from emogen.inference.generator import build_generator
from emogen.inference.geometry import mel_chunk_starts
from emogen.inference.options import InferenceOptions
from emogen.inference.renderer import RenderOutput, RenderSettings, make_batches, render
from emogen.inference.streaming import LiveFace, LiveSession, LiveSettings
from emogen.inference.streaming_mel import StreamingMel

CPU = torch.device("cpu")
BOX = ["150", "470", "140", "450"]  # top bottom left right, around the face in face3.mp4


@pytest.fixture(scope="module")
def live_media(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("live")
    ffmpeg(
        "-i",
        str(shared / "data/audio/speech_en_16k.wav"),
        "-t",
        "2.3",
        "-ar",
        "16000",
        "-ac",
        "1",
        str(d / "speech.wav"),
    )
    ffmpeg(
        "-i", str(shared / "data/video/face3.mp4"), "-t", "1.0", "-c:v", "libx264", "-crf", "12", str(d / "face.mp4")
    )
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, d / "emogen.pth")
    return d


def chunks(wav, rng, largest=3000):
    i = 0
    while i < len(wav):
        n = int(rng.integers(1, largest))
        yield wav[i : i + n]
        i += n


@pytest.mark.parametrize("speech", ["speech_en_16k.wav", "speech_ja_48k.wav"])
def test_streaming_mel_equals_offline(shared, speech):
    wav = audio.load_wav(str(shared / "data/audio" / speech), 16000)[: 16000 * 6 + 77]
    offline = audio.melspectrogram(wav)
    rng = np.random.default_rng(3)
    for largest in (2, 700, 9000):  # single samples, less than a hop, several hops
        mel = StreamingMel()
        parts = [mel.push(c) for c in chunks(wav, rng, largest)] + [mel.finish()]
        streamed = np.concatenate(parts, axis=1)
        assert streamed.shape == offline.shape
        # Identical as the generator reads them (float32); in float64 the mel basis product may differ in the
        # last bit with the number of columns BLAS is handed.
        assert np.array_equal(streamed.astype(np.float32), offline.astype(np.float32))
        assert np.abs(streamed - offline).max() < 1e-12
        assert mel._signal.size < 2000  # holds about one STFT window, whatever the length


def offline_frames(model, face: LiveFace, mel: np.ndarray, emotion: str, batch: int = 32):
    """The renderer's frames (before encoding) for the same face, boxes and mel."""
    starts = mel_chunk_starts(mel.shape[1], face.fps)

    class Keep:
        frames = []

        def write(self, frame):
            self.frames.append(frame)

    def source():
        n = 0
        while n < len(starts):
            for f in iter_frames(face.path, face.transform, limit=len(face.coords)):
                yield f.copy()
                n += 1
                if n >= len(starts):
                    return

    settings = RenderSettings(CPU, batch, None, True, progress=False)
    settings.reference, settings.reference_crops = face.reference, face.references  # the live face's reference
    out = RenderOutput(emotion, "", Keep())
    render(
        model,
        make_batches(source(), face.coords, False, mel, starts, 96, settings),
        [out],
        len(starts),
        settings,
        {},
        0.0,
    )
    return out.writer.frames


def live_face(live_media, **extra):
    opts = InferenceOptions(
        str(live_media / "emogen.pth"),
        str(live_media / "face.mp4"),
        "",
        "HAP",
        face_detector="dlib",
        progress=False,
        cache_dir=str(live_media / "cache"),
        **extra,
    )
    return LiveFace.from_options(opts)


def stream(session, wav, rng, largest=4000):
    for piece in chunks(wav, rng, largest):
        session.push(piece)
    session.finish()
    frames = list(session.frames(timeout=60))
    session.close()
    return frames


def test_streamed_frames_equal_the_offline_frames(live_media):
    """Random-sized chunks, a looping 1 s face video with detected boxes: every frame as the offline path's."""
    model = build_generator(str(live_media / "emogen.pth"), CPU, resolve_precision("fp32", CPU), "torch")
    face = live_face(live_media)
    wav = audio.load_wav(str(live_media / "speech.wav"), 16000)
    want = offline_frames(model, face, audio.melspectrogram(wav), "SAD")
    session = LiveSession(model, face, "SAD", LiveSettings(CPU, max_batch=3, max_waiting=10**6))
    got = stream(session, wav, np.random.default_rng(5))
    assert [f.index for f in got] == list(range(len(want))) and len(want) > 25  # 2.3 s of speech: the 1 s video loops
    assert session.stats.dropped == 0
    for a, b in zip(got, want):
        diff = np.abs(a.image.astype(int) - b.astype(int))
        # Batches of 3 here, 32 offline: oneDNN may round a float32 by one ulp differently, which moves a few
        # pixels by one level at most.
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-4


def test_emotion_switch_applies_from_the_next_batch(live_media):
    model = build_generator(str(live_media / "emogen.pth"), CPU, resolve_precision("fp32", CPU), "torch")
    face = live_face(live_media)
    wav = audio.load_wav(str(live_media / "speech.wav"), 16000)[:24000]
    first = wav[:16000]
    session = LiveSession(model, face, "HAP", LiveSettings(CPU, max_batch=4, max_waiting=10**6))
    session.push(first)
    early = []
    deadline = time.time() + 60
    while len(early) < 10 and time.time() < deadline:  # frames of the first second, under HAP
        early += session.take_ready()
        time.sleep(0.05)
    session.set_emotion("ANG")
    session.push(wav[16000:])
    session.finish()
    rest = list(session.frames(timeout=60))
    session.close()
    frames = early + rest
    assert [f.emotion for f in frames[:10]] == ["HAP"] * 10 and frames[-1].emotion == "ANG"
    mel = audio.melspectrogram(wav)
    offline = {e: offline_frames(model, face, mel, e) for e in ("HAP", "ANG")}
    for f in frames:
        assert np.abs(f.image.astype(int) - offline[f.emotion][f.index].astype(int)).max() <= 1


def test_slow_generation_drops_the_oldest_windows_and_keeps_the_delay_bounded(live_media):
    real = build_generator(str(live_media / "emogen.pth"), CPU, resolve_precision("fp32-cl", CPU), "torch")

    def slow(*inputs):  # 0.12 s per frame on top of the real work: at most 8 frames/s, a third of real time
        time.sleep(0.12 * inputs[0].shape[0])
        return real(*inputs)

    probe = [torch.zeros(2, 1, 80, 16), torch.zeros(2, 6, 96, 96), torch.eye(6)[[0, 1]]]
    with torch.inference_mode():
        real(*probe)
        begun = time.perf_counter()
        real(*probe)
    per_frame = 0.12 + (time.perf_counter() - begun) / 2  # plus what a window costs on the machine running the test

    face = live_face(live_media, box=[int(v) for v in BOX])
    wav = audio.load_wav(str(live_media / "speech.wav"), 16000)
    session = LiveSession(slow, face, "NEU", LiveSettings(CPU, max_batch=2, max_waiting=5))
    start = time.perf_counter()
    for k in range(0, len(wav), 320):  # 20 ms pieces at real-time pace
        time.sleep(max(0.0, start + (k + 320) / 16000 - time.perf_counter()))
        session.push(wav[k : k + 320])
    session.finish()
    frames = list(session.frames(timeout=60))
    session.close()
    assert session.stats.dropped_waiting > 10 and len(frames) + session.stats.dropped == session.windows
    assert [f.index for f in frames] == sorted(f.index for f in frames)
    delays = [f.generated - f.window_ready for f in frames]
    # A window waits behind at most 5 others and its own batch of 2 (plus slack for a loaded machine); without
    # dropping, the last frames would wait for everything before them (over 20 frames here).
    assert max(delays) < (5 + 2 + 1) * per_frame * 1.5 + 0.5


def test_memory_stays_flat_over_a_long_session(live_media):
    model = build_generator(str(live_media / "emogen.pth"), CPU, resolve_precision("fp32-cl", CPU), "torch")
    face = live_face(live_media, box=[int(v) for v in BOX])
    session = LiveSession(model, face, "HAP", LiveSettings(CPU, max_batch=8, max_waiting=4, max_ready=4))
    rng = np.random.default_rng(0)
    sizes = []
    for _ in range(120):  # two minutes of noise, pushed faster than the generator can follow
        session.push((rng.normal(0, 0.1, 16000)).astype(np.float32))
        sizes.append(
            (
                session._mel_steps.shape[1],
                len(session._clock._chunks),
                session._mel._signal.size,
                len(session._waiting),
                len(session._ready),
            )
        )
    session.close()
    assert max(s[0] for s in sizes) < 200 and max(s[1] for s in sizes) < 200 and max(s[2] for s in sizes) < 2000
    assert max(s[3] for s in sizes) <= 4 and max(s[4] for s in sizes) <= 4
    assert session.stats.dropped > 2500  # 3000 frames pushed in no time; bounded queues dropped the rest


@pytest.mark.slow
def test_live_cli_writes_the_offline_frames_and_a_report(live_media, tmp_path):
    out, report = tmp_path / "live out.mp4", tmp_path / "report.json"
    base = [
        "--checkpoint_path",
        str(live_media / "emogen.pth"),
        "--face",
        str(live_media / "face.mp4"),
        "--audio",
        str(live_media / "speech.wav"),
        "--emotion",
        "FEA",
        "--box",
        *BOX,
        "--precision",
        "fp32",
    ]
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "live.py"),
            *base,
            "--outfile",
            str(out),
            "--report",
            str(report),
            "--pace",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    for key in ("median_delay_ms", "p95_delay_ms", "fps", "dropped_frames"):
        assert key in data
    assert data["frames"] > 50 and data["dropped_frames"] == 0 and data["backend"] == "torch"
    offline = tmp_path / "offline.mp4"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "inference.py"), *base, "--outfile", str(offline), "--no_progress"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    a, b = list(iter_frames(str(out))), list(iter_frames(str(offline)))
    assert len(a) == len(b) == data["frames"]
    mse = np.mean([(x.astype(float) - y) ** 2 for x, y in zip(a, b)])
    assert mse == 0 or 10 * np.log10(255**2 / mse) > 50  # the same frames through the same encoder


def test_live_cli_mistakes_are_one_line(live_media, tmp_path, capsys):
    live = load_script("live.py")
    base = [
        "--face",
        str(live_media / "face.mp4"),
        "--audio",
        str(live_media / "speech.wav"),
        "--outfile",
        str(tmp_path / "o.mp4"),
        "--box",
        *BOX,
    ]
    cases = {
        "several": (["--checkpoint_path", str(live_media / "emogen.pth"), "--emotion", "HAP,SAD"], "one emotion"),
        "missing": (["--checkpoint_path", str(tmp_path / "none.pth"), "--emotion", "HAP"], "weights not found"),
        "unknown": (["--checkpoint_path", str(live_media / "emogen.pth"), "--emotion", "BORED"], "BORED"),
        "folder": (
            ["--checkpoint_path", str(live_media / "emogen.pth"), "--emotion", "HAP", "--outfile", str(tmp_path)],
            "is a folder",
        ),
    }
    for name, (extra, text) in cases.items():
        code = run_cli(live.main, base + extra)
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and text in lines[0], (name, lines)
    assert not (tmp_path / "o.mp4").exists()
