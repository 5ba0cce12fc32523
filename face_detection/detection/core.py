"""The interface every face detector implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional, Sequence

import numpy as np

from emogen.common.contract import Box


class FaceDetector(ABC):
    """Base class: a detector turns BGR uint8 frames into scored face boxes. Every detector is built as
    ``cls(device, weights_path=None, verbose=False)`` (detectors without weight files ignore the path)."""

    name = "base"
    # The fast strategy (face_detection.tracking) interpolates between two key boxes only when their IoU is at
    # least this; below it, the frames between are detected. 0 for a detector whose boxes move smoothly.
    refine_iou = 0.0

    def __init__(self, device: str = "cpu", weights_path: Optional[str] = None, verbose: bool = False) -> None:
        self.device = str(device)
        self.verbose = verbose

    @abstractmethod
    def detect_from_batch(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Faces per image as float rows (x1, y1, x2, y2, score), best first; frames are BGR uint8 (H,W,3)."""

    def detect_from_image(self, image: np.ndarray) -> np.ndarray:
        """Faces in one BGR uint8 image as rows (x1, y1, x2, y2, score), best first."""
        return self.detect_from_batch([image])[0]

    def search_scale(self, height: int, width: int) -> Optional[float]:
        """The scale at which this detector searches a whole frame of this size, for detectors whose boxes
        depend on it (an image pyramid of fixed windows, as HOG and Haar use; the fast strategy searches their
        key frames whole, since a crop moves the windows); None for a detector that finds faces over a range of
        sizes alike (S3FD)."""
        return None

    def best_boxes(self, images: Sequence[np.ndarray]) -> list[Optional[Box]]:
        """The best face of each image, clipped at 0 and cast to int, or None where no face was found."""
        return [best_box(dets) for dets in self.detect_from_batch(images)]


def best_box(dets: np.ndarray) -> Optional[Box]:
    """The first (highest-scoring) row of ``dets`` as an int box clipped at 0, as the original does."""
    if len(dets) == 0:
        return None
    x1, y1, x2, y2 = np.clip(dets[0][:4], 0, None)
    return int(x1), int(y1), int(x2), int(y2)
