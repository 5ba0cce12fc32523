import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from shared_data import FACE3_BOX as BOX
from shared_data import REPO_ROOT, ffmpeg, seeded_state_dict

import audio
import inference
from emogen.common.backends import openvino_installed
from emogen.common.errors import run_cli
from emogen.common.media import probe
from emogen.inference.geometry import fill_gaps, mel_chunk_starts, smooth_boxes


@pytest.fixture(scope="module")
def media(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    ffmpeg("-i", str(shared / "data/audio/speech_en_16k.wav"), "-t", "1.6", str(d / "speech.wav"))
    ffmpeg("-i", str(shared / "data/audio/speech_en_16k.wav"), "-t", "1.6", str(d / "speech.mp3"))
    ffmpeg("-i", str(shared / "data/audio/speech_en_16k.wav"), "-t", "0.8", str(d / "speech_short.wav"))
    ffmpeg("-i", str(shared / "data/audio/speech_en_16k.wav"), "-t", "0.1", str(d / "tiny.wav"))
    ffmpeg(
        "-i", str(shared / "data/video/face3.mp4"), "-t", "2.4", "-c:v", "libx264", "-crf", "12", str(d / "face.mp4")
    )
    ffmpeg(
        "-i", str(shared / "data/video/face3.mp4"), "-t", "0.8", "-c:v", "libx264", "-crf", "12", str(d / "short.mp4")
    )
    ckpt = d / "emogen.pth"
    torch.save(
        {
            "state_dict": {"module." + k: v for k, v in seeded_state_dict("emogen_generator").items()},
            "global_step": 0,
            "global_epoch": 0,
        },
        ckpt,
    )
    sync = d / "syncnet.pth"
    torch.save({"state_dict": seeded_state_dict("syncnet_color")}, sync)
    return d


def run(media, *extra, face="face.mp4", audio_file="speech.wav", emotion="HAP", out="out.mp4", tmp=None):
    out_path = str((tmp or media) / out)
    argv = [
        "--checkpoint_path",
        str(media / "emogen.pth"),
        "--face",
        str(media / face) if not os.path.isabs(face) else face,
        "--audio",
        str(media / audio_file),
        "--emotion",
        emotion,
        "--outfile",
        out_path,
        "--face_detector",
        "opencv",
        "--no_progress",
        "--detection_cache_dir",
        str(media / "cache"),
        *extra,
    ]
    return run_cli(inference.main, argv), out_path


def video_info(path):
    info = probe(path)
    v = next(s for s in info["streams"] if s["codec_type"] == "video")
    a = [s for s in info["streams"] if s["codec_type"] == "audio"]
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    return v, a, frames


def expected_frames(wav_path, fps=25.0):
    return len(mel_chunk_starts(audio.melspectrogram(audio.load_wav(str(wav_path), 16000)).shape[1], fps))


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-10))


def test_video_face_with_fixed_box(media, capsys):
    code, out = run(media, "--box", *map(str, BOX))
    assert code == 0, capsys.readouterr().err
    v, a, frames = video_info(out)
    assert v["codec_name"] == "h264" and len(a) == 1
    # 1.6 s -> 129 mel steps -> windows at int(3.2 i) while they fit (36), plus the final one.
    assert len(frames) == expected_frames(media / "speech.wav") == 37
    assert abs(float(a[0]["duration"]) - 1.6) < 0.1
    cap = cv2.VideoCapture(str(media / "face.mp4"))
    src = [cap.read()[1] for _ in range(len(frames))]
    y1, y2, x1, x2 = BOX
    m = 16  # H.264 blocks and chroma subsampling blur the pasted edge a little
    for i in (0, 20, 36):
        outside_out, outside_in = frames[i].copy(), src[i].copy()
        outside_out[y1 - m : y2 + m, x1 - m : x2 + m] = 0
        outside_in[y1 - m : y2 + m, x1 - m : x2 + m] = 0
        assert psnr(outside_out, outside_in) > 30
        assert psnr(frames[i][y1:y2, x1:x2], src[i][y1:y2, x1:x2]) < 20
    assert "wrote" in capsys.readouterr().out


def test_image_face_and_mp3_audio(media, shared, tmp_path):
    code, out = run(media, face=str(shared / "data/image/face3.jpg"), audio_file="speech.mp3", tmp=tmp_path)
    assert code == 0
    v, a, frames = video_info(out)
    assert len(frames) == 37 and v["r_frame_rate"] == "25/1" and len(a) == 1
    assert frames[0].shape[:2] == cv2.imread(str(shared / "data/image/face3.jpg")).shape[:2]


