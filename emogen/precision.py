"""Numeric precision of the generator: float32 (exact) or reduced precision where the hardware runs it natively."""
from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING, Optional

from .errors import UserError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def add_precision_argument(p) -> None:
    """The --precision option of every script that runs the generator."""
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="generator arithmetic: auto (default) = bf16 where the device runs it natively (CUDA with "
                        "bf16, a CPU with AVX512_BF16 or AMX), else fp32; fp32 = the original's exact output; "
                        "bf16; fp16 (CUDA only)")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when this CPU has bfloat16 instructions (AVX512_BF16 or AMX), read from /proc/cpuinfo on Linux."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_precision(name: Optional[str], device: "torch.device") -> Optional["torch.dtype"]:
    """The autocast dtype for --precision on ``device`` (None: plain float32, today's exact output).

    auto: bfloat16 where the device runs it natively (a CUDA GPU with bf16, a CPU with AVX512_BF16 or AMX),
    float32 elsewhere.
    """
    import torch

    name = (name or "auto").lower()
    if name not in PRECISIONS:
        raise UserError(f"--precision {name}: choose one of {', '.join(PRECISIONS)}")
    if name == "fp32":
        return None
    if name == "auto":
        native = torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_native_bf16()
        return torch.bfloat16 if native else None
    if name == "fp16":
        if device.type != "cuda":
            raise UserError("--precision fp16 needs a CUDA device; on a CPU use bf16 or fp32")
        return torch.float16
    return torch.bfloat16


def precision_name(dtype: Optional["torch.dtype"]) -> str:
    """fp32 / bf16 / fp16 for printing."""
    import torch

    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def autocast(device: "torch.device", dtype: Optional["torch.dtype"]):
    """torch.autocast for reduced precision, or a no-op context for float32."""
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
