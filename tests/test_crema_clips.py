"""demo.py --dataset checks every clip before any work (emogen.apps.crema_clips): what is not a clip is named in
one line; paths given relative to another folder work from anywhere."""

import os
import shutil

import pytest
from shared_data import ffmpeg

import demo
from emogen.apps.crema_clips import check_dataset
from emogen.apps.emotion_demo import DatasetDemoConfig
from emogen.apps.quickstart import DemoConfig
from emogen.common.contract import EMOTIONS
from emogen.common.errors import UserError, run_cli


@pytest.fixture
def clips(shared, tmp_path):
    folder = tmp_path / "ds"
    shutil.copytree(shared / "data/crema-d", folder)
    return folder


def test_the_real_clips_pass_and_the_actor_is_chosen(clips):
    checked = check_dataset(str(clips))
    assert sorted(checked.paths) == [f"1001_DFA_{e}_XX" for e in EMOTIONS] and checked.actor == "1001"
    assert checked.chosen["NEU"] == "1001_DFA_NEU_XX"


def _audio_only(src, dst):
    ffmpeg("-i", str(src), "-vn", "-c:a", "copy", str(dst))


def _video_only(src, dst):
    ffmpeg("-i", str(src), "-an", "-c:v", "copy", str(dst))


@pytest.mark.parametrize(
    "spoil, expected",
    [
        (lambda f: open(f / "1001_DFA_NEU_XX.flv", "w").close(), "1001_DFA_NEU_XX.flv is empty"),
        (lambda f: (os.remove(f / "1001_DFA_NEU_XX.flv"), os.symlink("/etc/passwd", f / "1001_DFA_NEU_XX.flv")),
         "1001_DFA_NEU_XX.flv is not a video ffmpeg can read"),
        (lambda f: (os.rename(f / "1001_DFA_NEU_XX.flv", f / "x.flv"), _audio_only(f / "x.flv", f / "1001_DFA_NEU_XX.flv"), os.remove(f / "x.flv")),
         "1001_DFA_NEU_XX.flv has no video stream"),
        (lambda f: (os.rename(f / "1001_DFA_NEU_XX.flv", f / "x.flv"), _video_only(f / "x.flv", f / "1001_DFA_NEU_XX.flv"), os.remove(f / "x.flv")),
         "1001_DFA_NEU_XX.flv has no audio stream"),
        (lambda f: open(f / "1001_DFA_NEU_XX.txt", "w").write("notes"), "1001_DFA_NEU_XX.txt: a clip name on a .txt file"),
        (lambda f: shutil.copy(f / "1001_DFA_NEU_XX.flv", f / "1001_DFA_NEU_XX.mp4"), "two files for the clip 1001_DFA_NEU_XX"),
    ],
    ids=["empty", "symlink-to-a-text-file", "audio-only", "video-only", "text-file", "flv-beside-mp4"],
)  # fmt: skip
def test_what_is_not_a_clip_is_named_before_any_work(clips, tmp_path, capsys, spoil, expected):
    spoil(clips)
    with pytest.raises(UserError) as refused:
        check_dataset(str(clips))
    assert expected in str(refused.value) and str(refused.value).startswith("dataset ")
    work = tmp_path / "work"
    assert run_cli(demo.main, ["--dataset", str(clips), "--work_dir", str(work)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --dataset") and expected in err[0]
    assert not work.exists()  # refused before the work folder was made


def test_relative_paths_are_made_absolute_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert DatasetDemoConfig("ds", work_dir="w").dataset == str(tmp_path / "ds")
    cfg = DemoConfig(work_dir="w", face="f.mp4", speech="s.wav")
    assert (cfg.work_dir, cfg.face, cfg.speech) == tuple(str(tmp_path / n) for n in ("w", "f.mp4", "s.wav"))