def test_video_shorter_than_audio_repeats_from_start(media, tmp_path):
    code, out = run(media, "--box", *map(str, BOX), face="short.mp4", tmp=tmp_path)
    assert code == 0
    _, _, frames = video_info(out)
    assert len(frames) == 37  # 20 input frames, cycled
    assert psnr(frames[20][:100], frames[0][:100]) > 35  # frame 20 is input frame 0 again (outside the face)


def test_video_as_audio_source(media, shared, tmp_path):
    code, out = run(media, "--box", *map(str, BOX), audio_file="face.mp4", tmp=tmp_path)
    assert code == 0
    _, a, frames = video_info(out)
    assert len(a) == 1 and len(frames) == 57  # 2.4 s soundtrack -> 193 mel steps


def test_detection_resize_crop_rotate_and_cache(media, tmp_path, capsys):
    code, out = run(
        media, "--resize_factor", "2", "--rotate", "--crop", "0", "-1", "10", "-1", "--nosmooth", tmp=tmp_path
    )
    assert code == 0, capsys.readouterr().err
    v, _, frames = video_info(out)
    # 590/2 = 295, rotated, 10 columns cropped: 295x285, padded by one pixel to even sides for H.264.
    assert frames[0].shape[:2] == (296, 286)
    first = capsys.readouterr().out
    assert "from cache" not in first
    code, out2 = run(
        media,
        "--resize_factor",
        "2",
        "--rotate",
        "--crop",
        "0",
        "-1",
        "10",
        "-1",
        "--nosmooth",
        emotion="SAD",
        out="again.mp4",
        tmp=tmp_path,
    )
    assert code == 0 and "face detection from cache" in capsys.readouterr().out


