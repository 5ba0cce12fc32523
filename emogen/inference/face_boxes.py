"""Face boxes for a run: a fixed --box, or detection (cached by file content and settings) with the
missing-face policy, then the original's pads and 5-frame smoothing."""

from __future__ import annotations

import os
import time
from typing import Optional, Sequence

import cv2
from tqdm import tqdm

from emogen.common.contract import Coords
from emogen.common.errors import UserError
from face_detection import DetectionSettings, create_detector, detect_video_boxes, resolve_detector_name
from face_detection.registry import DETECTORS
from face_detection.tracking import TrackSettings, track_video_boxes

from .detection_cache import DetectionCache
from .face_source import FaceSource
from .geometry import crop_coords, fill_gaps
from .options import InferenceOptions, resolve_runtime


def _no_face_error(source: FaceSource, index: int, outfile: str, reason: str) -> UserError:
    stem = os.path.splitext(outfile)[0]
    saved = f"{stem}_no_face_frame{index}.jpg"
    os.makedirs(os.path.dirname(os.path.abspath(saved)), exist_ok=True)
    cv2.imwrite(saved, source.frame_at(index))
    return UserError(
        f"{reason}: no face found in frame {index} (t={index / source.fps:.2f} s), saved as {saved}; "
        "try --pads, --box, --resize_factor or --missing_face interpolate|passthrough"
    )


def detect_boxes(opts: InferenceOptions, source: FaceSource, frames_needed: int, timings: dict) -> tuple[list, bool]:
    """Raw face boxes for the distinct input frames (cached by file content and settings); (boxes, cache hit)."""
    detector_name = resolve_detector_name(opts.face_detector)
    backend = detection_backend(opts, detector_name)
    settings = DetectionSettings(
        max_side=opts.det_max_side, stride=opts.det_stride, batch_size=opts.face_det_batch_size
    )
    strategy = "exact" if source.static else opts.detection
    tracking = TrackSettings(full_max_side=opts.det_max_side or TrackSettings.full_max_side)
    key = {
        "detector": detector_name,
        "max_side": settings.max_side,
        "stride": settings.stride,
        "transform": source.transform.key(),
        "static": source.static,
    }
    if strategy == "fast":
        key.update(tracking.key())
    if backend != "torch":  # the same boxes up to float rounding; kept apart all the same
        key["backend"] = backend
    cache = DetectionCache(opts.cache_dir)
    needed = 1 if source.static else frames_needed
    start = time.perf_counter()
    cached = cache.load(opts.face, key, needed)
    if cached is not None:
        timings["detection"] = time.perf_counter() - start
        return cached, True
    detector = create_detector(detector_name, device=opts.device, backend=backend)
    bar = tqdm(total=needed, desc="face detection", unit="frame", disable=not opts.progress)

    done = [0]  # tqdm does not count when disabled

    def advance(n: int) -> None:
        bar.update(n)
        done[0] += n
        if opts.on_progress:
            opts.on_progress("face detection", done[0], needed)

    if strategy == "fast":
        boxes = list(track_video_boxes(source.frames(needed), detector, tracking, on_progress=advance))
    else:
        boxes = detect_video_boxes(source.frames(needed), detector, settings, on_progress=advance)
    bar.close()
    cache.store(opts.face, key, boxes, complete=len(boxes) < needed)
    timings["detection"] = time.perf_counter() - start
    return boxes, False


def detection_backend(opts: InferenceOptions, detector_name: str) -> str:
    """The runtime of the run's detector: the generator's rule (emogen.common.backends), detection in float32."""
    if "openvino" not in DETECTORS[detector_name].backends:
        return "torch"
    return resolve_runtime(opts).backend


def face_coords(
    opts: InferenceOptions, source: FaceSource, frames_needed: int, first_outfile: str, timings: dict
) -> tuple[list[Optional[Coords]], int, bool]:
    """Crop coordinates per distinct input frame, the number of frames filled, and whether the cache was hit."""
    if opts.box[0] != -1:
        y1, y2, x1, x2 = check_box(opts.box, source.height, source.width)
        n = 1 if source.static else sum(1 for _ in source.frames(frames_needed))
        timings["detection"] = 0.0
        return [(y1, y2, x1, x2)] * n, 0, False
    raw, hit = detect_boxes(opts, source, frames_needed, timings)
    if not raw or all(b is None for b in raw):
        raise _no_face_error(source, 0, first_outfile, "no face in any frame")
    filled = 0
    if opts.missing_face == "error":
        missing = next((i for i, b in enumerate(raw) if b is None), None)
        if missing is not None:
            raise _no_face_error(source, missing, first_outfile, "face not detected (--missing_face error)")
    elif opts.missing_face == "interpolate":
        raw, filled = fill_gaps(raw, max_gap=max(1, int(round(source.fps))))
    shape = (source.height, source.width)
    coords = crop_coords(raw, shape, opts.pads, opts.nosmooth)
    empty = next((i for i, c in enumerate(coords) if c is not None and (c[1] <= c[0] or c[3] <= c[2])), None)
    if empty is not None:
        raise UserError.about(
            "pads",
            f"{' '.join(map(str, opts.pads))} leave an empty face box in frame {empty} (detected "
            f"box {raw[empty]} as x1 y1 x2 y2 in a {source.width}x{source.height} frame); use smaller "
            "negative pads",
        )
    return coords, filled, hit


def check_box(box: Sequence[int], height: int, width: int) -> Coords:
    """A --box (top bottom left right) that lies inside the frame with positive size, or a UserError."""
    y1, y2, x1, x2 = box
    if not (0 <= y1 < y2 <= height and 0 <= x1 < x2 <= width):
        raise UserError.about(
            "box",
            f"{y1} {y2} {x1} {x2} does not fit the frame, which is {width}x{height} (width x "
            "height) after --resize_factor, --rotate and --crop: it needs 0 <= TOP < BOTTOM <= "
            f"{height} and 0 <= LEFT < RIGHT <= {width}",
        )
    return y1, y2, x1, x2
