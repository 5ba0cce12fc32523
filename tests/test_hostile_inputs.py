"""Hostile use: no input is ever overwritten, every signal cleans up, the work and memory are bounded,
and bad values end in one line."""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import soundfile
import torch
from shared_data import FACE3_BOX as BOX
from shared_data import REPO_ROOT, ffmpeg, load_script, seeded_state_dict

import convertFPS
import inference
from emogen.common.errors import UserError, run_cli


@pytest.fixture(scope="module")
def media(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile4")
    ffmpeg("-i", str(shared / "data/audio/speech_en_16k.wav"), "-t", "1.2", str(d / "speech.wav"))
    ffmpeg(
        "-i", str(shared / "data/video/face3.mp4"), "-t", "1.6", "-c:v", "libx264", "-crf", "14", str(d / "face.mp4")
    )
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, d / "emogen.pth")
    return d


def infer(media, *extra, face=None, audio=None, out=None, emotion="HAP"):
    argv = [
        "--checkpoint_path",
        str(media / "emogen.pth"),
        "--face",
        str(face or media / "face.mp4"),
        "--audio",
        str(audio or media / "speech.wav"),
        "--emotion",
        emotion,
        "--box",
        *map(str, BOX),
        "--no_progress",
        "--no_detection_cache",
        *(["--outfile", str(out)] if out else []),
        *extra,
    ]
    return run_cli(inference.main, argv)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


# Data loss


def test_inference_never_writes_over_its_face_or_speech(media, tmp_path, capsys):
    face, speech = tmp_path / "same.mp4", tmp_path / "x.mp4"
    face.write_bytes((media / "face.mp4").read_bytes())
    speech.write_bytes((media / "face.mp4").read_bytes())
    before = face.read_bytes()
    assert infer(media, face=face, out=face) == 2
    assert "--outfile" in one_error_line(capsys) and face.read_bytes() == before
    assert infer(media, audio=speech, out=speech) == 2
    assert "is also the audio input" in one_error_line(capsys)
    # The same file under another spelling (a symbolic link) is the same file.
    link = tmp_path / "link.mp4"
    link.symlink_to(face)
    assert infer(media, face=face, out=link) == 2
    assert "is also the face input" in one_error_line(capsys) and face.read_bytes() == before


def test_live_report_never_replaces_the_video_or_an_input(media, tmp_path, capsys):
    live = load_script("live.py")
    base = [
        "--checkpoint_path",
        str(media / "emogen.pth"),
        "--face",
        str(media / "face.mp4"),
        "--audio",
        str(media / "speech.wav"),
        "--emotion",
        "HAP",
        "--box",
        *map(str, BOX),
    ]
    out = tmp_path / "l.mp4"
    assert run_cli(live.main, [*base, "--outfile", str(out), "--report", str(out)]) == 2
    assert "--report" in one_error_line(capsys) and not out.exists()
    folder = tmp_path / "a folder"
    folder.mkdir()
    start = time.perf_counter()
    assert run_cli(live.main, [*base, "--outfile", str(out), "--report", str(folder)]) == 2
    assert "is a folder" in one_error_line(capsys) and time.perf_counter() - start < 20  # before the run
    assert not out.exists()


def test_convert_fps_refuses_an_output_tree_that_holds_the_input(shared, tmp_path, capsys):
    anc = tmp_path / "anc"
    (anc / "sub").mkdir(parents=True)
    (anc / "clip.mp4").write_bytes((shared / "data/video/face5.mp4").read_bytes())
    src = sorted((shared / "data/crema-d").glob("*.flv"))[0]
    (anc / "sub" / "clip.flv").write_bytes(src.read_bytes())
    before = (anc / "clip.mp4").read_bytes()
    assert run_cli(convertFPS.main, ["-i", str(anc / "sub"), "-o", str(anc), "--no_progress"]) == 2
    assert "contains the input folder" in one_error_line(capsys)
    assert (anc / "clip.mp4").read_bytes() == before


