"""Face tracks for sync scoring, as syncnet_python's pipeline builds them for videos in the wild.

Every face found in every frame is linked into tracks (IoU above 0.5 with the track's last box, at most 25
frames without a detection); tracks shorter than ``min_track`` frames or with faces smaller than
``min_face_size`` pixels are dropped; boxes are interpolated over gaps, their centre and size median-filtered (13 frames),
and each frame is cropped to a square of side 2 * size * (1 + crop_scale) around the face (padded with grey
110 at the borders) and resized to 224x224.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np
from scipy import signal

from emogen.common.contract import Box, box_iou


@dataclass(frozen=True)
class TrackSettings:
    """Tracking parameters (syncnet_python defaults, except min_track: 25 frames instead of 100, since
    CREMA-D clips last about 2.5 s)."""

    iou_threshold: float = 0.5
    num_failed_det: int = 25
    min_track: int = 25
    min_face_size: int = 100
    crop_scale: float = 0.4


@dataclass
class Track:
    """Frames (consecutive indices) and one interpolated box per frame."""

    frames: np.ndarray
    boxes: np.ndarray  # (n, 4) x1 y1 x2 y2


def track_faces(
    frame_faces: Sequence[Sequence[Sequence[float]]], settings: TrackSettings = TrackSettings()
) -> list[Track]:
    """syncnet_python's track_shot: link every face of every frame (rows x1 y1 x2 y2 [score]) into tracks.

    Its loop is reproduced as it behaves: a track takes the first free face, then walks the frames taking each
    face whose IoU with the track's last face is above the threshold, until a frame lies more than
    ``num_failed_det`` frames after that last face; taking a face from a frame's list skips the face after it in
    the same pass (the reference removes items from the list it iterates). Tracks of at most ``min_track``
    faces, or whose interpolated boxes average ``min_face_size`` pixels or less, are dropped.
    """
    scene = [
        [(i, tuple(float(v) for v in face[:4]), k) for k, face in enumerate(faces)]
        for i, faces in enumerate(frame_faces)
    ]
    tracks: list[Track] = []
    while True:
        track: list = []
        for faces in scene:
            for face in faces:  # iterates the live list, as the reference does
                if not track:
                    track.append(face)
                    faces.remove(face)
                elif face[0] - track[-1][0] <= settings.num_failed_det:
                    if box_iou(face[1], track[-1][1]) > settings.iou_threshold:
                        track.append(face)
                        faces.remove(face)
                        continue
                else:
                    break
        if not track:
            return tracks
        if len(track) <= settings.min_track:
            continue
        frames = [f[0] for f in track]
        arr = np.asarray([f[1] for f in track], dtype=np.float64)
        span = np.arange(frames[0], frames[-1] + 1)
        interp = np.stack([np.interp(span, frames, arr[:, k]) for k in range(4)], axis=1)
        size = max(np.mean(interp[:, 2] - interp[:, 0]), np.mean(interp[:, 3] - interp[:, 1]))
        if size > settings.min_face_size:
            tracks.append(Track(span, interp))


def build_tracks(boxes: Sequence[Optional[Box]], settings: TrackSettings = TrackSettings()) -> list[Track]:
    """Tracks from one box (or None) per frame."""
    return track_faces([[b] if b is not None else [] for b in boxes], settings)


def crop_plan(track: Track, settings: TrackSettings = TrackSettings()) -> np.ndarray:
    """Median-filtered (size, centre y, centre x) per frame of a track, shape (n, 3)."""
    b = track.boxes
    s = np.maximum(b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]) / 2
    y = (b[:, 1] + b[:, 3]) / 2
    x = (b[:, 0] + b[:, 2]) / 2
    return np.stack([signal.medfilt(v, kernel_size=13) for v in (s, y, x)], axis=1)


def crop_face(frame: np.ndarray, size: float, cy: float, cx: float, crop_scale: float = 0.4) -> np.ndarray:
    """The square crop syncnet_python takes around a face, resized to 224x224."""
    pad = int(size * (1 + 2 * crop_scale))
    padded = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=110)
    my, mx = cy + pad, cx + pad
    face = padded[
        int(my - size) : int(my + size * (1 + 2 * crop_scale)),
        int(mx - size * (1 + crop_scale)) : int(mx + size * (1 + crop_scale)),
    ]
    return cv2.resize(face, (224, 224))
