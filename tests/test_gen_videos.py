import subprocess

import torch

from emogen.errors import run_cli
from emogen.media import probe
from evaluation import gen_videos_from_filelist
from shared_data import seeded_state_dict


def test_generates_each_emotion_once_and_resumes(shared, tmp_path, capsys):
    root = tmp_path / "videos"
    root.mkdir()
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(shared / "data/video/face3.mp4"), "-t", "1",
                    str(root / "1001_DFA_ANG_XX.mp4")], check=True)
    (tmp_path / "test.txt").write_text("1001_DFA_ANG_XX\n")
    ckpt = tmp_path / "gen.pth"
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, ckpt)
    argv = ["--filelist", str(tmp_path / "test.txt"), "--video_root", str(root), "--checkpoint_path", str(ckpt),
            "--out_dir", str(tmp_path / "out"), "--emotions", "HAP", "SAD", "--face_detector", "opencv",
            "--detection_cache_dir", str(tmp_path / "cache"), "--no_progress"]
    assert run_cli(gen_videos_from_filelist.main, argv) == 0
    assert "generated 2, skipped 0" in capsys.readouterr().out
    for emotion in ("HAP", "SAD"):
        info = probe(str(tmp_path / "out" / f"1001_DFA_ANG_XX_{emotion}.mp4"))
        assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
    assert len(list((tmp_path / "cache").iterdir())) == 1  # one detection pass for both emotions
    assert run_cli(gen_videos_from_filelist.main, argv) == 0
    assert "generated 0, skipped 2" in capsys.readouterr().out
