"""Locating and loading syncnet_python's SyncNet weights (``syncnet_v2.model``) for LSE-D / LSE-C.

The network itself is ``models.syncnet_eval.SyncNetEval``.
"""
from __future__ import annotations

import os
from typing import Optional

from emogen.checkpoints import load_weights
from emogen.errors import UserError
from models.syncnet_eval import SyncNetEval

WEIGHTS_ENV = "EMOGEN_SYNCNET_PATH"
DEFAULT_WEIGHTS = os.path.join("checkpoints", "syncnet_v2.model")


def syncnet_weights_path(path: Optional[str] = None) -> str:
    """The argument, else $EMOGEN_SYNCNET_PATH, else checkpoints/syncnet_v2.model."""
    return path or os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS


def load_syncnet_eval(path: Optional[str] = None, device: str = "cpu") -> SyncNetEval:
    """The scoring SyncNet with its weights, in eval mode; a clear error when the file is missing."""
    where = syncnet_weights_path(path)
    if not os.path.isfile(where):
        raise UserError(f"SyncNet weights not found at {where}: get syncnet_v2.model from the syncnet_python project "
                        f"(github.com/joonson/syncnet_python, download_model.sh) and put it at {DEFAULT_WEIGHTS}, "
                        f"pass --syncnet_path, or set {WEIGHTS_ENV}")
    model = SyncNetEval()
    load_weights(model, where, "syncnet_python SyncNet", map_location="cpu")
    return model.to(device).eval()
