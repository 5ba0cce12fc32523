"""Face detection for EmoGen: S3FD (faithful to the original) and two detectors that need no download.

Quick use::

    from face_detection import create_detector, detect_video_boxes, DetectionSettings
    detector = create_detector("auto")          # S3FD if s3fd.pth exists, else dlib HOG, else Haar
    boxes = detect_video_boxes(frames, detector, DetectionSettings(max_side=480, stride=2))

Names are loaded on first use, so importing the registry (for a command line's choices) loads no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FaceAlignment": "api",
    "LandmarksType": "api",
    "NetworkSize": "api",
    "FaceDetector": "detection.core",
    "best_box": "detection.core",
    "S3FD": "detection.s3fd.net_s3fd",
    "DETECTOR_NAMES": "registry",
    "DETECTORS": "registry",
    "create_detector": "registry",
    "resolve_detector_name": "registry",
    "DetectionSettings": "video",
    "detect_video_boxes": "video",
    "iter_video_boxes": "video",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'face_detection' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
