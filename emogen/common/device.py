"""Choosing the torch device: CUDA when present, CPU otherwise, or what the user asks for."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Optional

from .errors import UserError

if TYPE_CHECKING:
    import torch


def add_device_argument(p: argparse.ArgumentParser) -> None:
    """The --device option every script shares (read by resolve_device)."""
    p.add_argument("--device", default=None, help="auto (default: CUDA if available), cpu, cuda, cuda:N")


def resolve_device(name: Optional[str] = None) -> torch.device:
    """'auto'/None -> cuda if available else cpu; otherwise validate the requested device string."""
    import torch  # here, not at import: parsing a command line (e.g. --help) should not load torch

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


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: VmHWM on Linux (getrusage's figure survives fork and exec, so a
    child of a large process would report its parent's), getrusage elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    scale = 1 if sys.platform != "darwin" else 1 / 1024  # macOS reports bytes, Linux kilobytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024
