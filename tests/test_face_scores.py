"""The demo's held-out scores (emogen.apps.face_scores) on real footage: the face-box PSNR/SSIM and the
mouth-motion measure, which must tell a clip's own soundtrack from another one."""

import subprocess

import cv2
import numpy as np
import pytest

from emogen.apps.face_scores import face_box_score, mouth_motion, mouth_speech_correlation, side_by_side
from emogen.apps.quickstart import heldout_boxes
from emogen.common.media import video_fps


def soundtrack(video, out):
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(video), "-vn", "-ac", "1", "-ar", "16000", str(out)],
        check=True,
    )
    return str(out)


@pytest.fixture(scope="module")
def face3(shared, tmp_path_factory):
    """face3.mp4, its dlib boxes as inference finds them, its own soundtrack and two other clips'."""
    d = tmp_path_factory.mktemp("scores")
    video = shared / "data/video/face3.mp4"
    coords = heldout_boxes(str(video), "dlib", str(d / "cache"))
    tracks = {
        name: soundtrack(shared / f"data/video/{name}.mp4", d / f"{name}.wav")
        for name in ("face3", "face4_30fps", "face6")
    }
    return str(video), coords, tracks


def test_mouth_measure_prefers_the_clips_own_soundtrack(face3):
    video, coords, tracks = face3
    fps = video_fps(video)
    own = mouth_speech_correlation(video, tracks["face3"], fps, coords)
    others = [mouth_speech_correlation(video, tracks[name], fps, coords) for name in ("face4_30fps", "face6")]
    # Measured: +0.43 with its own speech, -0.10 and -0.03 with the others'.
    assert own > 0.3
    assert all(own > other + 0.3 for other in others)


def test_mouth_motion_is_zero_on_a_still_and_positive_on_speech(face3, tmp_path):
    video, coords, _ = face3
    motion = mouth_motion(video, coords)
    assert len(motion) == 125 and motion[0] == 0.0 and motion[1:].mean() > 0.5
    still = tmp_path / "still.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            video,
            "-vf",
            "select=eq(n\\,0),loop=30:1:0",
            "-frames:v",
            "30",
            "-c:v",
            "libx264",
            "-crf",
            "0",
            str(still),
        ],
        check=True,
    )
    assert np.all(mouth_motion(str(still), coords[:1]) == 0.0)  # a still image has one box


def test_face_box_score_of_a_video_against_itself_and_a_blurred_copy(face3, tmp_path):
    video, coords, _ = face3
    same = face_box_score(video, video, coords)
    assert same.psnr == float("inf") and same.ssim == pytest.approx(1.0) and same.frames == 125
    blurred = tmp_path / "blurred.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            video,
            "-vf",
            "boxblur=3",
            "-c:v",
            "libx264",
            "-crf",
            "0",
            str(blurred),
        ],
        check=True,
    )
    score = face_box_score(video, str(blurred), coords)
    assert score.frames == 125 and 20 < score.psnr < 45 and 0.5 < score.ssim < 0.99


def test_side_by_side_with_boxes_of_changing_size(face3, tmp_path):
    video, coords, _ = face3
    # Boxes that differ in size from frame to frame (as a moving face gives): every row gets the same tile size.
    grown = [
        (y1, y2 + (i % 3) * 7, x1, x2 + (i % 4) * 5) if c else None
        for i, c in enumerate(coords)
        for (y1, y2, x1, x2) in [c or (0, 0, 0, 0)]
    ]
    path = side_by_side(video, [("again", video)], grown, str(tmp_path / "grid.png"), count=4, height=100)
    image = cv2.imread(path)
    assert image.shape[0] == 28 + 4 * 100 and image.shape[1] % 2 == 0
    left, right = image[28:, : image.shape[1] // 2], image[28:, image.shape[1] // 2 :]
    assert np.array_equal(left, right)  # the same video in both columns
    assert 60 < left.mean() < 200  # a face, not a blank tile
