"""Choosing a detector by name: s3fd, opencv, or auto (S3FD when its weights exist, else OpenCV)."""
from __future__ import annotations

import os
import sys
from typing import Optional

from emogen.device import resolve_device
from emogen.errors import UserError

from .detection.core import FaceDetector

DETECTOR_NAMES = ("auto", "s3fd", "opencv")
_ALIASES = {"sfd": "s3fd", "haar": "opencv"}


def resolve_detector_name(name: str = "auto", weights_path: Optional[str] = None, warn: bool = True) -> str:
    """The concrete detector 'auto' stands for, with a one-line warning when it falls back to OpenCV."""
    from .detection.sfd.sfd_detector import s3fd_weights_path

    name = _ALIASES.get(name, name)
    if name not in DETECTOR_NAMES:
        raise UserError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
    if name != "auto":
        return name
    path = s3fd_weights_path(weights_path)
    if os.path.isfile(path):
        return "s3fd"
    if warn:
        print(f"warning: S3FD weights not found at {path}; using the OpenCV Haar detector instead "
              "(see checkpoints/README.md for s3fd.pth)", file=sys.stderr)
    return "opencv"


def create_detector(name: str = "auto", device: Optional[str] = None,
                    weights_path: Optional[str] = None, verbose: bool = False) -> FaceDetector:
    """Build the named detector on ``device`` (default: CUDA if available, else CPU)."""
    concrete = resolve_detector_name(name, weights_path)
    dev = str(resolve_device(device))
    if concrete == "s3fd":
        from .detection.sfd.sfd_detector import SFDDetector

        return SFDDetector(dev, path_to_detector=weights_path, verbose=verbose)
    from .detection.opencv.haar_detector import HaarDetector

    return HaarDetector(dev, verbose=verbose)
