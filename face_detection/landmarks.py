"""Facial landmarks and identity descriptors from models trained elsewhere: dlib's 68-point shape predictor and its
ResNet face descriptor, as shipped inside the PyPI package ``face-recognition-models`` (CC0; the ``landmarks``
extra). They judge the project's own generators from outside: the mouth opening that lip sync is scored by, the
closed-mouth reference frame, and identity similarity.

The package is found without importing it (its __init__ needs pkg_resources, which new setuptools lacks)."""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from typing import Iterable, Optional

import cv2
import numpy as np

from emogen.common.errors import UserError

INSTALL_HINT = "pip install face-recognition-models (or pip install -e '.[landmarks]' in the checkout)"
PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
DETECT_SIDE = 320  # faces are found on a copy of at most this longest side (talking-head faces are large)

# The 68-point layout (iBUG 300-W): eyes 36-41 and 42-47, outer lips 48-59, inner lips 60-67.
LEFT_EYE, RIGHT_EYE = slice(36, 42), slice(42, 48)
MOUTH = slice(48, 68)
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # upper and lower inner-lip points, left to right


def model_file(name: str) -> str:
    """The path of one of the package's model files, or a UserError saying how to install it."""
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = os.path.join(folder, "models", name)
        if os.path.isfile(path):
            return path
    raise UserError(f"the landmark model {name} is missing; {INSTALL_HINT}")


@functools.lru_cache(maxsize=1)
def shared_landmark_model() -> LandmarkModel:
    """One landmark model per process (loading it takes about a second), for callers that only track."""
    return LandmarkModel()


def landmarks_available() -> bool:
    """Whether the 68-point model is installed (checked without loading it)."""
    try:
        model_file(PREDICTOR_FILE)
    except UserError:
        return False
    return True


@dataclass
class FaceLandmarks:
    """The 68 landmarks of one frame's face, (68, 2) float pixels, and the dlib rectangle they came from."""

    points: np.ndarray
    rect: object

    @property
    def inter_ocular(self) -> float:
        """Distance between the eye centres (pixels): the face's scale."""
        return float(np.linalg.norm(self.points[LEFT_EYE].mean(0) - self.points[RIGHT_EYE].mean(0)))

    @property
    def mouth_opening(self) -> float:
        """Mean gap between the inner lips over the inter-ocular distance (0 for a closed mouth)."""
        gaps = [np.linalg.norm(self.points[a] - self.points[b]) for a, b in INNER_LIP_PAIRS]
        return float(np.mean(gaps) / max(self.inter_ocular, 1e-6))

    def normalised(self) -> np.ndarray:
        """The points relative to the eye centres' midpoint, in inter-ocular units (pose scale removed)."""
        centre = (self.points[LEFT_EYE].mean(0) + self.points[RIGHT_EYE].mean(0)) / 2
        return (self.points - centre) / max(self.inter_ocular, 1e-6)


class LandmarkModel:
    """dlib's HOG face finder on a small copy of each frame, then the 68-point predictor on the full frame; the
    largest face is the speaker's. Frames without a face keep the last face's rectangle (a short miss), or
    give None before any face was found."""

    def __init__(self, descriptor: bool = False) -> None:
        import dlib

        self._dlib = dlib
        self.finder = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(model_file(PREDICTOR_FILE))
        self.encoder = dlib.face_recognition_model_v1(model_file(DESCRIPTOR_FILE)) if descriptor else None

    def _rect(self, gray: np.ndarray, last):
        h, w = gray.shape
        scale = min(1.0, DETECT_SIDE / max(h, w))
        small = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        found = self.finder(small, 0) or self.finder(small, 1)  # upsample once for a small face
        if not found:
            return last
        r = max(found, key=lambda r: r.area())
        return self._dlib.rectangle(
            int(r.left() / scale), int(r.top() / scale), int(r.right() / scale), int(r.bottom() / scale)
        )

    def track(self, frames: Iterable[np.ndarray]) -> list[Optional[FaceLandmarks]]:
        """The landmarks of every BGR frame, in order (None before the first face is found)."""
        out: list[Optional[FaceLandmarks]] = []
        rect = None
        for frame in frames:
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            # The face is searched for on every frame: a rectangle kept across frames shifts the lip points
            # enough to pick a reference whose mouth is not the most closed.
            rect = self._rect(gray, rect)
            if rect is None:
                out.append(None)
                continue
            shape = self.predictor(gray, rect)
            out.append(FaceLandmarks(np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64), rect))
        return out

    def descriptor(self, frame: np.ndarray, face: FaceLandmarks) -> np.ndarray:
        """dlib's 128-D identity descriptor of ``face`` in the BGR ``frame`` (needs ``descriptor=True``)."""
        if self.encoder is None:
            raise ValueError("LandmarkModel(descriptor=True) is needed for descriptors")
        rgb = np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        shape = self.predictor(rgb, face.rect)
        return np.asarray(self.encoder.compute_face_descriptor(rgb, shape), dtype=np.float64)
