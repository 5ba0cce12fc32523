"""Face boxes for a whole stream of frames: batching, downscaling, temporal stride and gap filling.

Frames are consumed from an iterator and only a bounded window is kept, so memory does not grow with the
length of the video. Boxes are returned in full-resolution pixels.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional, Sequence

import cv2
import numpy as np

from emogen.common.contract import Box, interpolate_box
from emogen.common.errors import UserError

from .detection.core import FaceDetector


@dataclass(frozen=True)
class DetectionSettings:
    """How to sample and scale frames for detection (part of the detection cache key)."""

    max_side: Optional[int] = None  # detect on a copy whose longest side is at most this (None: full size)
    stride: int = 1  # run the detector on every k-th frame and interpolate the frames between
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise UserError(f"detection stride must be at least 1, got {self.stride}")
        if self.batch_size < 1:
            raise UserError(f"detection batch size must be at least 1, got {self.batch_size}")
        if self.max_side is not None and self.max_side < 64:
            raise UserError(f"detection size must be at least 64 pixels, got {self.max_side}")


def _is_oom(exc: BaseException) -> bool:
    # Only a torch network can run out of device memory, and then torch is loaded; dlib and OpenCV never load it.
    torch = sys.modules.get("torch")
    return (torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError)) or "out of memory" in str(exc).lower()


class BatchRunner:
    """Calls ``detector.best_boxes`` in batches, halving the batch size when the device runs out of memory."""

    def __init__(self, detector: FaceDetector, batch_size: int) -> None:
        self.detector = detector
        self.batch_size = batch_size

    def __call__(self, images: Sequence[np.ndarray]) -> list[Optional[Box]]:
        out: list[Optional[Box]] = []
        start = 0
        while start < len(images):
            chunk = images[start : start + self.batch_size]
            try:
                out.extend(self.detector.best_boxes(chunk))
            except RuntimeError as exc:
                if not _is_oom(exc):
                    raise
                if self.batch_size == 1:
                    raise UserError(
                        "frames too large for face detection on this device even one at a time; "
                        "use --resize_factor or a smaller detection size"
                    ) from None
                self.batch_size //= 2
                torch = sys.modules.get("torch")
                if torch is not None and torch.cuda.is_available():
                    torch.cuda.empty_cache()
                print(f"face detection ran out of memory; retrying with batch size {self.batch_size}")
                continue
            start += len(chunk)
        return out


def _downscale(frame: np.ndarray, max_side: Optional[int]) -> tuple[np.ndarray, float]:
    h, w = frame.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return frame, 1.0
    scale = max_side / max(h, w)
    return cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA), scale


def _upscale(box: Optional[Box], scale: float) -> Optional[Box]:
    if box is None or scale == 1.0:
        return box
    return tuple(int(v / scale) for v in box)  # type: ignore[return-value]


def _with_last_flag(frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, bool]]:
    it = iter(frames)
    try:
        current = next(it)
    except StopIteration:
        return
    for nxt in it:
        yield current, False
        current = nxt
    yield current, True


def detect_video_boxes(
    frames: Iterable[np.ndarray],
    detector: FaceDetector,
    settings: DetectionSettings = DetectionSettings(),
    on_progress: Optional[Callable[[int], None]] = None,
) -> list[Optional[Box]]:
    """Best face box per frame (None where none was found), with the settings' downscale and stride (see
    iter_video_boxes)."""
    return list(iter_video_boxes(frames, detector, settings, on_progress))


def iter_video_boxes(
    frames: Iterable[np.ndarray],
    detector: FaceDetector,
    settings: DetectionSettings = DetectionSettings(),
    on_progress: Optional[Callable[[int], None]] = None,
) -> Iterator[Optional[Box]]:
    """Yield the best face box of each frame in order (None where none was found), a batch of key frames at a
    time, with the settings' downscale and stride.

    With a stride k, key frames (every k-th and the last) are detected; a frame between two key frames that
    both have a face gets the interpolated box, otherwise it is detected on its own, so a stride never hides a
    face the detector would have found.
    """
    run = BatchRunner(detector, settings.batch_size)
    stride = settings.stride
    boxes: list[Optional[Box]] = []
    # Window of (index, small frame, scale) since the last resolved key frame; bounded by batch_size * stride.
    window: list[tuple[int, np.ndarray, float]] = []
    key_count = 0

    def flush(final: bool) -> None:
        nonlocal window, key_count
        start_index = len(boxes)
        keys = [i for i, (idx, _, _) in enumerate(window) if idx % stride == 0 or (final and i == len(window) - 1)]
        if start_index > 0 and (not keys or keys[0] != 0):
            keys = [0] + keys  # window[0] is the previous key frame, already resolved
        resolved: dict[int, Optional[Box]] = {}
        todo = [k for k in keys if window[k][0] >= start_index]
        for k, box in zip(todo, run([window[k][1] for k in todo])):
            resolved[k] = _upscale(box, window[k][2])
        for k in keys:
            if k not in resolved:
                resolved[k] = boxes[window[k][0]]
        between: list[int] = []
        for a, b in zip(keys, keys[1:]):
            for j in range(a + 1, b):
                if resolved[a] is not None and resolved[b] is not None:
                    resolved[j] = interpolate_box(resolved[a], resolved[b], (j - a) / (b - a))
                else:
                    between.append(j)
        for j, box in zip(between, run([window[j][1] for j in between])):
            resolved[j] = _upscale(box, window[j][2])
        last = keys[-1] if keys else -1
        for j in range(len(window)):
            if window[j][0] >= start_index and j <= last:
                boxes.append(resolved[j])
                if on_progress:
                    on_progress(1)
        window = window[last:] if last >= 0 else window
        key_count = 1 if window else 0

    emitted = 0
    for index, (frame, is_last) in enumerate(_with_last_flag(frames)):
        small, scale = _downscale(frame, settings.max_side)
        window.append((index, small, scale))
        if index % stride == 0:
            key_count += 1
        if is_last:
            flush(final=True)
        elif key_count > settings.batch_size:
            flush(final=False)
        yield from boxes[emitted:]
        emitted = len(boxes)