def test_emotion_all_writes_six_videos(media, tmp_path):
    code, out = run(
        media, "--box", *map(str, BOX), emotion="all", out="clip.mp4", tmp=tmp_path, audio_file="speech_short.wav"
    )
    assert code == 0
    outputs = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".mp4")
    assert outputs == [f"clip_{e}.mp4" for e in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")]
    angry = video_info(str(tmp_path / "clip_ANG.mp4"))[2]
    assert len(angry) == 17  # 0.8 s of speech -> 17 mel windows
    a = angry[10]
    b = video_info(str(tmp_path / "clip_HAP.mp4"))[2][10]
    y1, y2, x1, x2 = BOX
    assert np.abs(a[y1:y2, x1:x2].astype(int) - b[y1:y2, x1:x2].astype(int)).mean() > 0.5


@pytest.fixture(scope="module")
def spliced(media, shared):
    """face3 frames 0-9, five black frames, then frames 15-29."""
    path = media / "spliced.mp4"
    cap = cv2.VideoCapture(str(shared / "data/video/face3.mp4"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (590, 590))
    for i in range(30):
        ok, frame = cap.read()
        writer.write(np.zeros_like(frame) if 10 <= i < 15 else frame)
    writer.release()
    return path


@pytest.mark.parametrize("mode", ["interpolate", "passthrough", "error"])
def test_missing_face_modes(media, spliced, tmp_path, capsys, mode):
    code, out = run(media, "--missing_face", mode, face=str(spliced), tmp=tmp_path, out=f"{mode}.mp4")
    captured = capsys.readouterr()
    if mode == "error":
        assert code == 2 and not os.path.exists(out)
        assert "no face found in frame 10 (t=0.40 s)" in captured.err and "--pads" in captured.err
        assert os.path.exists(out.replace(".mp4", "_no_face_frame10.jpg"))
        return
    assert code == 0
    _, _, frames = video_info(out)
    assert len(frames) == 37
    if mode == "interpolate":
        assert "5 face-less input frames filled" in captured.out
        assert frames[12].mean() > 5  # a generated face was pasted into the black frame
    else:
        assert "passed through without a face" in captured.out
        assert frames[12].mean() < 3 and frames[36].mean() > 5


def test_fast_detection_sees_the_cut_and_keeps_its_own_cache_entry(media, spliced, tmp_path, capsys):
    """--detection fast over a face, five black frames and the face again: the black frames have no face (the
    cut is searched frame by frame, nothing is interpolated across it), and its boxes are cached apart from
    the exact strategy's."""
    cache = ["--detection_cache_dir", str(tmp_path / "cache")]  # not the module's: other tests fill that one
    argv = ["--detection", "fast", "--missing_face", "passthrough", *cache]
    code, out = run(media, *argv, face=str(spliced), tmp=tmp_path, out="fast.mp4")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "frames passed through without a face" in captured.out and "from cache" not in captured.out
    _, _, frames = video_info(out)
    assert len(frames) == 37 and frames[12].mean() < 3 and frames[9].mean() > 5 and frames[15].mean() > 5
    assert "faces: opencv, fast" in captured.out
    code, _ = run(media, *argv, face=str(spliced), tmp=tmp_path, out="fast2.mp4")
    assert code == 0 and "face detection from cache" in capsys.readouterr().out
    # auto, the default, is fast with Haar on a CPU: the same boxes, so the same cache entry
    code, _ = run(media, *argv[2:], face=str(spliced), tmp=tmp_path, out="auto.mp4")
    printed = capsys.readouterr().out
    assert code == 0 and "face detection from cache" in printed and "faces: opencv, fast" in printed
    argv = ["--detection", "exact", "--missing_face", "passthrough", *cache]
    code, _ = run(media, *argv, face=str(spliced), tmp=tmp_path, out="exact.mp4")
    printed = capsys.readouterr().out
    assert code == 0 and "from cache" not in printed and "faces: opencv, exact" in printed


def test_errors_are_one_line(media, tmp_path, capsys):
    cases = [
        (dict(face="missing.mp4"), "--face"),
        (dict(emotion="JOY"), "unknown emotion 'JOY'; choose one of ANG, DIS, FEA, HAP, NEU, SAD"),
        (dict(audio_file="tiny.wav"), "audio is too short"),
        (dict(audio_file="nope.wav"), "--audio"),
    ]
    with pytest.raises(SystemExit) as stopped:
        run(media, "--fps", "0", tmp=tmp_path, out="err.mp4")
    assert stopped.value.code == 2 and "--fps: must be at least 1" in capsys.readouterr().err
    for kwargs, text in cases:
        code, out = run(media, tmp=tmp_path, out="err.mp4", **kwargs)
        err = capsys.readouterr().err
        assert code == 2 and text in err and err.count("\n") == 1, err
        assert not os.path.exists(out)
    argv = [
        "--checkpoint_path",
        str(media / "syncnet.pth"),
        "--face",
        str(media / "face.mp4"),
        "--audio",
        str(media / "speech.wav"),
        "--emotion",
        "HAP",
        "--outfile",
        str(tmp_path / "x.mp4"),
    ]
    assert run_cli(inference.main, argv) == 2
    err = capsys.readouterr().err
    assert "not a generator" in err and "lip-sync expert" in err and err.count("\n") == 1


def test_no_face_anywhere(media, tmp_path, capsys):
    black = tmp_path / "black.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=black:s=320x240:d=1", "-c:v", "libx264", str(black))
    code, out = run(media, face=str(black), tmp=tmp_path)
    assert code == 2 and "no face in any frame" in capsys.readouterr().err and not os.path.exists(out)


def test_shell_metacharacters_in_names(media, tmp_path):
    odd = tmp_path / "it's $(touch PWNED) a face.mp4"
    odd.write_bytes((media / "face.mp4").read_bytes())
    odd_audio = tmp_path / 'say "hi" `touch PWNED2`.wav'
    odd_audio.write_bytes((media / "speech_short.wav").read_bytes())
    out = tmp_path / "out $(touch PWNED3).mp4"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "inference.py"),
            "--checkpoint_path",
            str(media / "emogen.pth"),
            "--face",
            str(odd),
            "--audio",
            str(odd_audio),
            "--emotion",
            "NEU",
            "--outfile",
            str(out),
            "--box",
            *map(str, BOX),
            "--no_progress",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.exists()
    assert not any(p.name.startswith("PWNED") for p in tmp_path.iterdir())


