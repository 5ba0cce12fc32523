"""The one place tests find ``../shared`` (override with the EMOGEN_SHARED environment variable).

Outside CI a missing shared folder skips the tests that need it; ``.ci/run`` sets EMOGEN_REQUIRE_SHARED=1,
which turns that skip into a failure.
"""
from __future__ import annotations

import importlib.util
import json
import os
from functools import lru_cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_ENV = "EMOGEN_SHARED"


def load_script(path: str):
    """A top-level script of the checkout (e.g. ``preprocess_crema-d.py``, ``live.py``) imported as a module."""
    spec = importlib.util.spec_from_file_location(path.replace("/", "_").replace("-", "_")[:-3], REPO_ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_dir() -> Path:
    """Path of the shared reference data (may not exist)."""
    return Path(os.environ.get(SHARED_ENV) or REPO_ROOT.parent / "shared").resolve()


def require_shared() -> Path:
    """Return the shared folder, or skip (fail under CI) when it is absent."""
    root = shared_dir()
    if not (root / "spec").is_dir() or not (root / "data").is_dir():
        message = f"shared reference data not found at {root} (set {SHARED_ENV})"
        if os.environ.get("EMOGEN_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return root


def shared_path(*parts: str) -> Path:
    """A file under the shared folder."""
    return require_shared().joinpath(*parts)


@lru_cache(maxsize=1)
def manifest() -> dict:
    """The official state_dict layouts."""
    return json.loads(shared_path("spec", "state_dict_manifest.json").read_text())


@lru_cache(maxsize=1)
def seeded_weights():
    """The shared deterministic weight filler module."""
    spec = importlib.util.spec_from_file_location("seeded_weights", shared_path("spec", "seeded_weights.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seeded_state_dict(model_name: str, seed: int = 11) -> dict:
    """Official-layout weights for ``model_name`` filled with ``seed``."""
    return seeded_weights().seeded_state_dict(manifest()[model_name], seed)
