"""The --face_detector option the scripts share (defined here so parsing a command line does not load torch)."""
from __future__ import annotations

import argparse

DETECTOR_CHOICES = ("auto", "s3fd", "opencv", "dlib", "sfd", "haar", "hog")


def add_face_detector_argument(p: argparse.ArgumentParser, default: str = "auto", help_extra: str = "") -> None:
    """Add --face_detector with every detector name and what 'auto' does."""
    p.add_argument("--face_detector", default=default, choices=DETECTOR_CHOICES,
                   help="s3fd (needs s3fd.pth), opencv (OpenCV 4's Haar cascade, no download), dlib (dlib's HOG "
                        "model, no download, works with OpenCV 5), auto (s3fd if its weights exist, else dlib, "
                        "else opencv)" + help_extra)
