"""Face detection for EmoGen: S3FD (faithful to the original) and two detectors that need no download.

Quick use::

    from face_detection import create_detector, detect_video_boxes, DetectionSettings
    detector = create_detector("auto")          # S3FD if s3fd.pth exists, else dlib HOG, else Haar
    boxes = detect_video_boxes(frames, detector, DetectionSettings(max_side=480, stride=2))
"""
from .api import FaceAlignment, LandmarksType, NetworkSize
from .detection.core import Box, FaceDetector, best_box
from .detection.sfd.net_s3fd import S3FD
from .factory import DETECTOR_NAMES, create_detector, resolve_detector_name
from .video import DetectionSettings, detect_video_boxes

__all__ = ["FaceAlignment", "LandmarksType", "NetworkSize", "Box", "FaceDetector", "best_box", "S3FD",
           "DETECTOR_NAMES", "create_detector", "resolve_detector_name", "DetectionSettings",
           "detect_video_boxes"]
