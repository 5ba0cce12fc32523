import subprocess

import numpy as np
import torch
from shared_data import seeded_state_dict

from emogen.common.errors import run_cli
from evaluation import emotion_accuracy
from evaluation.metrics.emotion_accuracy import EmotionReport, classify, face_windows
from evaluation.metrics.video_lists import intended_emotion
from models.emo_disc import DISCEMO


def test_intended_emotion_from_names():
    assert intended_emotion("out/1001_DFA_ANG_XX_HAP.mp4") == 3
    assert intended_emotion("clip_sad.mp4") == 5
    assert intended_emotion("face2.mp4") is None


def test_report_counts():
    report = EmotionReport()
    report.add(3, np.eye(6)[[3, 3, 0]])
    report.add(5, np.eye(6)[[5, 5, 1]])
    report.add(4, np.eye(6)[[0, 0, 4]])
    assert report.accuracy == 5 / 9 and report.videos_correct == 2 and report.clip_accuracy == 2 / 3
    assert report.per_emotion(clips=False)["HAP"] == 2 / 3 and np.isnan(report.per_emotion()["ANG"])
    assert report.per_emotion()["HAP"] == 1.0 and report.per_emotion()["NEU"] == 0.0
    assert report.confusion[3, 0] == 1 and report.clip_confusion[4, 0] == 1
    table = report.table()
    assert table.startswith("EmoAcc (clips, mean logits of each clip's windows): 0.6667 (2/3)")
    assert "window-level: 0.5556 (5/9 windows)" in table


def test_emotion_accuracy_with_seeded_discriminator(shared, tmp_path, capsys):
    videos = tmp_path / "gen"
    videos.mkdir()
    for name, src in (("a_HAP", "face3"), ("b_SAD", "face6")):
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(shared / f"data/video/{src}.mp4"),
                "-t",
                "1",
                str(videos / f"{name}.mp4"),
            ],
            check=True,
        )
    disc_path = tmp_path / "disc.pth"
    torch.save(seeded_state_dict("emotion_disc"), disc_path)
    model = DISCEMO()
    model.load_state_dict(seeded_state_dict("emotion_disc"))
    model.eval()
    expected = EmotionReport()
    from face_detection.detection.opencv import HaarDetector

    for name, label in (("a_HAP", 3), ("b_SAD", 5)):
        windows = face_windows(str(videos / f"{name}.mp4"), HaarDetector())
        assert windows.shape == (5, 3, 5, 96, 96)
        expected.add(label, classify(model, windows))
    code = run_cli(
        emotion_accuracy.main,
        [
            "--videos_dir",
            str(videos),
            "--emotion_disc_path",
            str(disc_path),
            "--face_detector",
            "opencv",
            "--no_progress",
        ],
    )
    assert code == 0
    out = capsys.readouterr().out
    assert f"EmoAcc (clips, mean logits of each clip's windows): {expected.clip_accuracy:.4f}" in out
    assert f"window-level: {expected.accuracy:.4f}" in out
    assert expected.confusion.sum() == 10
