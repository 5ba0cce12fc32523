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
