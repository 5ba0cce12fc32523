"""The seam ratio and sharpness measures on real frames, a hard paste and a feathered one."""

import cv2
import numpy as np
import pytest

from emogen.common.media import iter_frames
from emogen.inference.blending import blend_into
from evaluation.metrics.blend_quality import laplacian_variance, seam_ratio

BOX = (102, 473, 152, 447)  # top bottom left right: the fixed box of face3.mp4 the blend bench uses


@pytest.fixture(scope="module")
def frames(shared):
    return list(iter_frames(str(shared / "data/video/face3.mp4"), limit=5))


def test_real_frames_have_no_seam(frames):
    ratios = [seam_ratio(f, BOX) for f in frames]
    assert all(0.7 < r < 1.4 for r in ratios), ratios


def test_a_hard_paste_shows_and_feathering_hides_it(frames):
    y1, y2, x1, x2 = BOX
    for frame in frames:
        # A face of another brightness, as a generator that misses the skin tone would draw it.
        face = cv2.GaussianBlur(frame[y1:y2, x1:x2], (9, 9), 0).astype(np.int16) + 25
        face = np.clip(face, 0, 255).astype(np.uint8)
        hard, soft = frame.copy(), frame.copy()
        blend_into(hard, face, BOX, "hard")
        blend_into(soft, face, BOX, "feather")
        assert seam_ratio(hard, BOX) > 3.0
        assert seam_ratio(soft, BOX) < 1.5
        # The blurred face is less sharp than the real one, and the measure says so.
        assert laplacian_variance(hard, BOX) < laplacian_variance(frame, BOX)


def test_a_box_at_the_frame_edge_is_refused():
    with pytest.raises(ValueError, match="no side"):
        seam_ratio(np.zeros((20, 20, 3), np.uint8), (0, 20, 0, 20))
