"""ffmpeg helpers: encoder choice and the fragmented output the web page streams."""

import numpy as np
import pytest

import emogen.common.media as media
from emogen.common.errors import UserError


def test_encoder_choice(monkeypatch):
    monkeypatch.setattr(media, "available_encoders", lambda ffmpeg: frozenset({"libx264", "h264_nvenc"}))
    assert media.choose_encoder("auto", "cuda") == "h264_nvenc"
    assert media.choose_encoder("auto", "cpu") == "libx264"
    assert media.choose_encoder("libx264", "cuda") == "libx264"
    monkeypatch.setattr(media, "available_encoders", lambda ffmpeg: frozenset({"libx264"}))
    assert media.choose_encoder("auto", "cuda") == "libx264"
    with pytest.raises(UserError, match="has no h264_nvenc encoder"):
        media.choose_encoder("h264_nvenc", "cuda")
    assert media.encoder_args("h264_nvenc")[:2] == ["-c:v", "h264_nvenc"]


def test_this_ffmpeg_lists_libx264():
    assert "libx264" in media.available_encoders(media.require_tool("ffmpeg"))


def test_fragmented_output_has_a_keyframe_fragment_per_second(tmp_path):
    path = tmp_path / "live.mp4"
    writer = media.VideoWriter(str(path), 64, 48, 25.0, fragmented=True)
    rng = np.random.default_rng(0)
    for _ in range(60):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.close()
    data = path.read_bytes()
    assert data[4:8] == b"ftyp" and data.count(b"moof") == 3  # frames 0-24, 25-49, 50-59
    assert sum(1 for _ in media.iter_frames(str(path))) == 60


def test_writer_keeps_real_frames_and_views(tmp_path, shared):
    frames = list(media.iter_frames(str(shared / "data/video/face3.mp4"), limit=12))
    # Mirrored views are not contiguous: the writer must send their pixels, not their memory.
    given = [f if i % 2 else f[:, ::-1] for i, f in enumerate(frames)]
    path = tmp_path / "out.mp4"
    h, w = frames[0].shape[:2]
    writer = media.VideoWriter(str(path), w, h, 25.0)
    for f in given:
        writer.write(f)
    writer.close()
    assert "-preset" in media.encoder_args("libx264") and media.X264_PRESET in media.encoder_args("libx264")
    back = list(media.iter_frames(str(path)))
    assert len(back) == len(given)
    for a, b in zip(given, back):
        mse = np.mean((a.astype(np.float64) - b) ** 2)
        assert 10 * np.log10(255**2 / mse) > 38  # CRF 18: close to the frames given, mirrored ones included
