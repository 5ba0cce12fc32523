import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile
from shared_data import REPO_ROOT, load_script

import audio
import emogen.data.preprocess as preprocess
from emogen.common.errors import UserError, run_cli
from emogen.data.filelists import read_filelist

script = load_script("preprocess_crema-d.py")

CLIPS = {"1001_DFA_ANG_XX": "face2", "1002_IEO_HAP_HI": "face3", "1003_TIE_SAD_LO": "face5", "1004_DFA_NEU_XX": "face6"}


@pytest.fixture(scope="module")
def dataset(shared, tmp_path_factory):
    root = tmp_path_factory.mktemp("crema")
    vids = root / "videos"
    vids.mkdir()
    for name, src in CLIPS.items():
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(shared / f"data/video/{src}.mp4"),
                "-t",
                "1.2",
                str(vids / f"{name}.mp4"),
            ],
            check=True,
        )
    (vids / "1005_DFA_FEA_XX.mp4").write_bytes(b"corrupt")
    shutil.copy(vids / "1001_DFA_ANG_XX.mp4", vids / "my clip $(touch PWNED).mp4")
    return root


def run(dataset, *extra):
    return run_cli(
        script.main,
        [
            "--data_root",
            str(dataset / "videos"),
            "--preprocessed_root",
            str(dataset / "out"),
            "--face_detector",
            "opencv",
            "--filelist_dir",
            str(dataset / "filelists"),
            "--no_progress",
            *extra,
        ],
    )


def test_preprocess_layout_resume_and_reports(dataset, capsys, monkeypatch):
    out = dataset / "out"
    assert run(dataset) == 1  # the corrupt file is a failure, reported, not an abort
    text = capsys.readouterr().out
    assert "processed 4, already complete 0, failed 1, names refused 1" in text
    assert "1005_DFA_FEA_XX" in text and "my clip $(touch PWNED)" in text
    for name in CLIPS:
        folder = out / name
        jpgs = sorted(int(p.stem) for p in folder.glob("*.jpg"))
        assert jpgs == list(range(30))  # 1.2 s at 25 fps, a face in every frame
        wav, sr = soundfile.read(folder / "audio.wav", dtype="float32")
        assert sr == 16000 and wav.ndim == 1
        info = soundfile.info(folder / "audio.wav")
        assert info.subtype == "PCM_16" and info.channels == 1
        mel = np.load(folder / "mel.npy")
        np.testing.assert_allclose(
            mel, audio.melspectrogram(audio.load_wav(str(folder / "audio.wav"), 16000)), atol=1e-5
        )
        assert (folder / ".complete.json").exists()
    summary = (out / "preprocess_summary.tsv").read_text()
    assert "1005_DFA_FEA_XX\tfailed" in summary and "1001_DFA_ANG_XX\tdone\t30\t30\t0\t26" in summary
    assert not (out / "1005_DFA_FEA_XX").exists()
    assert not any(p.name == "PWNED" for p in dataset.rglob("PWNED"))

    # Speaker-disjoint filelists of the trainable clips.
    lists = {s: read_filelist(str(dataset / "filelists" / f"{s}.txt")) for s in ("train", "val", "test")}
    assert sorted(sum(lists.values(), [])) == sorted(CLIPS)
    assert [len(lists[s]) for s in ("train", "val", "test")] == [2, 1, 1]

    # Simulate a crash in the middle of one video: crops written, no audio, no marker.
    victim = out / "1002_IEO_HAP_HI"
    (victim / ".complete.json").unlink()
    (victim / "audio.wav").unlink()
    (victim / "mel.npy").unlink()
    (victim / "5.jpg").unlink()
    keep = out / "1001_DFA_ANG_XX" / "0.jpg"
    before = keep.stat().st_mtime_ns
    assert run(dataset) == 1
    text = capsys.readouterr().out
    assert "processed 1, already complete 3" in text
    assert (victim / ".complete.json").exists() and (victim / "5.jpg").exists() and (victim / "mel.npy").exists()
    assert keep.stat().st_mtime_ns == before


def test_interrupted_video_leaves_no_marker(dataset, tmp_path, monkeypatch):
    from face_detection.detection.opencv import HaarDetector

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(preprocess, "extract_audio", crash)
    target = tmp_path / "1001_DFA_ANG_XX"
    with pytest.raises(KeyboardInterrupt):
        preprocess.preprocess_video(str(dataset / "videos" / "1001_DFA_ANG_XX.mp4"), str(target), HaarDetector())
    assert target.is_dir() and any(target.glob("*.jpg")) and not preprocess.is_complete(str(target))


