"""Choosing the torch device: CUDA when present, CPU otherwise, or what the user asks for."""
from __future__ import annotations

from typing import Optional

import torch

from .errors import UserError


def resolve_device(name: Optional[str] = None) -> torch.device:
    """'auto'/None -> cuda if available else cpu; otherwise validate the requested device string."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r} is not a device name; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name} asked for CUDA but no CUDA GPU is visible; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) visible")
    return device