def test_geometry_helpers():
    boxes = np.array([[0, 0, 10, 10], [10, 0, 20, 10], [20, 0, 30, 10]], float)
    # The clamped last window reuses the already smoothed box before it, exactly as the original (in place).
    assert smooth_boxes(boxes, T=2).tolist() == [[5, 0, 15, 10], [15, 0, 25, 10], [17.5, 0, 27.5, 10]]
    filled, n = fill_gaps([(0, 0, 10, 10), None, None, (30, 0, 40, 10), None], max_gap=2)
    assert n == 3 and filled[1] == (10, 0, 20, 10) and filled[2] == (20, 0, 30, 10) and filled[4] == (30, 0, 40, 10)
    untouched, n = fill_gaps([(0, 0, 1, 1), None, None, None, (0, 0, 1, 1)], max_gap=2)
    assert n == 0 and untouched[2] is None
    assert mel_chunk_starts(100, 25.0) == [
        0,
        3,
        6,
        9,
        12,
        16,
        19,
        22,
        25,
        28,
        32,
        35,
        38,
        41,
        44,
        48,
        51,
        54,
        57,
        60,
        64,
        67,
        70,
        73,
        76,
        80,
        83,
        84,
    ]


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_CHECKPOINT",))


def test_unsafe_checkpoint_and_missing_ffmpeg(media, tmp_path, capsys, monkeypatch):
    evil = tmp_path / "evil.pth"
    torch.save({"state_dict": seeded_state_dict("emogen_generator"), "extra": _Evil()}, evil)
    monkeypatch.chdir(tmp_path)
    argv = [
        "--checkpoint_path",
        str(evil),
        "--face",
        str(media / "face.mp4"),
        "--audio",
        str(media / "speech.wav"),
        "--emotion",
        "HAP",
        "--outfile",
        str(tmp_path / "x.mp4"),
    ]
    assert run_cli(inference.main, argv) == 2
    assert "could run code" in capsys.readouterr().err
    assert not (tmp_path / "PWNED_BY_CHECKPOINT").exists()

    import emogen.common.media

    monkeypatch.setattr(emogen.common.media.shutil, "which", lambda name: None)
    code, out = run(media, "--box", *map(str, BOX), tmp=tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and "ffmpeg was not found on PATH" in err and not os.path.exists(out)


def test_read_only_checkout_and_site_packages(media, tmp_path):
    """The repository and site-packages mounted read-only (a private mount namespace), only $HOME writable."""
    import shlex
    import site

    home = tmp_path / "home"
    home.mkdir()
    site_dir = site.getsitepackages()[0]
    base = [
        sys.executable,
        "inference.py",
        "--checkpoint_path",
        str(media / "emogen.pth"),
        "--face",
        str(media / "face.mp4"),
        "--audio",
        str(media / "speech_short.wav"),
        "--emotion",
        "HAP",
        "--no_progress",
    ]
    runs = {
        "default_outfile": base + ["--box", *map(str, BOX)],  # results/ in the read-only repo
        "fixed_box": base + ["--box", *map(str, BOX), "--outfile", str(tmp_path / "box.mp4")],
        "detected": base + ["--face_detector", "dlib", "--outfile", str(tmp_path / "det.mp4")],
    }
    mounts = " && ".join(
        f"mount --bind {shlex.quote(p)} {shlex.quote(p)} && mount -o remount,bind,ro {shlex.quote(p)}"
        for p in (str(REPO_ROOT), site_dir)
    )
    results = {}
    for name, argv in runs.items():
        script = (
            f"{mounts} && touch {shlex.quote(str(REPO_ROOT))}/probe 2>/dev/null; echo ro=$?; "
            f"cd {shlex.quote(str(REPO_ROOT))} && exec {shlex.join(argv)}"
        )
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("EMOGEN_CACHE_DIR", "EMOGEN_MODEL_CACHE_DIR", "XDG_CACHE_HOME")
        }
        env["HOME"] = str(home)
        results[name] = subprocess.run(
            ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=300
        )
    for proc in results.values():
        assert proc.stdout.startswith("ro=1"), proc.stdout + proc.stderr  # the checkout really was read-only
    err = results["default_outfile"].stderr.strip().splitlines()
    assert results["default_outfile"].returncode == 2 and len(err) == 1
    assert "--outfile results/HAP.mp4: cannot write in" in err[0] and "Read-only file system" in err[0]
    assert results["fixed_box"].returncode == 0, results["fixed_box"].stderr
    assert results["detected"].returncode == 0, results["detected"].stderr
    assert (tmp_path / "box.mp4").exists() and (tmp_path / "det.mp4").exists()
    cached = list((home / ".cache" / "emogen" / "detections").glob("*.json"))
    assert len(cached) == 1  # the detection cache went to the user's cache folder
    if openvino_installed():  # the default backend on a CPU: its converted generator went there too
        assert len(list((home / ".cache" / "emogen" / "models").glob("generator-*-f32/model.xml"))) == 1
    assert not (REPO_ROOT / "probe").exists() and not (REPO_ROOT / "results" / "HAP.mp4").exists()


