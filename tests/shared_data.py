"""The one place tests find ``../shared`` (override with the EMOGEN_SHARED environment variable).

The paths and the seeded layouts come from ``emogen.common.reference_data`` (the benchmarks read it too); this
module adds the test policy: outside CI a missing shared folder skips the tests that need it, and ``.ci/run``
sets EMOGEN_REQUIRE_SHARED=1, which turns that skip into a failure.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from emogen.common import reference_data
from emogen.common.reference_data import SHARED_ENV, shared_dir

REPO_ROOT = reference_data.CHECKOUT

__all__ = [
    "REPO_ROOT",
    "SHARED_ENV",
    "load_script",
    "manifest",
    "require_shared",
    "seeded_state_dict",
    "seeded_weights",
    "shared_dir",
    "shared_path",
]


def load_script(path: str):
    """A top-level script of the checkout (e.g. ``preprocess_crema-d.py``, ``live.py``) imported as a module."""
    spec = importlib.util.spec_from_file_location(path.replace("/", "_").replace("-", "_")[:-3], REPO_ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def require_shared() -> Path:
    """Return the shared folder, or skip (fail under CI) when it is absent."""
    if not reference_data.shared_available():
        message = f"shared reference data not found at {shared_dir()} (set {SHARED_ENV})"
        if os.environ.get("EMOGEN_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return shared_dir()


def shared_path(*parts: str) -> Path:
    """A file under the shared folder."""
    return require_shared().joinpath(*parts)


def manifest() -> dict:
    """The official state_dict layouts."""
    require_shared()
    return reference_data.manifest()


def seeded_weights():
    """The shared deterministic weight filler module."""
    require_shared()
    return reference_data.seeded_weights()


def seeded_state_dict(model_name: str, seed: int = 11) -> dict:
    """Official-layout weights for ``model_name`` filled with ``seed``."""
    require_shared()
    return reference_data.seeded_state_dict(model_name, seed)


FACE3_BOX = (150, 470, 140, 450)  # top bottom left right, around the face in face3.mp4


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly, overwriting its output; a failure fails the test."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)
