"""OpenCV's bundled Haar cascade as a detector that needs no downloaded weights."""

from .haar_detector import HaarDetector, haar_available

__all__ = ["HaarDetector", "haar_available"]
