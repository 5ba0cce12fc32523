"""What the generator sees as the reference face (the unmasked half of its input): the frame itself, as the
original (whose mouth it then tends to copy, whatever the speech says), the nearby frame whose mouth is most
closed (found by dlib's landmark model), or the frame itself with its mouth region set to zero (for generators
trained that way). ``auto`` is closed_mouth for a video where the landmark model is installed, else frame."""

from __future__ import annotations

import sys
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from emogen.common.contract import Coords

REFERENCE_MODES = ("auto", "frame", "closed_mouth", "masked_mouth")
CLOSED_MOUTH_WINDOW = 12  # frames on either side searched for the most closed mouth (about 0.5 s at 25 fps)


def resolve_reference(requested: str, static: bool) -> str:
    """The reference a run uses: a still has one frame, so closed_mouth means frame there; auto is closed_mouth
    for a video when the landmark model is installed (frame, with a one-line warning, when it is not)."""
    from face_detection.landmarks import INSTALL_HINT, landmarks_available, model_file

    if requested in ("frame", "masked_mouth"):
        return requested
    if static:
        return "frame"
    if requested == "closed_mouth":
        model_file("shape_predictor_68_face_landmarks.dat")  # a UserError saying how to install it
        return requested
    if landmarks_available():
        return "closed_mouth"
    print(
        f"warning: reference auto: the landmark model is not installed, so each frame is its own reference (the "
        f"mouth then tends to follow the face video rather than the speech); {INSTALL_HINT}",
        file=sys.stderr,
    )
    return "frame"


def closed_mouth_picks(openings: Sequence[float], window: int = CLOSED_MOUTH_WINDOW) -> list[int]:
    """For each frame, the frame within +-``window`` whose mouth is most closed (frames without a face, nan, are
    never picked; a frame with none in reach keeps itself)."""
    values = np.asarray(openings, dtype=np.float64)
    picks = []
    for i in range(len(values)):
        lo, hi = max(0, i - window), min(len(values), i + window + 1)
        part = values[lo:hi]
        picks.append(lo + int(np.nanargmin(part)) if np.isfinite(part).any() else i)
    return picks


class ReferenceCrops:
    """The reference crop each input frame gets under ``closed_mouth``: the picked frame's face, cropped at that
    frame's own box. Two passes over the distinct input frames (``frames()`` yields them again each call): one
    for the landmarks, one keeping only the picked frames' crops, so memory stays small for a long video."""

    def __init__(self, frames: Callable[[], Iterable[np.ndarray]], coords: Sequence[Optional[Coords]]) -> None:
        from face_detection.landmarks import shared_landmark_model

        faces = shared_landmark_model().track(frames())
        openings = [f.mouth_opening if f is not None and c is not None else np.nan for f, c in zip(faces, coords)]
        self.picks = closed_mouth_picks(openings)
        wanted = {j for j in self.picks if coords[j] is not None}
        self._crops: dict = {}
        for j, frame in enumerate(frames()):
            if j in wanted:
                y1, y2, x1, x2 = coords[j]
                self._crops[j] = frame[y1:y2, x1:x2].copy()

    def crop(self, index: int) -> Optional[np.ndarray]:
        """The reference crop of distinct input frame ``index`` (None: use the frame's own crop)."""
        return self._crops.get(self.picks[index % len(self.picks)])
