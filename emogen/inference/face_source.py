"""The face input of a run: a still image (or a video's first frame with --static) or a video, read with the
per-frame transform (--resize_factor, --rotate, --crop)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from emogen.common.errors import UserError
from emogen.common.media import FrameTransform, image_size, is_image_path, iter_frames, read_image, video_fps

from .options import MAX_FPS, InferenceOptions


def _check_pixels(opts: InferenceOptions, width: int, height: int) -> None:
    """A UserError for a face frame above opts.max_pixels (after --resize_factor), saying which factor fits."""
    pixels = width * height
    if opts.max_pixels is not None and pixels > opts.max_pixels:
        raise UserError.about(
            "face",
            f"{opts.face} is {width}x{height} pixels; the limit is {opts.max_pixels / 1e6:.1f} megapixels (memory "
            f"grows with the frame size): pass --resize_factor "
            f"{opts.resize_factor * int(np.ceil(np.sqrt(pixels / opts.max_pixels)))} or a smaller file",
        )


class FaceSource:
    """The face input: a still image (or --static first frame) or a video, with the per-frame transform."""

    def __init__(self, opts: InferenceOptions) -> None:
        self.path = opts.face
        self.transform = FrameTransform(opts.resize_factor, opts.rotate, tuple(opts.crop))
        self.is_image = is_image_path(opts.face)
        self.static = opts.static or self.is_image
        if self.is_image:
            self.fps = float(opts.fps)
            declared = image_size(opts.face)  # checked before decoding: a decoder allocates what the header says
            if declared:
                _check_pixels(opts, declared[0] // opts.resize_factor, declared[1] // opts.resize_factor)
            first = self.transform(read_image(opts.face))
        else:
            fps = video_fps(opts.face)
            self.fps = fps if fps > 0 else float(opts.fps)
            first = next(iter_frames(opts.face, self.transform, limit=1), None)
            if first is None:
                raise UserError.about("face", f"{opts.face}: the video has no readable frames")
        if first.size == 0:
            raise UserError.about("crop", "leaves an empty frame; check top bottom left right against the frame size")
        if not self.is_image and self.fps > MAX_FPS:
            raise UserError.about(
                "face",
                f"{opts.face} runs at {self.fps:g} frames per second; the limit is {MAX_FPS:g} (every frame is "
                f"generated): convert it first, e.g. ffmpeg -i <video> -r 25 <video_25fps.mp4>",
            )
        _check_pixels(opts, first.shape[1], first.shape[0])
        self.first = first
        self.height, self.width = first.shape[:2]

    def frames(self, limit: int) -> Iterator[np.ndarray]:
        """Up to ``limit`` distinct input frames (one for a still)."""
        if self.static:
            yield self.first
        else:
            yield from iter_frames(self.path, self.transform, limit=limit)

    def cycle(self, n_distinct: int, total: int) -> Iterator[np.ndarray]:
        """``total`` output frames: frame i is input frame i mod n_distinct (always the still for images)."""
        produced = 0
        while produced < total:
            for frame in self.frames(n_distinct):
                yield frame.copy()
                produced += 1
                if produced >= total:
                    return

    def frame_at(self, index: int) -> np.ndarray:
        """One input frame (for saving the frame where no face was found)."""
        for i, frame in enumerate(self.frames(index + 1)):
            if i == index:
                return frame
        return self.first
