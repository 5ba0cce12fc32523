"""A face detector that needs no download: OpenCV's frontal-face Haar cascade (shipped in the 4.x wheel)."""

from __future__ import annotations

import os
from typing import Optional, Sequence

import cv2
import numpy as np

from emogen.common.errors import UserError

from ..core import FaceDetector

CASCADE_FILE = "haarcascade_frontalface_default.xml"
# The cascade's square box runs from the brows to about the chin; S3FD's box (which the generator was
# trained on) reaches higher up the forehead and just past the chin, so grow it by these fractions.
GROW_TOP, GROW_BOTTOM = 0.10, 0.10
DETECT_SIDE = 480  # the cascade runs on a copy of this longest side: fast, and faces in talking heads are large


def haar_available() -> bool:
    """True when this OpenCV has the cascade classifier and its bundled frontal-face file (OpenCV 4.x)."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    return hasattr(cv2, "CascadeClassifier") and bool(folder) and os.path.isfile(os.path.join(folder, CASCADE_FILE))


def cascade_path() -> str:
    """Location of the bundled cascade file, or a UserError saying how to get it."""
    if not haar_available():
        raise UserError(
            f"OpenCV {cv2.__version__} has no Haar cascade ({CASCADE_FILE}; OpenCV 5 removed it); "
            "use --face_detector dlib (pip install dlib-bin) or s3fd, or install "
            "opencv-python-headless<5"
        )
    return os.path.join(cv2.data.haarcascades, CASCADE_FILE)


class HaarDetector(FaceDetector):
    """Frontal-face Haar cascade; returns the largest faces first, with boxes reshaped to S3FD's extent."""

    name = "opencv"
    # Its box moves by a pixel or two on every frame; fast matched exact's output to 30 dB only at 0.95
    # (bench/bench_face_detection.py).
    refine_iou = 0.95

    def __init__(
        self, device: str = "cpu", weights_path: Optional[str] = None, verbose: bool = False, min_neighbors: int = 5
    ) -> None:
        super().__init__("cpu", None, verbose)
        path = cascade_path()  # first: on OpenCV 5 this is the one-line error, before cv2.CascadeClassifier is read
        self.cascade = cv2.CascadeClassifier(path)
        self.min_neighbors = min_neighbors

    def search_scale(self, height: int, width: int) -> Optional[float]:
        """Frames are searched on a copy of at most DETECT_SIDE pixels (see the base class)."""
        return min(1.0, DETECT_SIDE / max(height, width))

    def _detect_one(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = min(1.0, DETECT_SIDE / max(h, w))
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        min_side = max(24, int(0.08 * min(gray.shape)))
        rects, _, weights = self.cascade.detectMultiScale3(
            gray,
            scaleFactor=1.1,
            minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side),
            outputRejectLevels=True,
        )
        if len(rects) == 0:
            return np.zeros((0, 5))
        rows = []
        for (x, y, bw, bh), weight in zip(rects, np.ravel(weights)):
            x1, x2 = x / scale, (x + bw) / scale
            y1, y2 = (y - GROW_TOP * bh) / scale, (y + bh * (1 + GROW_BOTTOM)) / scale
            rows.append([max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2), float(weight)])
        dets = np.asarray(rows)
        # In a talking-head frame the speaker is the largest face; rank by area, not by cascade weight.
        area = (dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1])
        return dets[np.argsort(-area, kind="stable")]

    def detect_from_batch(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Faces per BGR frame, largest first (score column: the cascade's level weight)."""
        return [self._detect_one(image) for image in images]
