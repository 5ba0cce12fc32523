"""Choosing a detector by name: s3fd, opencv (Haar), dlib (HOG), or auto (the best one that can run here)."""
from __future__ import annotations

import os
import sys
from typing import Optional

from emogen.device import resolve_device
from emogen.errors import UserError

from .detection.core import FaceDetector

DETECTOR_NAMES = ("auto", "s3fd", "opencv", "dlib")
_ALIASES = {"sfd": "s3fd", "haar": "opencv", "hog": "dlib"}
# Without s3fd.pth, 'auto' takes the first download-free detector that can run here. dlib's HOG finds the same
# faces as OpenCV's Haar cascade on the shared videos, with steadier boxes and twice the speed, and works with
# OpenCV 5 (which removed the cascade); Haar remains the fallback where dlib is missing
# (bench/bench_download_free_detectors.py).
DOWNLOAD_FREE_ORDER = ("dlib", "opencv")


def _can_run(name: str) -> bool:
    if name == "opencv":
        from .detection.opencv.haar_detector import haar_available

        return haar_available()
    from .detection.hog.hog_detector import hog_available

    return hog_available()


def no_detector_message(s3fd_path: str) -> str:
    """The one line for a machine where no detector can run, with every fix."""
    import cv2

    return (f"no face detector can run here: no S3FD weights at {s3fd_path}, OpenCV {cv2.__version__} has no Haar "
            "cascade (OpenCV 5 removed it) and dlib is not installed. Fix one of: pass --box TOP BOTTOM LEFT RIGHT; "
            "put s3fd.pth there (see checkpoints/README.md); pip install dlib-bin; or pip install "
            "'opencv-python-headless<5'")


def download_free_detector() -> str:
    """The first detector of DOWNLOAD_FREE_ORDER that can run here, or a UserError naming every fix."""
    from .detection.sfd.sfd_detector import s3fd_weights_path

    for candidate in DOWNLOAD_FREE_ORDER:
        if _can_run(candidate):
            return candidate
    raise UserError(no_detector_message(s3fd_weights_path()))


def resolve_detector_name(name: str = "auto", weights_path: Optional[str] = None, warn: bool = True) -> str:
    """The concrete detector 'auto' stands for, with a one-line warning when it falls back from S3FD."""
    from .detection.sfd.sfd_detector import s3fd_weights_path

    name = _ALIASES.get(name, name)
    if name not in DETECTOR_NAMES:
        raise UserError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
    if name != "auto":
        return name
    path = s3fd_weights_path(weights_path)
    if os.path.isfile(path):
        return "s3fd"
    candidate = download_free_detector()
    if warn:
        what = "OpenCV Haar" if candidate == "opencv" else "dlib HOG"
        print(f"warning: S3FD weights not found at {path}; using the {what} detector instead "
              "(see checkpoints/README.md for s3fd.pth)", file=sys.stderr)
    return candidate


def create_detector(name: str = "auto", device: Optional[str] = None,
                    weights_path: Optional[str] = None, verbose: bool = False) -> FaceDetector:
    """Build the named detector on ``device`` (default: CUDA if available, else CPU)."""
    concrete = resolve_detector_name(name, weights_path)
    dev = str(resolve_device(device))
    if concrete == "s3fd":
        from .detection.sfd.sfd_detector import SFDDetector

        return SFDDetector(dev, path_to_detector=weights_path, verbose=verbose)
    if concrete == "dlib":
        from .detection.hog.hog_detector import HogDetector

        return HogDetector(dev, verbose=verbose)
    from .detection.opencv.haar_detector import HaarDetector

    return HaarDetector(dev, verbose=verbose)
