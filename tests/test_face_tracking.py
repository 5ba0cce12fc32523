"""The fast detection strategy: geometry (boxes found in crops and downscaled copies map back to the frame),
cuts and jumps, and agreement with the exact strategy on real video with a real detector."""

import cv2
import numpy as np
import pytest

from emogen.common.contract import box_iou
from emogen.inference.geometry import crop_coords
from face_detection.detection.core import FaceDetector
from face_detection.tracking import TrackSettings, crop_window, jumped, track_video_boxes
from face_detection.video import DetectionSettings, detect_video_boxes


class BrightSquare(FaceDetector):
    """Finds the one white square of a frame exactly (its corners in the image it is given), and counts the
    pixels it was asked to search."""

    name = "square"

    def __init__(self) -> None:
        super().__init__("cpu")
        self.pixels = 0
        self.calls = 0

    def detect_from_batch(self, images):
        out = []
        for image in images:
            self.calls += 1
            self.pixels += image.shape[0] * image.shape[1]
            ys, xs = np.nonzero(image[..., 0] > 200)
            if len(xs) == 0:
                out.append(np.zeros((0, 5), np.float32))
                continue
            out.append(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, 1.0]], np.float32))
        return out


def square_video(boxes, size=(480, 640), cut_at=None):
    frames = []
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        frame = np.full(size + (3,), 90 if cut_at is None or i < cut_at else 20, np.uint8)
        frame[y1:y2, x1:x2] = 255
        frames.append(frame)
    return frames


def test_boxes_from_crops_and_downscaled_frames_map_back_to_the_frame():
    # A 200 px square moving right 1 px a frame: crops are scaled by 112/200, whole frames by 640/1280.
    truth = [(100 + i, 150, 300 + i, 350) for i in range(23)]
    detector = BrightSquare()
    found = list(track_video_boxes(square_video(truth, (720, 1280)), detector, TrackSettings(full_max_side=640)))
    assert len(found) == len(truth)
    for got, want in zip(found, truth):
        assert max(abs(a - b) for a, b in zip(got, want)) <= 2, (got, want)
    # Key frames only (0, 5, 10, 15, 20 and the last), each on a crop far smaller than the 720p frame.
    assert detector.calls == 6
    assert detector.pixels < 640 * 360 + 5 * 300 * 300


class SteppingSquare(BrightSquare):
    """BrightSquare with a search scale and a refine level, as dlib has: it searches whole frames only."""

    refine_iou = 0.9

    def search_scale(self, height, width):
        return 1.0


def test_key_boxes_that_disagree_get_the_frames_between_detected():
    # The box grows 1.2 times at frame 7 (a dlib pyramid step; not a jump): interpolating from key frame 5 to 10
    # would put frames 6-9 between the two steps, where no frame is.
    small, large = (200, 200, 300, 300), (190, 190, 310, 310)
    truth = [small] * 7 + [large] * 9
    detector = SteppingSquare()
    assert list(track_video_boxes(square_video(truth), detector, TrackSettings())) == truth
    assert detector.calls == 1 + 2 + 4 + 1  # frame 0, key frames 5 and 10, frames 6-9, the last (15)
    assert detector.pixels == detector.calls * 480 * 640  # dlib and Haar search whole frames
    interpolated = list(track_video_boxes(square_video(truth), SteppingSquare(), TrackSettings(refine_iou=0)))
    assert interpolated[6:10] != truth[6:10] and interpolated[:6] == truth[:6]

    # A detector whose refine level is 0 (S3FD: its boxes found in scaled crops, so within a pixel) is
    # interpolated unless the settings set one.
    def off(found, want):
        return max(abs(a - b) for f, w in zip(found, want) for a, b in zip(f, w))

    assert off(track_video_boxes(square_video(truth), BrightSquare(), TrackSettings()), interpolated) <= 1
    assert off(track_video_boxes(square_video(truth), BrightSquare(), TrackSettings(refine_iou=0.9)), truth) <= 1


def test_a_cut_or_a_jump_is_detected_frame_by_frame():
    truth = [(100, 100, 200, 200)] * 12 + [(400, 250, 500, 350)] * 11
    for cut in (12, None):  # a scene cut (the background changes too), then the same jump without one
        detector = BrightSquare()
        found = list(track_video_boxes(square_video(truth, cut_at=cut), detector, TrackSettings()))
        assert found == truth  # nothing interpolated across the jump
    assert jumped((0, 0, 100, 100), (50, 0, 150, 100), TrackSettings())
    assert not jumped((0, 0, 100, 100), (10, 5, 112, 108), TrackSettings())


def test_a_missing_face_is_none_and_found_again():
    box = (100, 100, 200, 200)
    frames = square_video([box] * 18)
    for f in frames[9:12]:
        f[:] = 90  # frames 9-11 have no face, key frame 10 among them
    found = list(track_video_boxes(frames, BrightSquare(), TrackSettings()))
    assert found == [box] * 9 + [None] * 3 + [box] * 6
    # A gap that no key frame sees is bridged by the interpolation, as the default --missing_face fills it.
    frames = square_video([box] * 11)
    frames[7][:] = 90
    assert list(track_video_boxes(frames, BrightSquare(), TrackSettings())) == [box] * 11


def test_crop_window_stays_inside_the_frame():
    assert crop_window((0, 0, 100, 100), 640, 480, 2.4) == (0, 0, 240, 240)
    assert crop_window((600, 400, 640, 480), 640, 480, 2.4) == (448, 288, 640, 480)
    assert crop_window((0, 0, 400, 400), 300, 200, 2.4) == (0, 0, 300, 200)


@pytest.mark.slow
def test_fast_agrees_with_exact_on_real_video(shared):
    """dlib on every frame of face3.mp4 (the exact strategy) against the fast one: the padded, smoothed crops."""
    from face_detection import create_detector

    cap = cv2.VideoCapture(str(shared / "data/video/face3.mp4"))
    frames = []
    while len(frames) < 60:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    detector = create_detector("dlib")
    exact = detect_video_boxes(frames, detector, DetectionSettings())
    fast = list(track_video_boxes(frames, detector, TrackSettings()))
    shape = frames[0].shape[:2]
    a, b = crop_coords(exact, shape, (0, 10, 0, 0), False), crop_coords(fast, shape, (0, 10, 0, 0), False)
    ious = [box_iou((p[2], p[0], p[3], p[1]), (q[2], q[0], q[3], q[1])) for p, q in zip(a, b)]  # crops: y1 y2 x1 x2
    assert np.mean(ious) >= 0.95 and min(ious) >= 0.85, (np.mean(ious), min(ious))


def test_auto_detection_is_fast_on_a_cpu_and_exact_on_a_gpu():
    from face_detection.registry import resolve_detection

    assert resolve_detection("auto", "dlib", "cpu") == "fast"
    assert resolve_detection("auto", "dlib", "cuda") == "exact"
    assert resolve_detection("auto", "dlib", "cpu", stride=3) == "exact"  # a stride asked for is kept
    assert resolve_detection("auto", "opencv", "cpu") == "fast"
    assert resolve_detection("auto", "s3fd", "cpu") == "fast"
    assert resolve_detection("auto", "s3fd", "cuda") == "exact"
    assert resolve_detection("auto", "syncnet_s3fd", "cpu") == "exact"  # LSE's reference protocol stays exact
    assert resolve_detection("exact", "dlib", "cpu") == "exact"
    assert resolve_detection("fast", "s3fd", "cuda") == "fast"
