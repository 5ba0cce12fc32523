import shutil
import subprocess

import pytest

import convertFPS
from emogen.common.errors import run_cli
from emogen.common.media import probe
from emogen.data.fps_conversion import find_videos


def stream(info, kind):
    return [s for s in info["streams"] if s["codec_type"] == kind]


@pytest.fixture()
def raw(shared, tmp_path):
    src = tmp_path / "raw"
    (src / "actor one").mkdir(parents=True)
    shutil.copy(shared / "data/video/face1_30fps.mp4", src / "actor one" / "1001_DFA_ANG_XX.FLV")
    shutil.copy(shared / "data/video/face4_30fps.mp4", src / "it's $(touch PWNED) clip.MOV")
    (src / "broken.mp4").write_bytes(b"not a video at all")
    (src / "notes.txt").write_text("ignored")
    return src


def test_converts_to_25fps_keeping_audio_and_resumes(raw, tmp_path, capsys):
    out = tmp_path / "out"
    assert find_videos(str(raw)) == ["actor one/1001_DFA_ANG_XX.FLV", "broken.mp4", "it's $(touch PWNED) clip.MOV"]
    code = run_cli(convertFPS.main, ["-i", str(raw), "-o", str(out), "--no_progress", "--workers", "2"])
    text = capsys.readouterr().out
    assert code == 1  # the broken file failed
    assert "converted 2, skipped 0 (already done), failed 1" in text
    assert "broken.mp4" in text and "Invalid data" in text
    converted = out / "actor one" / "1001_DFA_ANG_XX.mp4"
    info = probe(str(converted))
    src_info = probe(str(raw / "actor one" / "1001_DFA_ANG_XX.FLV"))
    v = stream(info, "video")[0]
    assert v["r_frame_rate"] == "25/1"
    duration = float(info["format"]["duration"])
    assert abs(duration - float(src_info["format"]["duration"])) < 0.1
    assert abs(int(v["nb_frames"]) - round(duration * 25)) <= 1
    assert len(stream(info, "audio")) == 1
    assert (out / "it's $(touch PWNED) clip.mp4").exists()
    assert not any(p.name == "PWNED" for p in [*raw.iterdir(), *tmp_path.iterdir(), *out.iterdir()])
    assert not any(p.name.startswith(".") for p in out.rglob("*"))  # no temporary files left

    mtime = converted.stat().st_mtime_ns
    run_cli(convertFPS.main, ["-i", str(raw), "-o", str(out), "--no_progress"])
    assert "converted 0, skipped 2" in capsys.readouterr().out
    assert converted.stat().st_mtime_ns == mtime
    run_cli(convertFPS.main, ["-i", str(raw), "-o", str(out), "--no_progress", "--overwrite"])
    assert "converted 2, skipped 0" in capsys.readouterr().out


