import os
import re

import cv2
import pytest

import demo
from emogen.common.contract import EMOTIONS
from emogen.common.errors import run_cli
from emogen.common.media import probe


@pytest.mark.slow
def test_demo_end_to_end(shared, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EMOGEN_SYNCNET_PATH", str(tmp_path / "no_syncnet.model"))
    work = tmp_path / "run"
    # A step count, not a time, so every machine trains as much (20 steps: 30-100 s, by CPU).
    argv = [
        "--work_dir",
        str(work),
        "--steps",
        "1",
        "--train_steps",
        "20",
        "--train_minutes",
        "30",
        "--audio_seconds",
        "0.8",
    ]
    assert run_cli(demo.main, argv) == 0
    out = capsys.readouterr().out
    # The commands shown are the real scripts.
    for script in (
        "convertFPS.py",
        "preprocess_crema-d.py",
        "color_syncnet_train.py",
        "emotion_disc_train.py",
        "train.py",
        "inference.py",
        "evaluation/img_eval.py",
        "evaluation/emotion_accuracy.py",
        "evaluation/lip_sync.py",
    ):
        assert f"$ python3 {script}" in out
    assert "LSE skipped" in out and "say nothing about the paper's quality" in out
    assert "EmoAcc" in out and "PSNR" in out
    numbers = dict(re.findall(r"^  (\S.*?)\s{2,}(-?[\d.]+)$", out, re.M))
    # 20 steps: the loss fell, and on frames it never saw the face box is clearly closer to the real frames than
    # the untrained network's grey (measured: 12.5 -> 14.7 dB after 19 steps on this example).
    assert float(numbers["train L1, last 10 steps"]) < float(numbers["train L1, first 10 steps"])
    assert float(numbers["held-out face PSNR (dB)"]) > float(numbers["held-out face PSNR, untrained (dB)"]) + 1.0
    assert float(numbers["held-out face SSIM"]) > float(numbers["held-out face SSIM, untrained"])
    # Lip sync on speech the face never spoke, by the landmark model, beside the real face with its own speech
    # (measured 0.29 on examples/face.mp4) and beside the original's reference.
    assert float(numbers["the real face with its own speech (r)"]) == pytest.approx(0.289, abs=0.03)
    for key in (
        "dubbing sync, new speech (r)",
        "copy of the source video's mouth (r)",
        "copy with the original's reference",
    ):
        assert -1 <= float(numbers[key]) <= 1, key
    assert (work / "scores" / "mouth_and_speech.png").is_file()
    assert "trained from scratch" in out and "batch_size=4, initial_learning_rate=0.001" in out
    assert "for 20 steps or 30 min" in out and "stopped at step 20: step limit" in out
    picture = cv2.imread(str(work / "heldout" / "side_by_side.png"))
    assert picture is not None and picture.shape[0] > 4 * 100 and picture.shape[1] > 3 * 100  # 4 rows x 3 columns

    assert len(os.listdir(work / "fps25")) == 12
    assert len([d for d in os.listdir(work / "preprocessed") if d.startswith("100")]) == 12
    for split in ("train", "val", "test"):
        assert (work / "filelists" / f"{split}.txt").exists()
    assert (work / "checkpoints/expert/checkpoint_step000000001.pth").exists()
    assert (work / "checkpoints/emotion/disc_emo_0.pth").exists()
    # checkpoint_at_step_one=False: only the last step's checkpoint, not the original's extra one after step 1.
    saved = sorted(p.name for p in (work / "checkpoints/generator").glob("*checkpoint_step*.pth"))
    assert saved == ["checkpoint_step000000020.pth", "disc_emo_checkpoint_step000000020.pth"]
    for emotion in EMOTIONS:
        video = work / "results" / f"demo_{emotion}.mp4"
        info = probe(str(video))
        kinds = {s["codec_type"] for s in info["streams"]}
        assert kinds == {"video", "audio"}
        cap = cv2.VideoCapture(str(video))
        frames = 0
        while cap.read()[0]:
            frames += 1
        assert frames == 17  # 0.8 s of speech -> 17 mel windows


def test_web_page_serves_the_demos_generator_with_a_note(tmp_path, monkeypatch):
    import emogen.apps.stages as quickstart

    monkeypatch.setattr(quickstart, "RELEASED_GENERATOR", str(tmp_path / "none" / "emogen_generator.pth"))
    monkeypatch.setattr(quickstart, "DEFAULT_WORK_DIR", str(tmp_path / "demo_run"))
    monkeypatch.setattr(quickstart, "DATASET_WORK_DIR", str(tmp_path / "demo_crema_d"))
    monkeypatch.setattr(quickstart, "wav2lip_generator", lambda: None)
    assert quickstart.choose_generator(None) == (str(tmp_path / "none" / "emogen_generator.pth"), "")
    # With Wav2Lip's generator in checkpoints/ and nothing else, the page serves it (it says so itself).
    monkeypatch.setattr(quickstart, "wav2lip_generator", lambda: str(tmp_path / "wav2lip_gan.pth"))
    assert quickstart.choose_generator(None) == (str(tmp_path / "wav2lip_gan.pth"), "")
    trained = tmp_path / "demo_run" / "checkpoints" / "generator" / "checkpoint_step000000042.pth"
    trained.parent.mkdir(parents=True)
    trained.write_bytes(b"x")
    path, notice = quickstart.choose_generator(None)
    assert path == str(trained) and "example face only" in notice and "checkpoints/README.md" in notice
    assert quickstart.choose_generator("/my/gen.pth") == ("/my/gen.pth", "")
    # demo.py --dataset trained one later: the newer is served, saying what it learned.
    on_crema = tmp_path / "demo_crema_d" / "checkpoints" / "generator" / "checkpoint_step000000007.pth"
    on_crema.parent.mkdir(parents=True)
    on_crema.write_bytes(b"x")
    os.utime(trained, (1, 1))
    path, notice = quickstart.choose_generator(None)
    assert path == str(on_crema) and "one CREMA-D actor" in notice and "six emotions" in notice
    os.utime(trained, None)
    os.utime(on_crema, (1, 1))
    assert quickstart.choose_generator(None)[0] == str(trained)


def test_a_face_video_too_short_to_hold_out_is_one_line(shared, tmp_path, capsys):
    import subprocess

    short = tmp_path / "short.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(shared / "data/video/face3.mp4"), "-t", "2", str(short)],
        check=True,
    )
    assert run_cli(demo.main, ["--work_dir", str(tmp_path / "run"), "--face", str(short)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lasts 2.0 s; the demo needs at least 3.3 s" in err[0]


def test_an_interrupted_cut_leaves_no_clip_under_its_final_name(shared, tmp_path, monkeypatch):
    """Ctrl-C (or SIGKILL) while ffmpeg cuts a training clip: no 0-byte clip is left for a rerun to keep, and
    the rerun cuts it again."""
    import emogen.apps.quickstart as quickstart

    real = quickstart.run_ffmpeg
    calls = []

    def interrupted(args, what):
        calls.append(what)
        if len(calls) == 3:
            with open(args[-1].removeprefix("file:"), "wb"):  # ffmpeg had begun writing its output
                pass
            raise KeyboardInterrupt
        real(args, what)

    monkeypatch.setattr(quickstart, "run_ffmpeg", interrupted)
    face, raw = str(shared / "data/video/face3.mp4"), tmp_path / "raw"
    with pytest.raises(KeyboardInterrupt):
        quickstart.make_raw_clips(face, str(raw), 3.0)
    names = sorted(os.listdir(raw))
    assert len(names) == 2 and all(not n.startswith(".") and os.path.getsize(raw / n) > 0 for n in names)
    monkeypatch.setattr(quickstart, "run_ffmpeg", real)
    quickstart.make_raw_clips(face, str(raw), 3.0)
    assert len([n for n in os.listdir(raw) if not n.startswith(".")]) == 12
