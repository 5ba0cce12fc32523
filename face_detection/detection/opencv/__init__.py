"""OpenCV's bundled Haar cascade as a detector that needs no downloaded weights."""
from .haar_detector import HaarDetector

__all__ = ["HaarDetector"]