def test_honours_fps_flag_and_truncated_output_is_redone(shared, tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(shared / "data/video/face3.mp4", raw / "a.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.mp4").write_bytes(b"truncated")
    assert run_cli(convertFPS.main, ["-i", str(raw), "-o", str(out), "-fps", "10", "--no_progress"]) == 0
    assert "converted 1" in capsys.readouterr().out
    assert stream(probe(str(out / "a.mp4")), "video")[0]["r_frame_rate"] == "10/1"


def test_bad_input_folder(tmp_path, capsys):
    assert run_cli(convertFPS.main, ["-i", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]) == 2
    assert "input folder not found" in capsys.readouterr().err


def test_output_inside_input_truncated_source_and_file_modes(shared, tmp_path, capsys):
    import os
    import subprocess

    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(shared / "data/video/face5.mp4", raw / "a.mp4")
    # A source whose container promises 5 s but whose second half is cut off (partly decodable).
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(shared / "data/video/face3.mp4"),
            "-movflags",
            "+faststart",
            str(tmp_path / "full.mp4"),
        ],
        check=True,
    )
    data = (tmp_path / "full.mp4").read_bytes()
    (raw / "cut.mp4").write_bytes(data[: len(data) // 2])
    out = raw / "out25"  # the output folder inside the input folder
    old = os.umask(0o022)
    try:
        assert run_cli(convertFPS.main, ["-i", str(raw), "-o", str(out), "--no_progress"]) == 0
    finally:
        os.umask(old)
    text = capsys.readouterr().out
    assert "converted 2, skipped 0" in text
    assert "short: cut.mp4: only" in text and "of 5.0" in text
    assert (out / "a.mp4").stat().st_mode & 0o777 == 0o644  # written through a temporary name, umask respected
    # The second run neither converts its own outputs (no out25/out25) nor redoes the short one.
    assert run_cli(convertFPS.main, ["-i", str(raw), "-o", str(out), "--no_progress"]) == 0
    assert "converted 0, skipped 2" in capsys.readouterr().out
    assert not (out / "out25").exists()


def test_another_rate_in_place_name_clashes_and_broken_links(shared, tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(shared / "data/video/face1_30fps.mp4", raw / "a.mp4")
    out = tmp_path / "out"
    assert run_cli(convertFPS.main, ["-i", str(raw), "-o", str(out), "-fps", "25", "--no_progress"]) == 0
    assert "converted 1" in capsys.readouterr().out
    # (a) another -fps is not "already done"
    assert run_cli(convertFPS.main, ["-i", str(raw), "-o", str(out), "-fps", "10", "--no_progress"]) == 0
    assert "converted 1, skipped 0" in capsys.readouterr().out
    assert stream(probe(str(out / "a.mp4")), "video")[0]["r_frame_rate"] == "10/1"
    # (b) the input folder as the output: refused in one line, the source untouched
    before = (raw / "a.mp4").read_bytes()
    assert run_cli(convertFPS.main, ["-i", str(raw), "-o", str(raw), "--no_progress"]) == 2
    assert "converting in place would replace the sources" in capsys.readouterr().err
    assert (raw / "a.mp4").read_bytes() == before
    # (c) three sources, one output name: none converted, each named; (d) a dangling link is reported, not fatal
    clash = tmp_path / "clash"
    clash.mkdir()
    for name in ("clip.mp4", "clip.mov", "clip.MP4"):
        shutil.copy(shared / "data/video/face1_30fps.mp4", clash / name)
    shutil.copy(shared / "data/video/face4_30fps.mp4", clash / "other.mp4")
    (clash / "gone.mp4").symlink_to(tmp_path / "missing.mp4")
    out2 = tmp_path / "out2"
    assert run_cli(convertFPS.main, ["-i", str(clash), "-o", str(out2), "--no_progress"]) == 1
    text = capsys.readouterr().out
    assert "converted 1, skipped 0 (already done), failed 4" in text
    for name in ("clip.mp4", "clip.mov", "clip.MP4"):
        assert f"failed: {name}: same output name as" in text
    assert "failed: gone.mp4: cannot be read" in text
    assert sorted(p.name for p in out2.iterdir()) == ["other.mp4"]


def test_an_audio_only_clip_fails_and_is_not_converted_again_as_a_video_less_mp4(shared, tmp_path, capsys):
    """An audio-only .flv (CREMA-D's AudioMP3 folder copied by mistake) is a failure, not a video-less output."""
    raw = tmp_path / "raw"
    raw.mkdir()
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(shared / "data/crema-d/1001_DFA_NEU_XX.flv"), "-vn",
         "-c:a", "copy", str(raw / "1001_DFA_NEU_XX.flv")],
        check=True,
    )  # fmt: skip
    for _ in range(2):
        assert run_cli(convertFPS.main, ["-i", str(raw), "-o", str(tmp_path / "out"), "--no_progress"]) == 1
        out = capsys.readouterr().out
        assert "failed 1" in out and "has no video stream" in out
        assert not (tmp_path / "out" / "1001_DFA_NEU_XX.mp4").exists()