def test_openvino_backend_end_to_end(media, tmp_path, capsys):
    """inference.py on OpenVINO writes the same video as PyTorch in float32 (up to rounding) and says so."""
    code, ov = run(
        media, "--box", *map(str, BOX), "--backend", "openvino", "--precision", "fp32-cl", tmp=tmp_path, out="ov.mp4"
    )
    assert code == 0 and "generator fp32-cl on openvino" in capsys.readouterr().out
    code, pt = run(
        media, "--box", *map(str, BOX), "--backend", "torch", "--precision", "fp32-cl", tmp=tmp_path, out="pt.mp4"
    )
    assert code == 0 and "generator fp32-cl on torch" in capsys.readouterr().out
    (_, _, a), (_, _, b) = video_info(ov), video_info(pt)
    assert len(a) == len(b) > 30
    y1, y2, x1, x2 = BOX
    diff = np.stack(a)[:, y1:y2, x1:x2].astype(np.float64) - np.stack(b)[:, y1:y2, x1:x2]
    # Float32 on either runtime (the generator's outputs agree to 1e-4); after H.264, whose choices flip on the
    # smallest change of input, 48-49 dB here. 40 dB is the bar every non-exact precision meets.
    assert 10 * np.log10(255**2 / max(np.mean(diff**2), 1e-12)) > 40


def test_openvino_run_on_a_cached_model_never_loads_torch(media, tmp_path):
    """The default CPU run imports no torch once its OpenVINO model is cached (1.2 s and about 470 MiB saved)."""
    report = (
        "import atexit, runpy, sys; "
        "atexit.register(lambda: print('torch loaded:', 'torch' in sys.modules, file=sys.stderr)); "
        "sys.argv = ['inference.py'] + sys.argv[1:]; runpy.run_path('inference.py', run_name='__main__')"
    )
    loaded = []
    for n in range(2):  # the first run may convert (and quantize) the checkpoint, which needs torch
        out = tmp_path / f"out{n}.mp4"
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                report,
                "--checkpoint_path",
                str(media / "emogen.pth"),
                "--face",
                str(media / "face.mp4"),
                "--audio",
                str(media / "speech_short.wav"),
                "--emotion",
                "SAD",
                "--outfile",
                str(out),
                "--box",
                *map(str, BOX),
                "--no_progress",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0 and out.exists(), proc.stderr
        assert "on openvino" in proc.stdout, proc.stdout
        loaded.append(proc.stderr.strip().splitlines()[-1])
    assert loaded[1] == "torch loaded: False", loaded
    (_, _, a), (_, _, b) = video_info(str(tmp_path / "out0.mp4")), video_info(str(tmp_path / "out1.mp4"))
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_output_file_mode_follows_umask(media, tmp_path):
    old = os.umask(0o022)
    try:
        code, out = run(media, "--box", *map(str, BOX), tmp=tmp_path, out="mode.mp4")
    finally:
        os.umask(old)
    assert code == 0 and os.stat(out).st_mode & 0o777 == 0o644


