"""A face detector that needs no download and no OpenCV cascade: dlib's HOG + linear SVM frontal-face model.

The model ships inside the dlib wheel (``dlib-bin`` on PyPI), so it works with OpenCV 4 and 5 alike.
"""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from emogen.common.errors import UserError

from ..core import FaceDetector

INSTALL_HINT = "pip install dlib-bin"
# dlib's box runs from the brows to about the chin; S3FD's (which the generator was trained on) reaches up the
# forehead and just past the chin and is a little wider. These fractions of the box height were fitted on the
# shared talking-head videos (bench/bench_download_free_detectors.py).
GROW_TOP, GROW_BOTTOM, GROW_SIDE = 0.25, 0.12, 0.06
DETECT_SIDE = 480  # detection runs on a copy of at most this longest side: faces in talking heads are large


def hog_available() -> bool:
    """True when dlib can be imported."""
    try:
        import dlib  # noqa: F401
    except ImportError:
        return False
    return True


class HogDetector(FaceDetector):
    """dlib's frontal-face HOG detector; the largest face first, boxes grown to S3FD's extent."""

    name = "dlib"
    # Its boxes move in steps (a HOG cell is a tenth of the box, a pyramid level 1.2 times its size), so two key
    # boxes that differ get the frames between detected (bench/bench_face_detection.py measured 0.9).
    refine_iou = 0.9

    def __init__(self, device: str = "cpu", weights_path: Optional[str] = None, verbose: bool = False) -> None:
        super().__init__("cpu", None, verbose)
        try:
            import dlib
        except ImportError:
            raise UserError(f"the dlib face detector needs the dlib package; {INSTALL_HINT}") from None
        self.detector = dlib.get_frontal_face_detector()

    def search_scale(self, height: int, width: int) -> Optional[float]:
        """Frames are searched on a copy of at most DETECT_SIDE pixels (see the base class)."""
        return min(1.0, DETECT_SIDE / max(height, width))

    def _detect_one(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = min(1.0, DETECT_SIDE / max(h, w))
        small = (
            cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
            if scale < 1.0
            else image
        )
        rgb = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        rects, scores, _ = self.detector.run(rgb, 0, 0.0)
        rows = []
        for rect, score in zip(rects, scores):
            x1, y1, x2, y2 = rect.left() / scale, rect.top() / scale, rect.right() / scale, rect.bottom() / scale
            bh = y2 - y1
            rows.append(
                [
                    max(0.0, x1 - GROW_SIDE * bh),
                    max(0.0, y1 - GROW_TOP * bh),
                    min(float(w), x2 + GROW_SIDE * bh),
                    min(float(h), y2 + GROW_BOTTOM * bh),
                    float(score),
                ]
            )
        if not rows:
            return np.zeros((0, 5))
        dets = np.asarray(rows)
        # The speaker is the largest face in a talking-head frame: rank by area, not by detector score.
        area = (dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1])
        return dets[np.argsort(-area, kind="stable")]

    def detect_from_batch(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Faces per BGR frame, largest first (score column: the SVM's detection score)."""
        return [self._detect_one(image) for image in images]
