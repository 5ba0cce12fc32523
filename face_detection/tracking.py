"""Face boxes at video speed: detect on key frames only, near the face, and follow it in between.

The original runs its detector on every full-size frame. What the output depends on is the box after the pads
and the 5-frame smoothing, so the ``fast`` strategy spends detections where they change that box:

- the first frame is searched whole (on a copy of at most ``full_max_side`` pixels; a detector with its own
  search scale, dlib or Haar, gets it as it would get any frame);
- every ``key_interval``-th frame (and the last) is searched near the previous key frame's box: S3FD in a crop
  ``context`` face sizes wide, resized so the face is about ``face_px`` pixels, far fewer pixels than the frame;
  dlib and Haar on the whole frame as they search any frame (a crop moves their cells and pyramid levels, and
  their boxes with them);
- the frames between two key frames get boxes interpolated between theirs where the two agree (IoU at least the
  detector's ``refine_iou``: dlib 0.9, Haar 0.95), else each frame between is detected near the box before it:
  dlib's boxes move in steps (a HOG cell, a pyramid level) and Haar's by a pixel or two on every frame, which
  no interpolation follows; S3FD's regressed boxes are interpolated always (refine_iou 0);
- the whole frame is searched again when the crop loses the face, the box jumps (its centre moves more than
  ``max_shift`` of its size, or its size changes more than ``max_scale`` times) or the picture cuts (the mean
  grey-level change of two consecutive thumbnails passes ``cut_level``); then every frame between the two key
  frames is detected on its own, so a cut or a fast turn is never smoothed over.

It works with any FaceDetector (S3FD, dlib, OpenCV); boxes are full-frame pixels, as the exact strategy's.
Frames are consumed from an iterator with a window of one key interval, and boxes are yielded as soon as they
are final, so a renderer can start on the first ones while detection goes on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional

import cv2
import numpy as np

from emogen.common.contract import Box, box_iou, interpolate_box
from emogen.common.errors import UserError

from .detection.core import FaceDetector


@dataclass(frozen=True)
class TrackSettings:
    """The fast strategy's parameters (part of the detection cache key)."""

    key_interval: int = 5  # frames from one key frame to the next
    face_px: int = 112  # face size the key-frame crop is scaled to (only ever scaled down)
    context: float = 2.4  # crop side, in face sizes
    full_max_side: Optional[int] = 640  # the whole-frame searches run on a copy at most this large (None: full)
    max_shift: float = 0.35  # centre move between key frames, as a share of the face size, that counts as a jump
    max_scale: float = 1.4  # size change between key frames that counts as a jump
    cut_level: float = 30.0  # mean grey-level change of consecutive 32x32 thumbnails that counts as a cut
    # Two key boxes with a lower IoU get the frames between detected, not interpolated (0: always interpolate).
    # None: the detector's own level (FaceDetector.refine_iou: dlib 0.9, Haar 0.95, S3FD 0).
    refine_iou: Optional[float] = None

    def __post_init__(self) -> None:
        if self.key_interval < 1:
            raise UserError(f"key interval must be at least 1, got {self.key_interval}")
        if self.face_px < 32 or self.context < 1.2:
            raise UserError("the tracked crop needs face_px >= 32 and context >= 1.2")

    def key(self) -> dict:
        """What the detection cache keys on."""
        return {"strategy": "fast", **dataclasses.asdict(self)}


def _best(dets: np.ndarray, scale: float, dx: float, dy: float, width: int, height: int) -> Optional[Box]:
    """The best row of ``dets`` (found in a scaled crop whose top-left corner is at (dx, dy) of the frame) in
    full-frame pixels, clipped at 0 and cast to int as ``best_box`` does for whole frames."""
    if len(dets) == 0:
        return None
    x1, y1, x2, y2 = dets[0][:4] / scale + np.array([dx, dy, dx, dy])
    x1, y1, x2, y2 = np.clip([x1, y1, x2, y2], 0, None)
    if x2 <= x1 or y2 <= y1 or x1 >= width or y1 >= height:
        return None
    return int(x1), int(y1), int(x2), int(y2)


def _scaled(frame: np.ndarray, scale: float) -> np.ndarray:
    h, w = frame.shape[:2]
    if scale >= 1.0:
        return frame
    return cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def detect_whole(detector: FaceDetector, frame: np.ndarray, max_side: Optional[int]) -> Optional[Box]:
    """The best face of the whole frame: as the detector searches it itself when it has a search scale, else on
    a copy whose longest side is at most ``max_side``."""
    h, w = frame.shape[:2]
    if detector.search_scale(h, w) is not None or not max_side or max(h, w) <= max_side:
        return _best(detector.detect_from_image(frame), 1.0, 0.0, 0.0, w, h)
    scale = max_side / max(h, w)
    return _best(detector.detect_from_image(_scaled(frame, scale)), scale, 0.0, 0.0, w, h)


def crop_window(box: Box, width: int, height: int, context: float) -> tuple[int, int, int, int]:
    """The square (x1, y1, x2, y2) ``context`` face sizes wide around ``box``, moved inside the frame (cut where
    the frame is smaller)."""
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    side = context * max(box[2] - box[0], box[3] - box[1])
    x1 = int(round(min(max(cx - side / 2, 0), max(width - side, 0))))
    y1 = int(round(min(max(cy - side / 2, 0), max(height - side, 0))))
    return x1, y1, min(width, int(round(x1 + side))), min(height, int(round(y1 + side)))


