"""EmoGen: emotionally enhanced talking-face generation.

The Python API is :class:`EmoGen` (``from emogen import EmoGen``); see docs/inference.md. The library below it
is in layers that import downwards only: ``cli`` (the command lines) over ``apps`` (the API, the demo, the web
page) over the stages ``inference``, ``training`` and ``data`` over the networks (``models``,
``face_detection``) over ``common``; docs/architecture.md has the map. Importing this package loads nothing
heavy: the API is imported on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = [
    "EMOTIONS",
    "EmoGen",
    "FaceSettings",
    "GeneratedVideo",
    "LiveSession",
    "LiveSettings",
    "UserError",
    "__version__",
]

_LAZY = {
    "EmoGen": "emogen.apps.api",
    "GeneratedVideo": "emogen.apps.api",
    "FaceSettings": "emogen.apps.api",
    "LiveSession": "emogen.inference.streaming",
    "LiveSettings": "emogen.inference.streaming",
    "UserError": "emogen.common.errors",
    "EMOTIONS": "emogen.common.contract",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emogen' has no attribute {name!r}")
