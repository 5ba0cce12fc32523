"""Every script answers a malformed option value with one line on stderr and a non-zero exit, no traceback."""

import importlib
import os
import subprocess

import pytest
import torch
from shared_data import load_script, seeded_state_dict

import app
import color_syncnet_train
import convertFPS
import demo
import emotion_disc_train
import inference
import train
from emogen.common.errors import run_cli


def outcome(main, argv, capsys):
    """(exit status, stderr lines) of a script's main, whether it fails in argparse or later."""
    try:
        code = run_cli(main, argv)
    except SystemExit as exc:
        code = exc.code
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    return code, lines


@pytest.fixture(scope="module")
def files(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(shared / "data/video/face3.mp4"),
            "-t",
            "0.8",
            str(d / "face.mp4"),
        ],
        check=True,
    )
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(shared / "data/video/face3.mp4"),
            "-t",
            "0.8",
            "-an",
            str(d / "silent.mp4"),
        ],
        check=True,
    )
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(shared / "data/audio/speech_en_16k.wav"),
            "-t",
            "0.8",
            str(d / "speech.wav"),
        ],
        check=True,
    )
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, d / "emogen.pth")
    (d / "folder").mkdir()
    return d


def inference_cases(d):
    base = [
        "--checkpoint_path",
        str(d / "emogen.pth"),
        "--face",
        str(d / "face.mp4"),
        "--audio",
        str(d / "speech.wav"),
        "--emotion",
        "HAP",
        "--outfile",
        str(d / "out" / "x.mp4"),
        "--no_progress",
        "--no_detection_cache",
    ]

    def with_(*extra, drop=()):
        argv = list(base)
        for flag in drop:
            i = argv.index(flag)
            del argv[i : i + 2]
        return argv + list(extra)

    return [
        (with_("--fps", "0"), "--fps: must be at least 1"),
        (with_("--fps", "abc"), "--fps: expected a number, got 'abc'"),
        (with_("--fps", "nan"), "--fps: expected a finite number"),
        (with_("--wav2lip_batch_size", "0"), "--wav2lip_batch_size: must be at least 1"),
        (with_("--face_det_batch_size", "-3"), "--face_det_batch_size: must be at least 1"),
        (with_("--resize_factor", "-1"), "--resize_factor: must be at least 1"),
        (with_("--det_stride", "0"), "--det_stride: must be at least 1"),
        (with_("--det_max_side", "10"), "--det_max_side: must be at least 64"),
        (with_("--pads", "0", "10", "x", "0"), "--pads: expected a whole number, got 'x'"),
        (with_("--emotion", "JOY", drop=["--emotion"]), "unknown emotion 'JOY'"),
        (with_("--face", str(d / "folder"), drop=["--face"]), "--face " + str(d / "folder") + " is a folder"),
        (with_("--audio", str(d / "folder"), drop=["--audio"]), "--audio " + str(d / "folder") + " is a folder"),
        (with_("--audio", str(d / "missing.wav"), drop=["--audio"]), "file not found"),
        (with_("--checkpoint_path", str(d / "folder"), drop=["--checkpoint_path"]), "is a folder"),
        (with_("--audio", str(d / "silent.mp4"), drop=["--audio"]), "has no audio stream"),
        (with_("--box", "150", "470", "140", "900"), "does not fit the frame, which is 590x590"),
        (with_("--box", "-5", "470", "140", "450"), "--box: must be at least -1, got -5"),
        (with_("--box", "0", "470", "-1", "450"), "does not fit the frame"),
        (with_("--box", "470", "150", "140", "450"), "TOP < BOTTOM"),
        (with_("--box", "150", "470", "140", "450", "--resize_factor", "2"), "which is 295x295"),
        (with_("--face_detector", "opencv", "--pads", "-400", "-400", "0", "0"), "leave an empty face box"),
        (with_("--outfile", "/proc/no/x.mp4", drop=["--outfile"]), "--outfile /proc/no/x.mp4: cannot write in"),
        (with_("--device", "tpu"), "--device 'tpu' is not a device name"),
    ]


def test_inference_sweep(files, capsys):
    for argv, expected in inference_cases(files):
        code, lines = outcome(inference.main, argv, capsys)
        assert code != 0 and len(lines) == 1 and expected in lines[0], (argv, lines)
        assert not os.path.exists(files / "out" / "x.mp4")


