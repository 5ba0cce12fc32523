"""The shared contract: emotion order, emotion lists, the mel window index and box interpolation."""

import random

import numpy as np
import pytest

from emogen.common.contract import (
    EMOTIONS,
    MEL_STEP_SIZE,
    WINDOW,
    box_iou,
    emotion_index,
    emotion_one_hot,
    interpolate_box,
    mel_index,
    parse_emotions,
)
from emogen.common.errors import UserError


def test_emotion_order_is_the_released_generators():
    assert EMOTIONS == ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
    assert [emotion_index(e) for e in ("ang", "DIS", " fea ", "HAP", "NEU", "SAD")] == [0, 1, 2, 3, 4, 5]
    np.testing.assert_array_equal(emotion_one_hot("HAP"), [0, 0, 0, 1, 0, 0])
    assert emotion_one_hot("SAD").dtype == np.float32
    assert (WINDOW, MEL_STEP_SIZE) == (5, 16)


def test_emotion_lists_are_canonical_everywhere():
    assert parse_emotions("SAD,HAP") == ["HAP", "SAD"] == parse_emotions(["sad", "HAP", "SAD"])
    assert parse_emotions("all") == list(EMOTIONS) == parse_emotions("all,HAP") == parse_emotions(["HAP", "ALL"])
    for bad in ("JOY", "", [], ["../x"], "HAP,,JOY"):
        with pytest.raises(UserError, match="ANG, DIS, FEA, HAP, NEU, SAD"):
            parse_emotions(bad)


def test_mel_index_agrees_with_both_original_formulas():
    """Inference computes int(i * (80 / fps)), training int(80 * (frame / fps)); one function serves both."""
    rng = random.Random(0)
    for fps in [25.0, 30.0, 29.97, 24.0, 23.976, 50.0, 60.0, 12.5] + [rng.uniform(1, 120) for _ in range(200)]:
        for frame in range(0, 3000, 7):
            assert mel_index(frame, fps) == int(frame * (80.0 / fps)) == int(80.0 * (frame / float(fps)))
    assert [mel_index(i, 25.0) for i in range(6)] == [0, 3, 6, 9, 12, 16]


def test_interpolate_box_rounds_to_pixels():
    assert interpolate_box((0, 0, 10, 10), (10, 20, 30, 40), 0.5) == (5, 10, 20, 25)
    assert interpolate_box((0, 0, 10, 10), (10, 20, 30, 40), 0.0) == (0, 0, 10, 10)
    assert interpolate_box((0, 0, 10, 10), (3, 3, 13, 13), 1 / 3) == (1, 1, 11, 11)


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