def detect_near(detector: FaceDetector, frame: np.ndarray, box: Box, settings: TrackSettings) -> Optional[Box]:
    """The best face near ``box``. S3FD (no search scale) sees a crop around it, scaled so the face is about
    ``settings.face_px``. A detector with a search scale (dlib, Haar) searches the whole frame as it always does:
    on the CREMA-D clips a crop of its own search copy gave a box equal to the whole frame's for none of 69 frames
    (its cells and pyramid levels fall on other pixels), and its whole-frame search is cheap."""
    h, w = frame.shape[:2]
    if detector.search_scale(h, w) is not None:
        return detect_whole(detector, frame, settings.full_max_side)
    x1, y1, x2, y2 = crop_window(box, w, h, settings.context)
    scale = min(1.0, settings.face_px / max(1, box[2] - box[0], box[3] - box[1]))
    return _best(detector.detect_from_image(_scaled(frame[y1:y2, x1:x2], scale)), scale, x1, y1, w, h)


def jumped(a: Box, b: Box, settings: TrackSettings) -> bool:
    """Whether ``b`` is too far from ``a`` to interpolate between them."""
    sa, sb = max(a[2] - a[0], a[3] - a[1], 1), max(b[2] - b[0], b[3] - b[1], 1)
    shift = np.hypot((a[0] + a[2] - b[0] - b[2]) / 2.0, (a[1] + a[3] - b[1] - b[3]) / 2.0)
    return shift > settings.max_shift * max(sa, sb) or max(sa, sb) / min(sa, sb) > settings.max_scale


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """A 32x32 grey copy, to notice cuts."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def refine_level(detector: FaceDetector, settings: TrackSettings) -> float:
    """The IoU below which two key boxes get the frames between them detected (see TrackSettings.refine_iou)."""
    return detector.refine_iou if settings.refine_iou is None else settings.refine_iou


def _near_or_whole(detector: FaceDetector, frame: np.ndarray, box: Box, settings: TrackSettings) -> Optional[Box]:
    """The face near ``box``, confirmed on the whole frame where a crop finds none or one that jumped."""
    found = detect_near(detector, frame, box, settings)
    cropped = detector.search_scale(*frame.shape[:2]) is None  # else detect_near searched the whole frame
    if cropped and (found is None or jumped(box, found, settings)):
        return detect_whole(detector, frame, settings.full_max_side)
    return found


def _detect_each(detector: FaceDetector, between: list, last: Box, settings: TrackSettings) -> list[Optional[Box]]:
    """Each frame of ``between`` detected near the box before it."""
    boxes: list[Optional[Box]] = []
    for frame, _ in between:
        found = _near_or_whole(detector, frame, last, settings)
        boxes.append(found)
        last = found or last
    return boxes


def _resolve_key(
    detector: FaceDetector, window: list, last: Optional[Box], settings: TrackSettings
) -> list[Optional[Box]]:
    """Boxes of window[1:] (the frames after the previous key frame, ending with the new key frame)."""
    frame = window[-1][0]
    cut = any(float(np.abs(b[1] - a[1]).mean()) > settings.cut_level for a, b in zip(window, window[1:]))
    if last is not None and not cut:
        key_box = _near_or_whole(detector, frame, last, settings)
    else:
        key_box = detect_whole(detector, frame, settings.full_max_side)
    between = window[1:-1]
    if last is not None and key_box is not None and not cut and not jumped(last, key_box, settings):
        n = len(between) + 1
        if box_iou(last, key_box) < refine_level(detector, settings):
            return _detect_each(detector, between, last, settings) + [key_box]
        return [interpolate_box(last, key_box, j / n) for j in range(1, n)] + [key_box]
    # A cut, a jump or a face missing at either end: each frame between is searched whole, on its own.
    return [detect_whole(detector, f, settings.full_max_side) for f, _ in between] + [key_box]


def track_video_boxes(
    frames: Iterable[np.ndarray],
    detector: FaceDetector,
    settings: TrackSettings = TrackSettings(),
    on_progress: Optional[Callable[[int], None]] = None,
) -> Iterator[Optional[Box]]:
    """Yield the best face box of each frame in order (None where there is none), with the fast strategy; a
    frame's box is yielded once the key frame after it is done."""
    window: list[tuple[np.ndarray, np.ndarray]] = []  # (frame, thumbnail) from the last key frame on
    last: Optional[Box] = None
    for index, frame in enumerate(frames):
        window.append((frame, thumbnail(frame)))
        if index == 0:
            boxes = [detect_whole(detector, frame, settings.full_max_side)]
        elif index % settings.key_interval == 0:
            boxes = _resolve_key(detector, window, last, settings)
        else:
            continue
        last = boxes[-1]
        window = window[-1:]
        if on_progress:
            on_progress(len(boxes))
        yield from boxes
    if len(window) > 1:  # the video's last frame closes the last interval as a key frame
        boxes = _resolve_key(detector, window, last, settings)
        if on_progress:
            on_progress(len(boxes))
        yield from boxes
