"""The reference face (emogen.inference.references): which frame each frame borrows under closed_mouth, on a real
talking-head video, and which mode a run resolves to."""

import math
from itertools import islice

import numpy as np
import pytest
from shared_data import FACE3_BOX as BOX

import face_detection.landmarks as landmarks
from emogen.common.media import iter_frames
from emogen.inference.references import (
    CLOSED_MOUTH_WINDOW,
    ReferenceCrops,
    closed_mouth_picks,
    resolve_reference,
)

FRAMES = 60


def test_picks_take_the_smallest_opening_within_the_window_and_never_a_frame_without_a_face():
    openings = [5.0, 3.0, math.nan, 1.0, 4.0, 2.0, math.nan]
    assert closed_mouth_picks(openings, window=1) == [1, 1, 3, 3, 3, 5, 5]
    assert closed_mouth_picks(openings, window=10) == [3] * 7
    assert closed_mouth_picks([math.nan, math.nan], window=1) == [0, 1]  # none in reach: each keeps itself


@pytest.fixture(scope="module")
def face_frames(shared):
    return list(islice(iter_frames(str(shared / "data/video/face3.mp4")), FRAMES))


def test_closed_mouth_references_on_a_real_video_have_the_most_closed_mouth_near_each_frame(face_frames):
    coords = [BOX] * len(face_frames)
    refs = ReferenceCrops(lambda: iter(face_frames), coords)
    faces = landmarks.shared_landmark_model().track(iter(face_frames))
    openings = np.array([f.mouth_opening for f in faces])
    assert len(refs.picks) == FRAMES
    for i, j in enumerate(refs.picks):
        assert abs(i - j) <= CLOSED_MOUTH_WINDOW
        lo, hi = max(0, i - CLOSED_MOUTH_WINDOW), min(FRAMES, i + CLOSED_MOUTH_WINDOW + 1)
        assert openings[j] == openings[lo:hi].min()
    # The speaker opens and closes the mouth within these 2.4 s: most frames borrow another frame's face, and the
    # borrowed mouths are clearly more closed than the frames' own.
    assert sum(j != i for i, j in enumerate(refs.picks)) > FRAMES // 2
    assert openings[refs.picks].mean() < 0.7 * openings.mean()
    # The crop is the picked frame's face at its own box.
    top, bottom, left, right = BOX
    j = refs.picks[30]
    assert np.array_equal(refs.crop(30), face_frames[j][top:bottom, left:right])


def test_resolve_reference_for_stills_videos_and_a_missing_landmark_model(monkeypatch, capsys):
    assert resolve_reference("frame", static=False) == "frame"
    assert resolve_reference("masked_mouth", static=False) == "masked_mouth"
    assert resolve_reference("closed_mouth", static=True) == "frame"  # a still has no other frame to borrow
    assert resolve_reference("auto", static=True) == "frame"
    assert resolve_reference("auto", static=False) == "closed_mouth"
    monkeypatch.setattr(landmarks, "landmarks_available", lambda: False)
    assert resolve_reference("auto", static=False) == "frame"
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and "landmark model is not installed" in warning
