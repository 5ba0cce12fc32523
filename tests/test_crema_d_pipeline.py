"""The six genuine CREMA-D clips (VideoFlash FLV, VP6 at 29.97 fps, MP3 at 44.1 kHz) through the documented
commands: convertFPS.py, preprocess_crema-d.py, color_syncnet_train.py, emotion_disc_train.py and train.py."""

import json
import subprocess

import numpy as np
import pytest
import torch
from shared_data import load_script

import color_syncnet_train
import convertFPS
import emotion_disc_train
import train
from emogen.common.checkpoint_io import read_checkpoint, state_dict_from_checkpoint
from emogen.common.contract import EMOTIONS
from emogen.common.errors import run_cli
from emogen.data.datasets import EmotionDataset
from emogen.data.filelists import read_filelist

preprocess = load_script("preprocess_crema-d.py")
CLIPS = [f"1001_DFA_{e}_XX" for e in EMOTIONS]


def finite(path) -> bool:
    weights = state_dict_from_checkpoint(read_checkpoint(str(path)))
    return all(bool(torch.isfinite(v).all()) for v in weights.values() if v.is_floating_point())


@pytest.mark.slow
def test_the_real_clips_through_every_stage(shared, tmp_path, capsys):
    fps25, pre, lists = tmp_path / "fps25", tmp_path / "pre", tmp_path / "filelists"
    assert run_cli(convertFPS.main, ["-i", str(shared / "data/crema-d"), "-o", str(fps25), "--no_progress"]) == 0
    for name in CLIPS:
        info = subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(fps25 / f"{name}.mp4")],
            capture_output=True,
            text=True,
            check=True,
        )
        streams = {s["codec_type"]: s for s in json.loads(info.stdout)["streams"]}
        assert streams["video"]["r_frame_rate"] == "25/1" and "audio" in streams  # the speech kept for its mel

    argv = ["--data_root", str(fps25), "--preprocessed_root", str(pre), "--filelist_dir", str(lists)]
    argv += ["--face_detector", "dlib", "--no_progress"]
    assert run_cli(preprocess.main, argv) == 0
    out = capsys.readouterr().out
    # One speaker: the default speaker-independent split cannot hold one out, and says so.
    assert "train 6, val 0, test 0" in out and "--split random holds out clips instead" in out
    summary = (pre / "preprocess_summary.tsv").read_text().splitlines()[1:]
    rows = {r.split("\t")[0]: r.split("\t") for r in summary}
    assert sorted(rows) == CLIPS
    for row in rows.values():
        frames, faces = int(row[2]), int(row[3])
        assert row[1] == "done" and 45 <= frames <= 60 and faces == frames, row
    assert run_cli(preprocess.main, [*argv, "--split", "random"]) == 0
    assert "train 5, val 1, test 0" in capsys.readouterr().out
    assert sorted(read_filelist(str(lists / "train.txt")) + read_filelist(str(lists / "val.txt"))) == CLIPS

    # Each clip's label is the emotion in its name, in the contract's order.
    data = EmotionDataset(str(pre), CLIPS, augment=False, seed=0)
    for clip in data.clips:
        video, label = data.build(clip)
        assert video.shape == (3, 5, 96, 96) and EMOTIONS[int(np.argmax(label))] in clip.name

    common = ["--filelist_dir", str(lists), "--num_workers", "0", "--no_progress"]
    expert = tmp_path / "expert"
    argv = ["--data_root", str(pre), "--checkpoint_dir", str(expert), "--max_steps", "2", *common]
    argv += ["--hparams", "syncnet_batch_size=2", "--eval_batches", "1"]
    assert run_cli(color_syncnet_train.main, argv) == 0
    assert finite(expert / "checkpoint_step000000002.pth")

    emotion = tmp_path / "emotion"
    argv = ["-i", str(pre), "-o", str(emotion), "--batch-size", "2", "--max_steps", "2", *common]
    assert run_cli(emotion_disc_train.main, argv) == 0
    assert finite(emotion / "disc_emo_1.pth")

    generator = tmp_path / "generator"
    argv = ["--data_root", str(pre), "--checkpoint_dir", str(generator), "--max_steps", "2", "--random_vgg"]
    argv += ["--syncnet_checkpoint_path", str(expert / "checkpoint_step000000002.pth")]
    argv += ["--emotion_disc_path", str(emotion / "disc_emo_1.pth"), "--hparams", "batch_size=2"]
    argv += ["--eval_batches", "1", *common]
    capsys.readouterr()
    assert run_cli(train.main, argv) == 0
    assert "training the EmoGen generator" in capsys.readouterr().out
    losses = json.loads((generator / "train_summary.json").read_text())["last_losses"]
    # The paper's terms: L1 and the emotion discriminator's loss (emo_wt 0.01) are computed and finite.
    assert {"l1", "emotion"} <= set(losses) and all(np.isfinite(losses[k]) and losses[k] > 0 for k in ("l1", "emotion"))
    assert finite(generator / "checkpoint_step000000002.pth")
    assert finite(generator / "disc_emo_checkpoint_step000000002.pth")
