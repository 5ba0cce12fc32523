import os

import cv2

import demo
from emogen.common.contract import EMOTIONS
from emogen.common.errors import run_cli
from emogen.common.media import probe


def test_demo_end_to_end(shared, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EMOGEN_SYNCNET_PATH", str(tmp_path / "no_syncnet.model"))
    work = tmp_path / "run"
    assert run_cli(demo.main, ["--work_dir", str(work), "--steps", "1", "--audio_seconds", "0.8"]) == 0
    out = capsys.readouterr().out
    # The commands shown are the real scripts.
    for script in ("convertFPS.py", "preprocess_crema-d.py", "color_syncnet_train.py", "emotion_disc_train.py",
                   "train.py", "inference.py", "evaluation/img_eval.py", "evaluation/emotion_accuracy.py"):
        assert f"$ python3 {script}" in out
    assert "LSE skipped" in out and "say nothing about the paper's quality" in out
    assert "EmoAcc" in out and "PSNR" in out

    assert len(os.listdir(work / "fps25")) == 12
    assert len([d for d in os.listdir(work / "preprocessed") if d.startswith("100")]) == 12
    for split in ("train", "val", "test"):
        assert (work / "filelists" / f"{split}.txt").exists()
    assert (work / "checkpoints/expert/checkpoint_step000000001.pth").exists()
    assert (work / "checkpoints/emotion/disc_emo_0.pth").exists()
    assert (work / "checkpoints/generator/checkpoint_step000000001.pth").exists()
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
