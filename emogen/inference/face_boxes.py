"""Face boxes for a run: a fixed --box, or detection (cached by file content and settings) with the
missing-face policy, then the original's pads and 5-frame smoothing."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Union

import cv2
from tqdm import tqdm

from emogen.common.atomic import atomic_path
from emogen.common.contract import Box, Coords
from emogen.common.errors import UserError
from face_detection import DetectionSettings, create_detector, iter_video_boxes
from face_detection.tracking import TrackSettings, track_video_boxes

from .box_stream import BoxList, BoxStream, CropRules
from .detection_cache import DetectionCache
from .face_source import FaceSource
from .options import InferenceOptions
from .plan import FacePlan


def _no_face_error(source: FaceSource, faces: FacePlan, index: int, reason: str) -> UserError:
    where = ""
    if faces.no_face_frame:
        saved = f"{faces.no_face_frame}_no_face_frame{index}.jpg"
        os.makedirs(os.path.dirname(os.path.abspath(saved)), exist_ok=True)
        with atomic_path(saved, suffix=".jpg") as tmp:
            cv2.imwrite(tmp, source.frame_at(index))
        where = f", saved as {saved}"
    return UserError.about(
        None,
        f"{reason}: no face found in frame {index} (t={index / source.fps:.2f} s){where}",
        try_options=("pads", "box", "resize_factor", "missing_face"),
    )


@dataclass
class _Detection:
    """One run's detection: the cache and its key, how many frames, and how to detect them."""

    cache: DetectionCache
    key: dict
    needed: int
    faces: FacePlan
    strategy: str
    settings: DetectionSettings
    tracking: TrackSettings


def _plan(opts: InferenceOptions, faces: FacePlan, source: FaceSource, frames_needed: int) -> _Detection:
    if faces.warning:
        print(faces.warning, file=sys.stderr)
    settings = DetectionSettings(
        max_side=opts.det_max_side, stride=opts.det_stride, batch_size=opts.face_det_batch_size
    )
    strategy = faces.strategy_for(source.static)
    tracking = TrackSettings(full_max_side=opts.det_max_side or TrackSettings.full_max_side)
    key = {
        "detector": faces.detector,
        "max_side": settings.max_side,
        "stride": settings.stride,
        "transform": source.transform.key(),
        "static": source.static,
    }
    if strategy == "fast":
        key.update(tracking.key())
    if faces.backend != "torch":  # the same boxes up to float rounding; kept apart all the same
        key["backend"] = faces.backend
    needed = 1 if source.static else frames_needed
    return _Detection(DetectionCache(opts.cache_dir), key, needed, faces, strategy, settings, tracking)


def _boxes(plan: _Detection, opts: InferenceOptions, source: FaceSource, bar: bool) -> Iterator[Optional[Box]]:
    """The raw boxes of the run's frames, in order, as the detector finds them."""
    detector = create_detector(plan.faces.detector, device=plan.faces.device, backend=plan.faces.backend)
    progress = tqdm(total=plan.needed, desc="face detection", unit="frame", disable=not (opts.progress and bar))
    done = [0]  # tqdm does not count when disabled

    def advance(n: int) -> None:
        progress.update(n)
        done[0] += n
        if opts.on_progress:
            opts.on_progress("face detection", done[0], plan.needed)

    frames = source.frames(plan.needed)
    if plan.strategy == "fast":
        yield from track_video_boxes(frames, detector, plan.tracking, on_progress=advance)
    else:
        yield from iter_video_boxes(frames, detector, plan.settings, on_progress=advance)
    progress.close()


def _cached(plan: _Detection, opts: InferenceOptions, start: float, timings: dict) -> Optional[list]:
    """The run's raw boxes from the detection cache (timed as its detection), or None."""
    cached = plan.cache.load(opts.face, plan.key, plan.needed)
    if cached is not None:
        timings["detection"] = time.perf_counter() - start
    return cached


