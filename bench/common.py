"""Helpers shared by the benchmark scripts (not used by the library)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emogen.common.reference_data import shared_dir  # noqa: E402

__all__ = ["ROOT", "machine_line", "peak_rss_mb", "shared_dir"]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    from emogen.common.device import peak_rss_mib

    return peak_rss_mib()


def machine_line(device: object = "cpu") -> str:
    """Which machine a figure comes from: the CPU model, its instruction-set kind (AVX512_BF16 / AMX / AVX-512 /
    AVX2) and any oneDNN cap (ONEDNN_MAX_CPU_ISA) that makes it run as an older CPU; the GPU's name on CUDA."""
    import torch

    from emogen.common.precision import cpu_info, isa_cap

    model, flags = cpu_info()
    model = model or "CPU"
    kind = (
        "AMX"
        if "amx_bf16" in flags
        else "AVX512_BF16"
        if "avx512_bf16" in flags
        else "AVX-512"
        if "avx512f" in flags
        else "AVX2"
        if "avx2" in flags
        else "no AVX2"
    )
    cap = isa_cap()
    line = (
        f"{model}, {os.cpu_count()} cores, {kind}"
        + (f", capped to {cap} by ONEDNN_MAX_CPU_ISA" if cap else "")
        + f"; torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    if str(device).startswith("cuda"):
        line += f"; GPU {torch.cuda.get_device_name()}"
    return line
