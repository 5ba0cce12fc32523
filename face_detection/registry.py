"""Every face detector by name: its class, aliases, whether it can run here, and what 'auto' picks.

A new detector is one folder under ``detection/`` (named as the detector) with a ``FaceDetector`` subclass,
plus one entry in ``DETECTORS``; every ``--face_detector`` option reads its choices from here. Nothing in
this module imports torch, so parsing a command line stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from typing import Callable, Optional

from emogen.common.device import choose_device
from emogen.common.errors import UserError
from emogen.common.weights import WEIGHTS


def _s3fd_weights_exist(weights_path: Optional[str] = None) -> bool:
    return os.path.isfile(WEIGHTS["s3fd"].path(weights_path))


def _dlib_installed(weights_path: Optional[str] = None) -> bool:
    from .detection.dlib.hog_detector import hog_available

    return hog_available()


def _haar_cascade_present(weights_path: Optional[str] = None) -> bool:
    from .detection.opencv.haar_detector import haar_available

    return haar_available()


@dataclass(frozen=True)
class DetectorEntry:
    """One detector: where its class lives (imported only when built) and how to tell it can run here."""

    name: str
    module: str  # its module under face_detection.detection/<name>/
    class_name: str
    summary: str  # for --help
    aliases: tuple[str, ...] = ()
    available: Callable[[Optional[str]], bool] = lambda weights_path=None: True
    download_free: bool = False  # may stand in for S3FD under 'auto'
    lse_only: bool = False  # only for LSE scoring (score_lse.py), never picked by 'auto'
    backends: tuple[str, ...] = ("torch",)  # runtimes its network runs on (see emogen.common.backends)
    # --detection auto takes the fast strategy with it on a CPU. The strategy is measured against exact with the
    # detectors whose weights ship in packages (dlib, Haar: docs/benchmarks.md, face detection, fast and exact);
    # S3FD takes it on that evidence, exact one flag away (its own agreement needs its real weights).
    fast_by_default: bool = False

    def load_class(self) -> type:
        """The detector class (imports its module now)."""
        return getattr(importlib.import_module(f"{__package__}.detection.{self.module}"), self.class_name)


# Order matters: 'auto' takes S3FD when its weights exist, else the first download-free detector that can run.
# dlib's HOG finds the same faces as OpenCV's Haar cascade on the shared videos, with steadier boxes and twice
# the speed, and works with OpenCV 5 (which removed the cascade) (bench/bench_download_free_detectors.py).
DETECTORS: dict[str, DetectorEntry] = {
    e.name: e
    for e in (
        DetectorEntry(
            "s3fd",
            "s3fd.sfd_detector",
            "SFDDetector",
            "s3fd (needs s3fd.pth)",
            aliases=("sfd",),
            available=_s3fd_weights_exist,
            backends=("torch", "openvino"),
            fast_by_default=True,
        ),
        DetectorEntry(
            "dlib",
            "dlib.hog_detector",
            "HogDetector",
            "dlib (dlib's HOG model, no download, works with OpenCV 5)",
            aliases=("hog",),
            available=_dlib_installed,
            download_free=True,
            fast_by_default=True,
        ),
        DetectorEntry(
            "opencv",
            "opencv.haar_detector",
            "HaarDetector",
            "opencv (OpenCV 4's Haar cascade, no download)",
            aliases=("haar",),
            available=_haar_cascade_present,
            download_free=True,
            fast_by_default=True,
        ),
        DetectorEntry(
            "syncnet_s3fd",
            "syncnet_s3fd.detector",
            "ReferenceSFDDetector",
            "reference (syncnet_python's S3FD settings, the published LSE protocol; needs sfd_face.pth or s3fd.pth)",
            aliases=("reference",),
            lse_only=True,
        ),
    )
}
_ALIASES = {alias: e.name for e in DETECTORS.values() for alias in e.aliases}
DETECTOR_NAMES = ("auto", *(e.name for e in DETECTORS.values() if not e.lse_only))


def _entries(lse: bool) -> list[DetectorEntry]:
    """The detectors an option offers; for LSE scoring the LSE-only ones come first (the default)."""
    return sorted((e for e in DETECTORS.values() if lse or not e.lse_only), key=lambda e: not e.lse_only)


def choices(lse: bool = False) -> tuple[str, ...]:
    """Every accepted --face_detector value, names then aliases; ``lse`` adds the LSE-only detectors (by their
    first alias, the name their option has always used) and drops 'auto'."""
    entries = _entries(lse)
    names = [] if lse else ["auto"]
    names += [e.aliases[0] if e.lse_only else e.name for e in entries]
    names += [n for e in entries for n in (e.name, *e.aliases)]
    return tuple(dict.fromkeys(names))


def add_face_detector_argument(
    p: argparse.ArgumentParser, default: str = "auto", lse: bool = False, help_extra: str = ""
) -> None:
    """Add --face_detector with every registered name and what 'auto' does."""
    described = ", ".join(e.summary for e in _entries(lse))
    auto = "" if lse else ", auto (s3fd if its weights exist, else dlib, else opencv)"
    p.add_argument("--face_detector", default=default, choices=choices(lse), help=described + auto + help_extra)


def resolve_detection(strategy: str, detector_name: str, device_type: str, stride: int = 1) -> str:
    """'exact' or 'fast' for a run: 'auto' is fast on a CPU for the detectors that take it by default (S3FD, dlib,
    Haar; not the LSE-only reference), unless a detection stride was asked for; exact on a GPU."""
    if strategy != "auto":
        return strategy
    entry = DETECTORS.get(detector_name)
    fast = entry is not None and entry.fast_by_default and device_type == "cpu" and stride == 1
    return "fast" if fast else "exact"


def canonical_name(name: str) -> str:
    """The registered name for a name or alias ('auto' stays 'auto'), or a UserError listing the choices."""
    name = _ALIASES.get(name, name)
    if name != "auto" and name not in DETECTORS:
        raise UserError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
    return name


def no_detector_message(s3fd_path: str) -> str:
    """The one line for a machine where no detector can run, with every fix."""
    import cv2

    return (
        f"no face detector can run here: no S3FD weights at {s3fd_path}, OpenCV {cv2.__version__} has no Haar "
        "cascade (OpenCV 5 removed it) and dlib is not installed. Fix one of: pass --box TOP BOTTOM LEFT RIGHT; "
        "put s3fd.pth there (see checkpoints/README.md); pip install dlib-bin; or pip install "
        "'opencv-python-headless<5'"
    )


def download_free_detector() -> str:
    """The first download-free detector that can run here, or a UserError naming every fix."""
    for entry in DETECTORS.values():
        if entry.download_free and entry.available(None):
            return entry.name
    raise UserError(no_detector_message(WEIGHTS["s3fd"].path()))


def resolve_detector_name(name: str = "auto", weights_path: Optional[str] = None, warn: bool = True) -> str:
    """The concrete detector 'auto' stands for, with a one-line warning when it falls back from S3FD."""
    name = canonical_name(name)
    if name != "auto":
        return name
    if DETECTORS["s3fd"].available(weights_path):
        return "s3fd"
    candidate = download_free_detector()
    if warn:
        print(fallback_warning(candidate, weights_path), file=sys.stderr)
    return candidate


def fallback_warning(candidate: str, weights_path: Optional[str] = None) -> str:
    """The line that says 'auto' took a download-free detector because S3FD's weights are missing."""
    what = "OpenCV Haar" if candidate == "opencv" else "dlib HOG"
    return (
        f"warning: S3FD weights not found at {WEIGHTS['s3fd'].path(weights_path)}; using the {what} detector "
        "instead (see checkpoints/README.md for s3fd.pth)"
    )


def create_detector(
    name: str = "auto",
    device: Optional[str] = None,
    weights_path: Optional[str] = None,
    verbose: bool = False,
    backend: str = "torch",
):
    """Build the named detector on ``device`` (default: CUDA if available, else CPU); ``backend`` (a resolved
    'torch' or 'openvino') applies to detectors whose network runs there, the others ignore it."""
    concrete = resolve_detector_name(name, weights_path)
    dev = str(choose_device(device))
    entry = DETECTORS[concrete]
    extra = {"backend": backend} if backend != "torch" and backend in entry.backends else {}
    return entry.load_class()(dev, weights_path=weights_path, verbose=verbose, **extra)
