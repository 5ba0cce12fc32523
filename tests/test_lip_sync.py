"""Lip sync judged by dlib's landmark model (evaluation.metrics.lip_sync, evaluation/lip_sync.py) on real clips: a
face with its own speech scores well, with unrelated speech about 0; a video that copies another's mouth scores
high on copy; the script scores a folder and writes its summary."""

import json
import math

import numpy as np
import pytest
from shared_data import ffmpeg

from emogen.common.errors import run_cli
from evaluation import lip_sync as script
from evaluation.metrics.lip_sync import (
    LipSyncScore,
    correlation,
    score_results,
    score_video,
    speech_loudness,
    track_video,
)
from face_detection.landmarks import LandmarkModel


@pytest.fixture(scope="module")
def model():
    return LandmarkModel()


def test_correlation_takes_the_best_lag_and_needs_enough_frames():
    t = np.arange(60, dtype=float)
    wave = np.sin(t / 3)
    assert correlation(wave, wave) == pytest.approx(1.0)
    shifted = np.r_[wave[2:], [np.nan, np.nan]]  # the mouth two frames ahead of the speech
    assert correlation(shifted, wave) < 0.9 < correlation(shifted, wave, max_lag=2)
    assert math.isnan(correlation(wave[:5], wave[:5]))  # too few frames
    assert math.isnan(correlation(np.ones(30), wave[:30]))  # a constant side


def test_loudness_is_log_rms_per_frame_and_silence_has_a_floor():
    wav = np.r_[np.zeros(640), 0.5 * np.ones(640)].astype(np.float32)
    loud = speech_loudness(wav, 25.0, 3)
    assert loud[0] == pytest.approx(math.log(1e-4)) and loud[1] == pytest.approx(math.log(0.5))
    assert loud[2] == pytest.approx(math.log(1e-4))  # past the end of the speech


def test_a_real_face_follows_its_own_speech_not_unrelated_speech(shared, model):
    """The CREMA-D HAP clip and examples' face3: own speech well above unrelated speech, which is about 0."""
    for clip in ("crema-d/1001_DFA_HAP_XX.flv", "video/face3.mp4"):
        video = str(shared / "data" / clip)
        own = score_video(model, video)
        other = score_video(model, video, speech=str(shared / "data/audio/speech_en_16k.wav"))
        assert own.faces == own.frames > 50
        # Measured: HAP 0.55 with its own speech, -0.14 with the English speech; face3 0.29 and -0.08.
        assert own.dubbing_sync > 0.25, (clip, own)
        assert abs(other.dubbing_sync) < 0.2, (clip, other)
        assert own.dubbing_sync > other.dubbing_sync + 0.3


def test_a_video_that_copies_the_source_mouth_scores_high_on_copy(shared, model, tmp_path):
    """face3's picture with other speech dubbed in: its mouth is the source's (copy 1) and does not follow the new
    speech; another person's video drawn 'on' face3 does not copy it."""
    source = track_video(model, str(shared / "data/video/face3.mp4"))
    dubbed = tmp_path / "dubbed.mp4"
    ffmpeg("-i", source.path, "-i", str(shared / "data/audio/speech_en_16k.wav"), "-map", "0:v", "-map", "1:a",
           "-c:v", "copy", "-shortest", str(dubbed))  # fmt: skip
    copied = score_video(model, str(dubbed), source)
    assert copied.copy > 0.95 and abs(copied.dubbing_sync) < 0.2
    other = score_video(model, str(shared / "data/video/face5.mp4"), source)
    assert abs(other.copy) < 0.3


def test_landmark_distance_is_zero_against_itself_and_grows_for_another_face(shared, model):
    video = str(shared / "data/video/face3.mp4")
    same = score_video(model, video, real=track_video(model, video))
    assert same.lmd == pytest.approx(0.0) and same.mouth_lmd == pytest.approx(0.0)
    other = score_video(model, str(shared / "data/video/face5.mp4"), real=track_video(model, video))
    assert other.lmd > 0.05 and other.mouth_lmd > 0.05


def test_identity_is_one_for_the_same_video_and_lower_for_another_person(shared):
    video = str(shared / "data/video/face3.mp4")
    report = score_results([video, str(shared / "data/video/face5.mp4")], {}, identity=True)
    assert all(math.isnan(s.identity) for s in report.scores)  # no source: nothing to compare with
    sources = {v: video for v in (video, str(shared / "data/video/face5.mp4"))}
    report = score_results(list(sources), sources, identity=True)
    same, other = report.scores
    assert same.identity == pytest.approx(1.0, abs=1e-6) and other.identity < same.identity - 0.05
    assert isinstance(same, LipSyncScore) and report.baselines[video] == pytest.approx(same.dubbing_sync)


def test_script_scores_a_folder_against_its_source_and_writes_the_summary(shared, tmp_path, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    ffmpeg("-i", str(shared / "data/video/face3.mp4"), "-t", "3", str(folder / "out_HAP.mp4"))
    summary, plot = tmp_path / "summary.json", tmp_path / "plot.png"
    argv = ["--videos_dir", str(folder), "--source", str(shared / "data/video/face3.mp4")]
    argv += ["--summary_json", str(summary), "--plot", str(plot), "--no_progress"]
    assert run_cli(script.main, argv) == 0
    out = capsys.readouterr().out
    assert "out_HAP.mp4" in out and "real baseline: face3.mp4 with its own speech" in out
    data = json.loads(summary.read_text())
    assert data["mean"]["copy"] > 0.95 and data["real_baseline"] == pytest.approx(0.289, abs=0.05)
    assert data["videos"][0]["frames"] == 75
    import cv2

    picture = cv2.imread(str(plot))
    assert picture is not None and picture.shape[0] > 2 * 140  # two panels: the real face and the output


def test_a_still_mouth_prints_an_undefined_sync_instead_of_a_number(shared, tmp_path, capsys):
    """A still photo looped over speech: the mouth opening never changes, so its correlation with the speech is
    undefined; the table shows '-' and says why, and the summary holds null."""
    folder = tmp_path / "results"
    folder.mkdir()
    still = folder / "still_NEU.mp4"
    ffmpeg(
        "-loop", "1", "-i", str(shared / "data/image/face3.jpg"), "-i", str(shared / "data/video/face3.mp4"),
        "-map", "0:v", "-map", "1:a", "-t", "2", "-r", "25", "-c:v", "libx264", "-qp", "0", str(still),
    )  # fmt: skip
    summary = tmp_path / "summary.json"
    assert run_cli(script.main, ["--videos_dir", str(folder), "--summary_json", str(summary), "--no_progress"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("still_NEU.mp4"))
    assert row.split()[2] == "-" and "-: undefined" in out
    assert json.loads(summary.read_text())["mean"]["dubbing_sync"] is None