def detect_boxes(
    opts: InferenceOptions, faces: FacePlan, source: FaceSource, frames_needed: int, timings: dict
) -> tuple[list, bool]:
    """Raw face boxes for the distinct input frames (cached by file content and settings); (boxes, cache hit)."""
    plan = _plan(opts, faces, source, frames_needed)
    start = time.perf_counter()
    cached = _cached(plan, opts, start, timings)
    if cached is not None:
        return cached, True
    boxes = list(_boxes(plan, opts, source, bar=True))
    plan.cache.store(opts.face, plan.key, boxes, complete=len(boxes) < plan.needed)
    timings["detection"] = time.perf_counter() - start
    return boxes, False


def _fixed_box(faces: FacePlan, source: FaceSource, frames_needed: int, timings: dict) -> list[Coords]:
    y1, y2, x1, x2 = check_box(faces.box, source.height, source.width)
    n = 1 if source.static else sum(1 for _ in source.frames(frames_needed))
    timings["detection"] = 0.0
    return [(y1, y2, x1, x2)] * n


def _crop_rules(opts: InferenceOptions, source: FaceSource) -> CropRules:
    return CropRules(
        opts.missing_face,
        max(1, int(round(source.fps))),
        (source.height, source.width),
        tuple(opts.pads),
        opts.nosmooth,
    )


def _checked_coords(
    opts: InferenceOptions, faces: FacePlan, source: FaceSource, raw: list
) -> tuple[list[Optional[Coords]], int]:
    """Crop boxes of the whole run and the boxes filled in, or the run's UserError: no face at all, a missing
    face with --missing_face error, pads that leave an empty box."""
    if not raw or all(b is None for b in raw):
        raise _no_face_error(source, faces, 0, "no face in any frame")
    if opts.missing_face == "error":
        missing = next((i for i, b in enumerate(raw) if b is None), None)
        if missing is not None:
            raise _no_face_error(source, faces, missing, "face not detected (missing_face error)")
    coords, filled = _crop_rules(opts, source).whole(raw)
    for i, c in enumerate(coords):
        _check_not_empty(opts, source, i, c, raw)
    return coords, filled


def _check_not_empty(opts: InferenceOptions, source: FaceSource, index: int, c: Optional[Coords], raw: list) -> None:
    if c is not None and (c[1] <= c[0] or c[3] <= c[2]):
        raise UserError.about(
            "pads",
            f"{' '.join(map(str, opts.pads))} leave an empty face box in frame {index} (detected "
            f"box {raw[index]} as x1 y1 x2 y2 in a {source.width}x{source.height} frame); use smaller "
            "negative pads",
        )


def face_coords(
    opts: InferenceOptions, faces: FacePlan, source: FaceSource, frames_needed: int, timings: dict
) -> tuple[list[Optional[Coords]], int, bool]:
    """Crop coordinates per distinct input frame, the number of frames filled, and whether the cache was hit."""
    if faces.box is not None:
        return _fixed_box(faces, source, frames_needed, timings), 0, False
    raw, hit = detect_boxes(opts, faces, source, frames_needed, timings)
    coords, filled = _checked_coords(opts, faces, source, raw)
    return coords, filled, hit


def face_boxes(
    opts: InferenceOptions, faces: FacePlan, source: FaceSource, frames_needed: int, timings: dict
) -> Union[BoxList, BoxStream]:
    """The run's crop boxes for the renderer: known in full (a fixed --box, a cache hit, a still, or
    ``opts.stream_detection`` off), or streamed from a detection thread, each box as soon as it is final (the
    same boxes either way)."""
    if faces.box is not None or source.static or not opts.stream_detection:
        return BoxList(*face_coords(opts, faces, source, frames_needed, timings))
    plan = _plan(opts, faces, source, frames_needed)
    start = time.perf_counter()
    cached = _cached(plan, opts, start, timings)
    if cached is not None:
        return BoxList(*_checked_coords(opts, faces, source, cached), hit=True)

    def finish(raw: list) -> tuple[list[Optional[Coords]], int]:
        plan.cache.store(opts.face, plan.key, raw, complete=len(raw) < plan.needed)
        timings["detection"] = time.perf_counter() - start
        return _checked_coords(opts, faces, source, raw)

    # The renderer's progress bar shows the pace; a second bar would overwrite it in the terminal.
    return BoxStream(
        _boxes(plan, opts, source, bar=False),
        _crop_rules(opts, source),
        finish,
        lambda i, c, raw: _check_not_empty(opts, source, i, c, raw),
    )


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
