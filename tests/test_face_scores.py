"""The quick start's held-out scores (emogen.apps.face_scores) on real footage: the face-box PSNR/SSIM and the
side-by-side picture."""

import subprocess

import cv2
import numpy as np
import pytest

from emogen.apps.face_scores import face_box_score, side_by_side
from emogen.apps.heldout import heldout_boxes


@pytest.fixture(scope="module")
def face3(shared, tmp_path_factory):
    """face3.mp4 and its dlib boxes as inference finds them."""
    d = tmp_path_factory.mktemp("scores")
    video = shared / "data/video/face3.mp4"
    coords = heldout_boxes(str(video), "dlib", str(d / "cache"))
    return str(video), coords


def test_face_box_score_of_a_video_against_itself_and_a_blurred_copy(face3, tmp_path):
    video, coords = face3
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
    video, coords = face3
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
