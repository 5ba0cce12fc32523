"""Where the project's shared reference data lives (``$EMOGEN_SHARED``, else ``../shared`` beside the checkout),
and its official state_dict layouts with their deterministic weight filler, for the tests and the benchmarks."""

from __future__ import annotations

import importlib.util
import json
import os
from functools import lru_cache
from pathlib import Path
from types import ModuleType

CHECKOUT = Path(__file__).resolve().parents[2]
SHARED_ENV = "EMOGEN_SHARED"


class MissingReferenceData(FileNotFoundError):
    """The shared reference folder is not where it was looked for."""


def shared_dir() -> Path:
    """Path of the shared reference data (it may not exist)."""
    return Path(os.environ.get(SHARED_ENV) or CHECKOUT.parent / "shared").resolve()


def shared_available() -> bool:
    """Whether the shared folder holds both ``spec/`` and ``data/``."""
    root = shared_dir()
    return (root / "spec").is_dir() and (root / "data").is_dir()


def shared_path(*parts: str) -> Path:
    """A path under the shared folder; MissingReferenceData when the folder itself is absent."""
    if not shared_available():
        raise MissingReferenceData(f"shared reference data not found at {shared_dir()} (set {SHARED_ENV})")
    return shared_dir().joinpath(*parts)


@lru_cache(maxsize=1)
def manifest() -> dict:
    """The official state_dict layouts, by model name."""
    return json.loads(shared_path("spec", "state_dict_manifest.json").read_text())


@lru_cache(maxsize=1)
def seeded_weights() -> ModuleType:
    """The shared deterministic weight filler (``spec/seeded_weights.py``) as a module."""
    spec = importlib.util.spec_from_file_location("seeded_weights", shared_path("spec", "seeded_weights.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seeded_state_dict(model_name: str, seed: int = 11) -> dict:
    """Official-layout weights for ``model_name`` filled deterministically from ``seed``."""
    return seeded_weights().seeded_state_dict(manifest()[model_name], seed)


# Hand-marked positions on the shared media, per file (frame 0 of a video, or the still image): y of the mouth
# centre and y of the bottom of the chin. The detector tests and bench/bench_download_free_detectors.py check
# boxes against them.
MOUTH_CHIN = {
    "video/face1_30fps.mp4": (255, 300),
    "video/face2.mp4": (510, 585),
    "video/face3.mp4": (375, 445),
    "video/face4_30fps.mp4": (325, 375),
    "video/face5.mp4": (400, 445),
    "video/face6.mp4": (385, 445),
    "video/face7.mp4": (400, 465),
    "image/face3.jpg": (385, 450),
}
ANNOTATION_SLACK = 15  # pixels: the hand annotations are not more precise than this
