"""Which runtime executes a network: PyTorch (every device; the exact path) or OpenVINO (CPUs, where it is
faster). One rule for every network, read by inference, the web page and face detection."""

from __future__ import annotations

import argparse
import functools
import importlib.util
from typing import TYPE_CHECKING, Optional

from .errors import UserError

if TYPE_CHECKING:
    import torch

BACKENDS = ("auto", "torch", "openvino")


def add_backend_argument(p: argparse.ArgumentParser) -> None:
    """The --backend option of every script that runs the generator or a face detector."""
    p.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help=(
            "runtime for the generator and S3FD: auto (default) = OpenVINO on a CPU when it is installed, except "
            "with --precision fp32, which stays on PyTorch (the original's exact numbers); PyTorch on CUDA. torch = "
            "PyTorch everywhere. openvino = OpenVINO (CPU only; each network is converted once per weight file and "
            "cached under $EMOGEN_MODEL_CACHE_DIR or ~/.cache/emogen/models)"
        ),
    )


@functools.lru_cache(maxsize=1)
def openvino_installed() -> bool:
    """True when the openvino package can be imported here (checked without importing it)."""
    return importlib.util.find_spec("openvino") is not None


def resolve_backend(name: Optional[str], device: torch.device, precision: str) -> str:
    """'torch' or 'openvino' for --backend ``name`` on ``device`` with the resolved --precision ``precision``.

    auto: OpenVINO on a CPU where it is installed, since it ran every network measured faster there
    (bench/bench_inference.py); PyTorch for the exact fp32 path and on CUDA. int8 exists only as an OpenVINO model.
    """
    name = (name or "auto").lower()
    if name not in BACKENDS:
        raise UserError.about("backend", f"{name}: choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        if precision == "int8":
            name = "openvino"
        elif device.type != "cpu" or precision == "fp32" or not openvino_installed():
            return "torch"
        else:
            return "openvino"
    if name == "torch":
        if precision == "int8":
            raise UserError.about(
                "precision",
                "int8 runs on OpenVINO only; use --backend openvino (or auto), or another "
                "--precision with --backend torch",
            )
        return "torch"
    if device.type != "cpu":
        raise UserError.about(
            "backend",
            f"openvino runs on a CPU; with --device {device} use --backend torch (or auto), or pass --device cpu",
        )
    if not openvino_installed():
        raise UserError.about(
            "backend", "openvino: the openvino package is not installed; pip install openvino (or use --backend torch)"
        )
    return "openvino"
