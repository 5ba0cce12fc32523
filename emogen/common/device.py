"""Choosing the device: CUDA when present, CPU otherwise, or what the user asks for."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Optional

from .errors import UserError

if TYPE_CHECKING:
    import torch


def add_device_argument(p: argparse.ArgumentParser) -> None:
    """The --device option every script shares (read by resolve_device)."""
    p.add_argument("--device", default=None, help="auto (default: CUDA if available), cpu, cuda, cuda:N")


class Device(str):
    """A device name ('cpu', 'cuda', 'cuda:1') that knows its type and index like torch.device. Being a string,
    torch accepts it wherever it takes a device, and choosing one on a CPU-only host needs no torch import
    (1.2 s and 470 MiB that a run on OpenVINO has no other use for)."""

    @property
    def type(self) -> str:
        """'cpu', 'cuda', ...: the part before the colon."""
        return self.split(":", 1)[0]

    @property
    def index(self) -> Optional[int]:
        """The number after the colon, or None."""
        return int(self.split(":", 1)[1]) if ":" in self else None


# Device nodes without which no CUDA (or ROCm, which torch also calls cuda) device can be visible on Linux:
# NVIDIA's driver nodes, AMD's kernel fusion driver, WSL2's GPU paravirtualisation.
_GPU_NODES = ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


def gpu_impossible() -> bool:
    """True on a Linux host with no GPU driver node, where torch.cuda.is_available() cannot be True; False
    (ask torch) anywhere else."""
    return sys.platform.startswith("linux") and not any(os.path.exists(node) for node in _GPU_NODES)


def choose_device(name: Optional[str] = None) -> Device:
    """'auto'/None -> cuda if available else cpu; otherwise validate the requested device string. torch is
    imported only when the answer depends on it (a host that may have a GPU, or a device other than the CPU)."""
    if name in (None, "", "auto"):
        if gpu_impossible():
            return Device("cpu")
    elif str(name).strip().lower() == "cpu":
        return Device("cpu")
    import torch  # here, not at import: parsing a command line (e.g. --help) should not load torch

    if name in (None, "", "auto"):
        return Device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError.about("device", f"{name!r} is not a device name; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError.about("device", f"{name} asked for CUDA but no CUDA GPU is visible; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError.about("device", f"{name}: only {torch.cuda.device_count()} CUDA device(s) visible")
    return Device(str(device))


def resolve_device(name: Optional[str] = None) -> torch.device:
    """The torch.device ``choose_device(name)`` names (for code that runs torch anyway: training, scoring)."""
    import torch

    return torch.device(choose_device(name))


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
