import subprocess

import torch
from shared_data import seeded_state_dict

from emogen.common.errors import run_cli
from emogen.common.media import probe
from evaluation import gen_videos_from_filelist


def test_generates_each_emotion_once_and_resumes(shared, tmp_path, capsys):
    root = tmp_path / "videos"
    root.mkdir()
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(shared / "data/video/face3.mp4"),
            "-t",
            "1",
            str(root / "1001_DFA_ANG_XX.mp4"),
        ],
        check=True,
    )
    (tmp_path / "test.txt").write_text("1001_DFA_ANG_XX\n")
    ckpt = tmp_path / "emogen.pth"  # the same bytes as other tests' seeded generator: converted models are shared
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, ckpt)
    argv = [
        "--filelist",
        str(tmp_path / "test.txt"),
        "--video_root",
        str(root),
        "--checkpoint_path",
        str(ckpt),
        "--out_dir",
        str(tmp_path / "out"),
        "--emotions",
        "HAP",
        "SAD",
        "--face_detector",
        "opencv",
        "--detection_cache_dir",
        str(tmp_path / "cache"),
        "--no_progress",
    ]
    assert run_cli(gen_videos_from_filelist.main, argv) == 0
    assert "generated 2, skipped 0" in capsys.readouterr().out
    for emotion in ("HAP", "SAD"):
        info = probe(str(tmp_path / "out" / f"1001_DFA_ANG_XX_{emotion}.mp4"))
        assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
    assert len(list((tmp_path / "cache").iterdir())) == 1  # one detection pass for both emotions
    assert run_cli(gen_videos_from_filelist.main, argv) == 0
    assert "generated 0, skipped 2" in capsys.readouterr().out
    # The README recipe goes on: img_eval pairs <clip>_<EMOTION>.mp4 with the real <clip>.mp4.
    from evaluation import img_eval

    assert (
        run_cli(
            img_eval.main,
            ["--real_dir", str(root), "--generated_dir", str(tmp_path / "out"), "--max_frames", "3", "--no_progress"],
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "1001_DFA_ANG_XX_HAP.mp4" in out and "1001_DFA_ANG_XX_SAD.mp4" in out
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("1001_DFA_ANG_XX_")]
    assert len(rows) == 2 and all(r[1] == "3" and 5 < float(r[2]) < 60 for r in rows)
