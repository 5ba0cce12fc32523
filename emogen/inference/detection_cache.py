"""A small on-disk cache of per-frame face boxes, keyed by the face file's content and the detection settings."""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from typing import Optional

from emogen.common.atomic import atomic_path
from emogen.common.digest import file_digest

Box = tuple[int, int, int, int]


def valid_boxes(data: object) -> Optional[list[Optional[Box]]]:
    """The boxes of a cache entry, or None when it is not a well-formed one: a dict whose ``boxes`` list holds,
    per frame, null or four finite numbers, with at least one box (a face-less entry is never stored)."""
    if not isinstance(data, dict) or not isinstance(data.get("boxes"), list):
        return None
    boxes: list[Optional[Box]] = []
    for b in data["boxes"]:
        if b is None:
            boxes.append(None)
            continue
        if not isinstance(b, list) or len(b) != 4:
            return None
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in b):
            return None
        boxes.append(tuple(b))  # type: ignore[arg-type]
    return boxes if any(b is not None for b in boxes) else None


def default_cache_dir() -> str:
    """$EMOGEN_CACHE_DIR, else $XDG_CACHE_HOME/emogen/detections, else ~/.cache/emogen/detections."""
    root = os.environ.get("EMOGEN_CACHE_DIR")
    if root:
        return root
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "emogen", "detections")


class DetectionCache:
    """Boxes for the first frames of a face file; a later run needing no more frames than stored reuses them."""

    def __init__(self, folder: Optional[str]) -> None:
        self.folder = folder

    def _path(self, face_path: str, settings: dict) -> str:
        blob = json.dumps({"file": file_digest(face_path), "settings": settings}, sort_keys=True)
        return os.path.join(self.folder or "", hashlib.sha256(blob.encode()).hexdigest() + ".json")

    def load(self, face_path: str, settings: dict, frames_needed: int) -> Optional[list[Optional[Box]]]:
        """Cached boxes covering ``frames_needed`` frames (or the whole video), else None."""
        if not self.folder:
            return None
        path = self._path(face_path, settings)
        try:
            with open(path) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None
        boxes = valid_boxes(data)
        if boxes is None:  # damaged or hand-edited: detect again (and overwrite it)
            return None
        if len(boxes) >= frames_needed or data.get("complete"):
            return boxes[:frames_needed]  # type: ignore[return-value]
        return None

    def store(self, face_path: str, settings: dict, boxes: list[Optional[Box]], complete: bool) -> None:
        """Save boxes (``complete``: they cover the whole video)."""
        if not any(b is not None for b in boxes):
            return  # nothing to reuse, and load() reads such an entry as damaged
        if not self.folder:
            return
        try:
            os.makedirs(self.folder, exist_ok=True)
            with atomic_path(self._path(face_path, settings), suffix=".tmp") as tmp:
                with open(tmp, "w") as handle:
                    json.dump(
                        {"boxes": [list(b) if b is not None else None for b in boxes], "complete": complete}, handle
                    )
        except OSError as exc:  # a cache is an optimisation: the run goes on without it
            print(
                f"warning: face boxes not cached: cannot write in {self.folder} ({exc.strerror}); point "
                "--detection_cache_dir or EMOGEN_CACHE_DIR at a writable folder",
                file=sys.stderr,
            )
