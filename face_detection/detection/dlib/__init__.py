"""dlib's HOG frontal-face detector: its model is compiled into the dlib package, so nothing is downloaded."""

from .hog_detector import HogDetector, hog_available

__all__ = ["HogDetector", "hog_available"]