def test_any_names_and_random_split(dataset, tmp_path, capsys):
    out = tmp_path / "out2"
    code = run_cli(
        script.main,
        [
            "--data_root",
            str(dataset / "videos"),
            "--preprocessed_root",
            str(out),
            "--face_detector",
            "opencv",
            "--filelist_dir",
            str(tmp_path / "fl"),
            "--no_progress",
            "--allow_any_names",
            "--split",
            "random",
            "--workers",
            "2",
        ],
    )
    assert code == 1
    assert "processed 5" in capsys.readouterr().out
    assert (out / "my clip $(touch PWNED)" / ".complete.json").exists()
    train = read_filelist(str(tmp_path / "fl" / "train.txt"))
    val = read_filelist(str(tmp_path / "fl" / "val.txt"))
    assert len(train) == 4 and len(val) == 1


def test_usable_windows():
    assert preprocess.usable_windows([True] * 7) == 3
    assert preprocess.usable_windows([True] * 4 + [False] + [True] * 5) == 1


def test_workers_stop_when_the_detector_cannot_start(dataset, tmp_path, capsys):
    corrupt = tmp_path / "s3fd.pth"
    corrupt.write_bytes(b"not a checkpoint")
    argv = [
        sys.executable,
        str(REPO_ROOT / "preprocess_crema-d.py"),
        "--data_root",
        str(dataset / "videos"),
        "--preprocessed_root",
        str(tmp_path / "out"),
        "--filelist_dir",
        str(tmp_path / "fl"),
        "--workers",
        "2",
        "--face_detector",
        "s3fd",
        "--no_progress",
    ]
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, env=dict(os.environ, EMOGEN_S3FD_PATH=str(corrupt))
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(corrupt) in lines[0] and "Traceback" not in proc.stderr

    # A worker whose detector fails to start (the parent's check passed) stops the run with its reason.
    todo = [(str(dataset / "videos" / f"{name}.mp4"), str(tmp_path / "w" / name), 8, "exact") for name in CLIPS]
    seen = []
    with pytest.raises(UserError, match="could not start its face detector: unknown face detector 'bogus'"):
        preprocess._run_in_workers(todo, "bogus", ["cpu"], 2, seen.append)
    assert seen == []


def test_nothing_usable_is_exit_2_and_stops_the_demo(dataset, tmp_path, capsys):
    from emogen.apps.stages import Stage, run_stage

    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    shutil.copy(dataset / "videos" / "1005_DFA_FEA_XX.mp4", only_bad / "1005_DFA_FEA_XX.mp4")
    args = [
        "preprocess_crema-d.py",
        "--data_root",
        str(only_bad),
        "--preprocessed_root",
        str(tmp_path / "out"),
        "--face_detector",
        "opencv",
        "--filelist_dir",
        str(tmp_path / "fl"),
        "--no_progress",
    ]
    assert run_cli(script.main, args[1:]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: nothing usable") and "1005_DFA_FEA_XX" in err[0]
    assert not (tmp_path / "fl").exists()
    with pytest.raises(UserError) as stopped:
        run_stage(Stage("preprocess", args), str(tmp_path / "logs"))
    assert "stage 'preprocess' failed (exit 2): error: nothing usable" in str(stopped.value)


def test_unwritable_filelist_dir_is_refused_before_any_video(dataset, tmp_path, capsys):
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    argv = [
        "--data_root",
        str(dataset / "videos"),
        "--preprocessed_root",
        str(tmp_path / "out"),
        "--filelist_dir",
        str(blocker / "filelists"),
        "--face_detector",
        "opencv",
        "--no_progress",
    ]
    assert run_cli(script.main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--filelist_dir" in err[0] and "cannot write" in err[0]
    assert not (tmp_path / "out").exists()  # not one video was processed first


def test_ctrl_c_while_workers_start_is_one_line(dataset, tmp_path):
    import signal
    import time

    # Where the workers are when the signal comes depends on the machine: try it at several moments of their
    # start-up (importing torch, scipy, librosa), each a fresh run.
    for delay in (1.5, 2.0, 2.5, 3.0):
        argv = [
            sys.executable,
            str(REPO_ROOT / "preprocess_crema-d.py"),
            "--data_root",
            str(dataset / "videos"),
            "--preprocessed_root",
            str(tmp_path / f"out{delay}"),
            "--filelist_dir",
            str(tmp_path / "fl"),
            "--workers",
            "2",
            "--face_detector",
            "opencv",
            "--no_progress",
        ]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole process group
        out, err = proc.communicate(timeout=120)
        if proc.returncode == 0:
            continue  # finished before the signal came
        assert proc.returncode == 130, err
        assert "Traceback" not in err and err.strip().splitlines() == ["interrupted"], (delay, err)
