"""The face-alignment style facade users' code calls: ``FaceAlignment(...).get_detections_for_batch``."""

from __future__ import annotations

from enum import Enum
from typing import Optional, Sequence

import numpy as np

from emogen.common.contract import Box

from .registry import create_detector


class LandmarksType(Enum):
    """Kept for interface compatibility; only face boxes are produced."""

    _2D = 1
    _2halfD = 2
    _3D = 3


class NetworkSize(Enum):
    """Kept for interface compatibility."""

    LARGE = 4


class FaceAlignment:
    """Face boxes for batches of BGR frames, as in Wav2Lip's bundled copy of face-alignment."""

    def __init__(
        self,
        landmarks_type: LandmarksType = LandmarksType._2D,
        network_size: NetworkSize = NetworkSize.LARGE,
        device: Optional[str] = None,
        flip_input: bool = False,
        face_detector: str = "sfd",
        verbose: bool = False,
        weights_path: Optional[str] = None,
    ) -> None:
        self.landmarks_type = landmarks_type
        self.flip_input = flip_input
        self.face_detector = create_detector(face_detector, device=device, weights_path=weights_path, verbose=verbose)
        self.device = self.face_detector.device

    def get_detections_for_batch(self, images: Sequence[np.ndarray]) -> list[Optional[Box]]:
        """One (x1, y1, x2, y2) box or None per BGR uint8 frame."""
        return self.face_detector.best_boxes(images)
