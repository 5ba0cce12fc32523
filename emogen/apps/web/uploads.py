"""What a request may bring: the chosen example or an uploaded file, saved under a fixed name in the job's own
folder and checked from its headers (kind, streams, duration, pixels) before any work is queued."""

from __future__ import annotations

import os

from emogen.common.errors import UserError
from emogen.common.media import count_packets, image_size, probe

from .config import WebConfig

FACE_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".jpg", ".jpeg", ".png"}
AUDIO_EXTENSIONS = {".wav", ".mp3", ".m4a", ".ogg", ".oga", ".webm", ".flac", ".aac", ".mp4"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png"}


class RejectedUpload(Exception):
    """An upload refused with a message for the page; ``field`` says which input it concerns."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def check_media(path: str, kind: str, cfg: WebConfig) -> None:
    """Probe headers only (nothing is decoded in full): a media file of the right kind, duration and size."""
    declared = image_size(path) if kind == "face" else None
    if declared and declared[0] * declared[1] > cfg.max_pixels:  # before ffprobe, which may decode to tell
        raise RejectedUpload(
            f"the face is {declared[0]}x{declared[1]} pixels; the limit is {cfg.max_pixels / 1e6:.1f} megapixels "
            "(resize it first)",
            kind,
        )
    try:
        info = probe(path)
    except UserError:
        raise RejectedUpload(f"the {kind} file is not a media file ffmpeg can read", kind) from None
    streams = info.get("streams", [])
    needed = "video" if kind == "face" else "audio"
    if not any(s.get("codec_type") == needed for s in streams):
        raise RejectedUpload(f"the {kind} file has no {needed} stream", kind)
    if kind == "face":
        video = next(s for s in streams if s.get("codec_type") == "video")
        # An image's own header first: ffprobe reports 0x0 for images above about 268 megapixels.
        width, height = declared or (int(video.get("width") or 0), int(video.get("height") or 0))
        if width * height == 0:
            raise RejectedUpload("the face's size cannot be read from its header", kind)
        if width * height > cfg.max_pixels:
            raise RejectedUpload(
                f"the face is {width}x{height} pixels; the limit is {cfg.max_pixels / 1e6:.1f} megapixels "
                "(resize it first)",
                kind,
            )
        if os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS:
            return
    try:
        duration = float(info.get("format", {}).get("duration", "nan"))
    except ValueError:
        duration = float("nan")
    # An unknown duration passes here (the decoded length is checked again while generating), unless the stream
    # has no data at all: a header with no samples is refused now, next to its input.
    empty = duration <= 0 if duration == duration else count_packets(path, "a:0" if kind == "audio" else "v:0") == 0
    if empty:
        raise RejectedUpload(f"the {kind} file holds no {'sound' if kind == 'audio' else 'frames'}", kind)
    if duration == duration and duration > cfg.max_seconds:
        raise RejectedUpload(f"the {kind} file lasts {duration:.1f} s; the limit is {cfg.max_seconds:g} s", kind)


def take_input(kind: str, folder: str, cfg: WebConfig, form, files) -> str:
    """Path of the chosen example or of the uploaded file saved under a fixed name in the job folder."""
    example = form.get(f"{kind}_example", "")
    upload = files.get(kind)
    if upload is not None and upload.filename:
        ext = os.path.splitext(upload.filename)[1].lower()
        allowed = FACE_EXTENSIONS if kind == "face" else AUDIO_EXTENSIONS
        if ext not in allowed:
            raise RejectedUpload(f"{kind} files must be one of {', '.join(sorted(allowed))}", kind)
        path = os.path.join(folder, f"{kind}{ext}")
        upload.save(path)
        if os.path.getsize(path) == 0:
            raise RejectedUpload(f"the {kind} file is empty", kind)
        check_media(path, kind, cfg)
        return path
    if example:
        if example not in cfg.examples[kind]:
            raise RejectedUpload(f"unknown {kind} example", kind)
        return cfg.examples[kind][example]
    raise RejectedUpload(f"choose an example {kind} or upload one", kind)