def test_gen_videos_refuses_entries_outside_the_output_folder(media, tmp_path, capsys):
    from evaluation import gen_videos_from_filelist as gen

    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "ok.mp4").write_bytes((media / "face.mp4").read_bytes())
    filelist = tmp_path / "list.txt"
    filelist.write_text("ok\n../escape\n")
    out = tmp_path / "out"
    argv = [
        "--filelist",
        str(filelist),
        "--video_root",
        str(tmp_path / "videos"),
        "--out_dir",
        str(out),
        "--checkpoint_path",
        str(media / "emogen.pth"),
        "--emotions",
        "HAP",
        "--no_progress",
    ]
    assert run_cli(gen.main, argv) == 2
    assert "leads outside" in one_error_line(capsys)
    assert not list(tmp_path.glob("escape*")) and not (out.exists() and list(out.iterdir()))


# Signals


def ffmpeg_children_of(path_fragment: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if "ffmpeg" in cmd and path_fragment in cmd:
                found.append(cmd)
    return found


@pytest.mark.slow
def test_sighup_cleans_up_like_sigterm(media, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out" / "X.mp4"
    long_speech = tmp_path / "long.wav"
    ffmpeg("-stream_loop", "8", "-i", str(media / "speech.wav"), str(long_speech))
    cmd = [
        sys.executable,
        str(REPO_ROOT / "inference.py"),
        "--checkpoint_path",
        str(media / "emogen.pth"),
        "--face",
        str(media / "face.mp4"),
        "--audio",
        str(long_speech),
        "--emotion",
        "all",
        "--outfile",
        str(out),
        "--box",
        *map(str, BOX),
        "--no_progress",
        "--precision",
        "fp32",
    ]
    proc = subprocess.Popen(
        cmd, env=dict(os.environ, TMPDIR=str(tmp)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        for _ in range(600):  # until the encoders have started writing their hidden partial files
            if out.parent.is_dir() and any(p.name.startswith(".X_") for p in out.parent.iterdir()):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGHUP)
        code = proc.wait(timeout=60)
        assert code == 130, proc.stderr.read()[-3000:]
    finally:
        proc.kill()
    assert "interrupted" in proc.stderr.read()
    assert list(out.parent.iterdir()) == [] and list(tmp.iterdir()) == []
    time.sleep(0.5)
    assert ffmpeg_children_of(str(out.parent)) == []


@pytest.mark.slow
def test_convert_fps_stops_within_moments_of_sigterm(shared, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for k in range(9):
        (src / f"c{k}.mp4").write_bytes((shared / "data/video/face6.mp4").read_bytes())
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO_ROOT / "convertFPS.py"),
            "-i",
            str(src),
            "-o",
            str(out),
            "--no_progress",
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(400):  # until the first conversions are under way
            if out.is_dir() and any(p.name.startswith(".") for p in out.iterdir()):
                break
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert code == 130 and "interrupted" in proc.stderr.read()
    # Nine 8 s clips take far longer than this; the queued ones were dropped and the running ffmpegs ended.
    assert took < 6, took
    assert len([p for p in out.iterdir() if p.suffix == ".mp4" and not p.name.startswith(".")]) < 9
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no partial file left
    assert ffmpeg_children_of(str(out)) == []


# Bounded work and memory


def test_face_video_frame_rate_and_size_are_bounded(media, tmp_path, capsys):
    fast = tmp_path / "fast.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=128x128:rate=1000", "-t", "1", "-c:v", "libx264", str(fast))
    assert infer(media, "--box", "10", "100", "10", "100", face=fast, out=tmp_path / "o.mp4") == 2
    line = one_error_line(capsys)
    assert "1000 frames per second" in line and "-r 25" in line
    huge = tmp_path / "huge.png"
    cv2.imwrite(str(huge), np.full((8000, 8000, 3), 128, np.uint8))
    assert infer(media, face=huge, out=tmp_path / "o.mp4") == 2
    line = one_error_line(capsys)
    assert "8000x8000" in line and "--resize_factor 3" in line
    # The still's frame rate is bounded below too (a frame every 10^9 s would fail only at the end).
    with pytest.raises(SystemExit) as stopped:
        infer(media, "--fps", "1e-9", face=huge, out=tmp_path / "o.mp4")
    assert stopped.value.code == 2 and "--fps" in one_error_line(capsys)


def test_web_connections_time_out_and_are_capped():
    from flask import Flask

    from emogen.apps.web.serving import make_web_server

    app = Flask("t")
    app.get("/")(lambda: "ok")
    server = make_web_server("127.0.0.1", 0, app, max_connections=2, timeout=1.0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_port
    try:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", port))
        extra.settimeout(3)
        assert extra.recv(1) == b""  # closed at once: both places are held
        for s in idle:  # slow clients that never finish a request are dropped after the timeout
            s.settimeout(5)
            start = time.monotonic()
            s.recv(1024)
            assert time.monotonic() - start < 4
        # The places are free again once the server's threads have let the dropped clients go; on a loaded CPU
        # that can trail the client's view of the close, so the request is retried for a few seconds.
        deadline, reply = time.monotonic() + 5, ""
        while not reply and time.monotonic() < deadline:
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                s.settimeout(3)
                reply = s.recv(4096).decode()
            if not reply:
                time.sleep(0.1)
        assert reply.startswith("HTTP/1.1 200") and "Werkzeug" not in reply and "Python" not in reply
        assert "Server: EmoGen" in reply
    finally:
        server.shutdown()
        server.server_close()


def test_live_sessions_have_a_global_cap():
    from emogen.apps.web.live import LiveRefused, LiveRegistry

    registry = LiveRegistry(max_sessions=2)
    registry.claim("10.0.0.1")
    registry.claim("10.0.0.2")
    with pytest.raises(LiveRefused, match="2 live sessions are open"):
        registry.claim("10.0.0.3")
    registry.release("10.0.0.1")
    registry.claim("10.0.0.3")


def test_server_names_no_server_folders(tmp_path):
    from emogen.apps.web.server import WebConfig, create_app

    secret = tmp_path / "private" / "place"
    app = create_app(WebConfig(str(secret / "gen.pth"), device="cpu", work_root=str(tmp_path / "w")))
    try:
        client = app.test_client()
        config = client.get("/api/config").get_json()
        assert "gen.pth" in config["missing"] and str(secret) not in json.dumps(config)
        resp = client.post("/api/jobs", data={"emotion": "HAP"})
        assert resp.status_code == 503 and str(secret) not in resp.get_data(as_text=True)
    finally:
        app.extensions["emogen_queue"].shutdown()


def test_a_failed_web_start_is_one_line_and_leaves_no_folder(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    try:
        proc = subprocess.run(
            [
                sys.executable,
                str(REPO_ROOT / "app.py"),
                "--port",
                str(port),
                "--checkpoint_path",
                str(tmp_path / "none.pth"),
            ],
            env=dict(os.environ, TMPDIR=str(tmp)),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        busy.close()
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and lines[-1].startswith("error: --port") and "Traceback" not in proc.stderr
    assert list(tmp.iterdir()) == []


# Tracebacks and silent garbage


@pytest.mark.parametrize(
    "override, key",
    [
        ("batch_size=-1", "batch_size"),
        ("syncnet_batch_size=-4", "syncnet_batch_size"),
        ("initial_learning_rate=nan", "initial_learning_rate"),
        ("fps=0", "fps"),
        ("img_size=7", "img_size"),
        ("syncnet_lr=inf", "syncnet_lr"),
    ],
)
def test_hparams_out_of_range_are_one_line(override, key):
    from emogen.training.options import hparams_from_args

    with pytest.raises(UserError, match=rf"hyper-parameter {key} must"):
        hparams_from_args([override])


def test_a_training_script_refuses_a_bad_hparam_in_one_line(tmp_path, capsys):
    sync = load_script("color_syncnet_train.py")
    argv = ["--data_root", str(tmp_path), "--checkpoint_dir", str(tmp_path / "c"), "--hparams", "syncnet_lr=inf"]
    assert run_cli(sync.main, argv) == 2
    assert "syncnet_lr must be a finite number" in one_error_line(capsys)
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").glob("*.pth"))


def test_non_finite_weights_and_losses_are_refused(media, tmp_path, capsys):
    from emogen.common.checkpoint_io import CheckpointError, load_weights
    from emogen.training.loop import LoopConfig, run_training
    from emogen.training.state import TrainState
    from models import Wav2Lip

    state = seeded_state_dict("emogen_generator")
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key].clone()
    state[key].view(-1)[0] = float("nan")
    bad = tmp_path / "nan.pth"
    torch.save({"state_dict": state}, bad)
    with pytest.raises(CheckpointError, match="NaN or infinite weights in 1 of"):
        load_weights(Wav2Lip(), str(bad), "EmoGen generator")
    argv = [
        "--checkpoint_path",
        str(bad),
        "--face",
        str(media / "face.mp4"),
        "--audio",
        str(media / "speech.wav"),
        "--emotion",
        "HAP",
        "--box",
        *map(str, BOX),
        "--outfile",
        str(tmp_path / "o.mp4"),
        "--no_progress",
        "--backend",
        "torch",
    ]
    assert run_cli(inference.main, argv) == 2
    assert "NaN or infinite weights" in one_error_line(capsys) and not (tmp_path / "o.mp4").exists()

    saved = []
    losses = iter([{"l1": 0.5}, {"l1": math.nan}])
    with pytest.raises(UserError, match="diverged at step 2: the l1 loss is not finite"):
        run_training(
            [0, 1, 2],
            TrainState(),
            LoopConfig(1, None, False, "t"),
            lambda b: next(losses),
            lambda x: None,
            lambda x, n: None,
            saved.append,
        )
    assert saved == []  # the weights after a diverged step are never saved


def test_names_with_line_breaks_are_refused_by_preprocessing(tmp_path):
    from emogen.data.preprocess import plan_jobs

    for name in ("1001_DFA_ANG_XX.mp4", "my clip.mp4", "1001_DFA_SAD\n_XX.mp4", "a\tb.mp4"):
        (tmp_path / name).write_bytes(b"")
    jobs, refused = plan_jobs(str(tmp_path), str(tmp_path / "out"), allow_any_names=True)
    assert sorted(os.path.basename(src) for src, _ in jobs) == ["1001_DFA_ANG_XX.mp4", "my clip.mp4"]
    assert sorted(r.status for r in refused) == ["bad-name", "bad-name"]
    assert all("line break or a tab" in r.error and "\n" not in r.name for r in refused)


def test_names_with_spaces_stay_whole_in_filelists(tmp_path):
    from emogen.data.filelists import read_filelist

    (tmp_path / "train.txt").write_text("my clip $(touch x)\n1001_DFA_ANG_XX\n\n")
    assert read_filelist(str(tmp_path / "train.txt")) == ["my clip $(touch x)", "1001_DFA_ANG_XX"]


def test_non_finite_samples_are_refused_before_any_work(media, tmp_path, capsys):
    wav = tmp_path / "nan.wav"
    samples = np.sin(np.arange(16000) / 10).astype(np.float32)
    samples[100] = np.nan
    soundfile.write(str(wav), samples, 16000, subtype="FLOAT")
    assert infer(media, audio=wav, out=tmp_path / "o.mp4") == 2
    assert "NaN or infinite samples" in one_error_line(capsys) and not (tmp_path / "o.mp4").exists()
    live = load_script("live.py")
    argv = [
        "--checkpoint_path",
        str(media / "emogen.pth"),
        "--face",
        str(media / "face.mp4"),
        "--audio",
        str(wav),
        "--emotion",
        "HAP",
        "--box",
        *map(str, BOX),
        "--outfile",
        str(tmp_path / "l.mp4"),
    ]
    assert run_cli(live.main, argv) == 2
    assert "NaN or infinite samples" in one_error_line(capsys)


@pytest.mark.parametrize(
    "entry",
    [
        {"boxes": [["a", "b", "c", "d"]]},
        {"boxes": [[1, 2, 3]]},
        [1, 2, 3],
        {"boxes": [None, None]},
        {"boxes": [[1, 2, float("inf"), 4]]},
        {"boxes": "x"},
    ],
)
def test_damaged_detection_cache_entries_are_detected_again(entry):
    from emogen.inference.detection_cache import valid_boxes

    assert valid_boxes(entry) is None
    assert valid_boxes({"boxes": [None, [1, 2, 3, 4]], "complete": True}) == [None, (1, 2, 3, 4)]