def test_other_scripts_sweep(files, tmp_path, capsys):
    prep = load_script("preprocess_crema-d.py")
    fid = importlib.import_module("evaluation.calculate_fid")
    img = importlib.import_module("evaluation.img_eval")
    lse = importlib.import_module("evaluation.score_lse")
    live = load_script("live.py")
    f = str(files / "face.mp4")
    live_args = ["--face", f, "--audio", f, "--emotion", "HAP", "--outfile", str(tmp_path / "l.mp4")]
    training = ["--data_root", str(files / "folder"), "--checkpoint_dir", str(tmp_path / "ck")]
    cases = [
        (convertFPS.main, ["-i", str(files), "-o", str(tmp_path / "o"), "-fps", "0"], "-fps/--fps: must be above 0"),
        (convertFPS.main, ["-i", str(files), "-o", str(tmp_path / "o"), "--workers", "0"], "must be at least 1"),
        (convertFPS.main, ["-i", f, "-o", str(tmp_path / "o")], "input folder not found"),
        (
            prep.main,
            ["--data_root", str(files), "--preprocessed_root", str(tmp_path / "p"), "--workers", "0"],
            "--workers: must be at least 1",
        ),
        (
            prep.main,
            ["--data_root", str(files), "--preprocessed_root", str(tmp_path / "p"), "--batch_size", "0"],
            "--batch_size: must be at least 1",
        ),
        (
            prep.main,
            ["--data_root", str(files), "--preprocessed_root", str(tmp_path / "p"), "--ngpu", "-1"],
            "--ngpu: must be at least 0",
        ),
        (prep.main, ["--data_root", f, "--preprocessed_root", str(tmp_path / "p")], "is not a folder"),
        (color_syncnet_train.main, training + ["--max_steps", "0"], "--max_steps: must be at least 1"),
        (color_syncnet_train.main, training + ["--num_workers", "-1"], "--num_workers: must be at least 0"),
        (color_syncnet_train.main, training + ["--eval_batches", "0"], "--eval_batches: must be at least 1"),
        (color_syncnet_train.main, training + ["--hparams", "bogus=1"], "unknown hyper-parameter 'bogus'"),
        (color_syncnet_train.main, training + ["--hparams", "batch_size=abc"], "batch_size"),
        (
            emotion_disc_train.main,
            ["-i", str(files), "-o", str(tmp_path / "e"), "--batch-size", "0"],
            "--batch-size: must be at least 1",
        ),
        (
            emotion_disc_train.main,
            ["-i", str(files), "-o", str(tmp_path / "e"), "--lr_emo", "-1"],
            "--lr_emo: must be above 0",
        ),
        (
            train.main,
            training + ["--syncnet_checkpoint_path", f, "--emotion_disc_path", f, "--disc_lr", "0"],
            "--disc_lr: must be above 0",
        ),
        (
            train.main,
            training + ["--syncnet_checkpoint_path", str(files / "folder"), "--emotion_disc_path", f, "--random_vgg"],
            "is a folder",
        ),
        (app.main, ["--port", "70000"], "--port: must be at most 65535"),
        (app.main, ["--max_upload_mb", "0"], "--max_upload_mb: must be above 0"),
        (demo.main, ["--steps", "0"], "--steps: must be at least 1"),
        (
            fid.main,
            ["--real_dir", str(files), "--generated_dir", str(files), "--batch_size", "0"],
            "--batch_size: must be at least 1",
        ),
        (
            img.main,
            ["--real_dir", str(files), "--generated_dir", str(files), "--max_frames", "-2"],
            "--max_frames: must be at least 1",
        ),
        (lse.main, ["--videos_dir", str(files), "--min_track", "0"], "--min_track: must be at least 1"),
        (live.main, live_args + ["--chunk_ms", "0"], "--chunk_ms: must be at least 1"),
        (live.main, live_args + ["--pace", "-1"], "--pace: must be at least 0"),
        (live.main, live_args + ["--max_waiting", "abc"], "--max_waiting: expected a whole number, got 'abc'"),
        (app.main, ["--live_max_minutes", "0"], "--live_max_minutes: must be above 0"),
    ]
    for main, argv, expected in cases:
        code, lines = outcome(main, argv, capsys)
        assert code != 0 and len(lines) == 1 and expected in lines[0], (argv, lines)