def test_hostile_values_and_outputs_are_refused_before_any_work(media, tmp_path, capsys):
    import soundfile

    empty = tmp_path / "empty.wav"
    soundfile.write(str(empty), np.zeros(0, np.float32), 16000)  # a header and no samples
    folder = tmp_path / "adir"
    folder.mkdir()
    cases = {
        "empty audio": (["--audio", str(empty)], "holds no sound"),
        "existing folder": (["--outfile", str(folder)], "is a folder"),
        "name ending in /": (["--outfile", str(tmp_path / "newdir") + "/"], "is a folder"),
        "avi": (["--outfile", str(tmp_path / "x.avi")], "must end in .mp4, not .avi"),
        "folder with all": (["--outfile", str(folder), "--emotion", "all"], "is a folder"),
        "nvenc on cpu": (["--encoder", "h264_nvenc", "--device", "cpu"], "needs an NVIDIA GPU"),
        "absurd fps": (["--fps", "1e9"], "--fps: must be at most 240"),
        "absurd pads": (["--pads", "0", "99999999", "0", "0"], "--pads: must be at most 10000"),
        "absurd batch": (["--wav2lip_batch_size", "100000000"], "must be at most 4096"),
    }
    for name, (extra, expected) in cases.items():
        argv = [
            "--checkpoint_path",
            str(media / "emogen.pth"),
            "--face",
            str(media / "face.mp4"),
            "--audio",
            str(media / "speech.wav"),
            "--emotion",
            "HAP",
            "--outfile",
            str(tmp_path / "ok.mp4"),
            "--box",
            *map(str, BOX),
            "--no_progress",
        ]
        for i in range(0, len(extra), 2):  # later flags win in argparse, and --pads takes four values
            argv += extra[i:] if extra[i] == "--pads" else extra[i : i + 2]
            if extra[i] == "--pads":
                break
        code = run_cli(inference.main, argv) if name not in ("absurd fps", "absurd pads", "absurd batch") else None
        if code is None:
            with pytest.raises(SystemExit) as exit_info:
                inference.main(argv)
            code = exit_info.value.code
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and expected in err[0], (name, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "empty.wav"]  # nothing written
    assert list(folder.iterdir()) == []


def test_sigterm_leaves_no_partial_output_and_no_temporary_folder(media, tmp_path):
    import signal
    import time

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out" / "talk.mp4"
    long_speech = tmp_path / "long.wav"
    ffmpeg("-stream_loop", "6", "-i", str(media / "speech.wav"), str(long_speech))  # ~11 s: still running at the kill
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO_ROOT / "inference.py"),
            "--checkpoint_path",
            str(media / "emogen.pth"),
            "--face",
            str(media / "face.mp4"),
            "--audio",
            str(long_speech),
            "--emotion",
            "HAP",
            "--outfile",
            str(out),
            "--box",
            *map(str, BOX),
            "--no_progress",
            "--precision",
            "fp32",
        ],
        env=dict(os.environ, TMPDIR=str(tmp)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):  # until the encoder has started writing its hidden partial file
            if out.parent.is_dir() and any(p.name.startswith(".talk.mp4.") for p in out.parent.iterdir()):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)  # a second one during cleanup is ignored
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
    assert "interrupted" in proc.stderr.read()
    assert list(out.parent.iterdir()) == [] and list(tmp.iterdir()) == []


@pytest.mark.parametrize("detection", ["exact", "fast"])
def test_streamed_detection_writes_the_same_video_as_waiting_for_it(media, spliced, tmp_path, capsys, detection):
    # A face, five black frames (filled from the faces around them), the face again: boxes published while
    # detection runs must be the ones the whole list gives.
    argv = ["--no_detection_cache", "--detection", detection]
    code, streamed = run(media, *argv, face=str(spliced), tmp=tmp_path, out="streamed.mp4")
    assert code == 0, capsys.readouterr().err
    assert "5 face-less input frames filled" in capsys.readouterr().out
    code, waited = run(media, *argv, "--wait_for_detection", face=str(spliced), tmp=tmp_path, out="waited.mp4")
    assert code == 0, capsys.readouterr().err
    a, b = video_info(streamed)[2], video_info(waited)[2]
    assert len(a) == len(b) == 37 and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_rerun_removes_what_a_killed_run_left(media, tmp_path, monkeypatch):
    """After SIGKILL: hidden partial outputs (named with the dead writer's pid) and the run's private temporary
    folder are swept by the next run; a partial file of a process still running is left alone."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = [tmp_path / f".out_{e}.mp4.{dead.pid}.x1y2.mp4" for e in ("ANG", "HAP")]
    for path in left:
        path.write_bytes(b"partial")
    mine = tmp_path / f".out_HAP.mp4.{os.getpid()}.a1b2.mp4"
    mine.write_bytes(b"being written")
    scratch = tmp_path / "tmp" / f"emogen-run-{dead.pid}-q8w9"
    scratch.mkdir()
    (scratch / "speech_16k.wav").write_bytes(b"a user's speech")
    code, _ = run(media, "--box", *map(str, BOX), emotion="ANG,HAP", tmp=tmp_path)
    assert code == 0
    assert not any(p.exists() for p in left) and not scratch.exists() and mine.exists()
    assert not [p for p in os.listdir(tmp_path / "tmp") if p.startswith("emogen-run-")]  # its own folder is gone too
