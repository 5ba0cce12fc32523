"""Numeric precision and weight layout of the generator: the original's exact float32, float32 with
channels_last weights, or reduced precision where the hardware runs it natively."""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from .errors import UserError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "fp32-cl", "bf16", "fp16", "int8")
TRAINING_PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Precision:
    """What --precision resolved to: a name to print, the autocast dtype's name in torch ('bfloat16', 'float16';
    None: plain float32; a name, so resolving a precision needs no torch import), whether the
    weights use the channels_last layout, and whether an int8 model replaces it where one is faithful enough
    (auto on a CPU; decided per checkpoint when the generator is built: without native bfloat16 a faithful int8
    model always wins, beside bfloat16 only where it also measured faster)."""

    name: str
    dtype: Optional[str]
    channels_last: bool
    int8_if_faithful: bool = False


def add_precision_argument(p, training: bool = False) -> None:
    """The --precision option: of every script that runs the generator, or (``training``) of the trainers."""
    if training:
        default, choices, text = (
            "fp32",
            TRAINING_PRECISIONS,
            (
                "training arithmetic: fp32 (default, the original's), bf16 (autocast, channels_last weights; only where "
                "the device runs bfloat16 natively: a CUDA GPU with bf16, a CPU with AVX512_BF16 or AMX), fp16 (autocast "
                "with a gradient scaler; CUDA only), auto (bf16 where native, else fp32)"
            ),
        )
    else:
        default, choices, text = (
            "auto",
            PRECISIONS,
            (
                "generator arithmetic: auto (default) = on a CPU, int8 on OpenVINO when this checkpoint's int8 model "
                "stays at least 40 dB PSNR from float32 on the example video for every emotion (checked once, on the "
                "first run) and, where bf16 is native, also measured faster than bf16 there; otherwise bf16 where "
                "the device runs it natively (CUDA with bf16, a CPU with AVX512_BF16 or AMX), else fp32-cl; fp32 = the original's exact output; fp32-cl = float32 with channels_last weights "
                "(faster on CPUs; differs from fp32 by under 1e-6, a few pixels by one level); bf16; fp16 (CUDA "
                "only); int8 (OpenVINO on a CPU: the generator quantized once with NNCF, calibrated on the example "
                "video)"
            ),
        )
    p.add_argument("--precision", default=default, choices=choices, help=text)


# oneDNN (inside PyTorch and OpenVINO) runs no instruction set above ONEDNN_MAX_CPU_ISA; these caps exclude bfloat16.
# Setting one (e.g. AVX2) makes a newer CPU run as an older one does: the emulated AVX2-only figures use it.
ISA_CAPS_WITHOUT_BF16 = frozenset(
    {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}
)


def isa_cap() -> str:
    """The instruction-set cap oneDNN reads from ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA); '' when none is set."""
    return (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()


@functools.lru_cache(maxsize=1)
def cpu_info() -> tuple[str, frozenset]:
    """This CPU's model name and instruction-set flags from /proc/cpuinfo on Linux; ("", empty) elsewhere."""
    model, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name") and not model:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = frozenset(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return model, flags


def _cpuinfo_has_bf16() -> bool:
    return bool(cpu_info()[1] & {"avx512_bf16", "amx_bf16"})


def cpu_has_native_bf16() -> bool:
    """True when this CPU has bfloat16 instructions (AVX512_BF16 or AMX, read from /proc/cpuinfo on Linux) and
    ONEDNN_MAX_CPU_ISA does not cap oneDNN below them."""
    return _cpuinfo_has_bf16() and isa_cap() not in ISA_CAPS_WITHOUT_BF16


def native_bf16(device: torch.device) -> bool:
    """True when ``device`` runs bfloat16 natively (a CUDA GPU with bf16, a CPU with AVX512_BF16 or AMX)."""
    if device.type != "cuda":
        return cpu_has_native_bf16()
    import torch

    return torch.cuda.is_bf16_supported()


def resolve_precision(name: Optional[str], device: torch.device) -> Precision:
    """What --precision means on ``device``.

    auto: bfloat16 where the device runs it natively (a CUDA GPU with bf16, a CPU with AVX512_BF16 or AMX);
    elsewhere float32 with channels_last weights, since emulated bfloat16 is several times slower than float32.
    On a CPU either yields to a faithful int8 model where the runtime has one, float32 always and bfloat16 where
    int8 measured faster on this machine (see build_generator).
    """
    name = (name or "auto").lower()
    if name not in PRECISIONS:
        raise UserError.about("precision", f"{name}: choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        if native_bf16(device):
            return Precision("bf16", "bfloat16", True, int8_if_faithful=device.type == "cpu")
        return Precision("fp32-cl", None, True, int8_if_faithful=device.type == "cpu")
    if name == "fp32":
        # The original's layout: channels_last float32 changes results by up to 1e-6, enough to flip a few
        # uint8 pixels, so the exact path keeps the default layout.
        return Precision("fp32", None, False)
    if name == "fp32-cl":
        return Precision("fp32-cl", None, True)
    if name == "int8":
        if device.type != "cpu":
            raise UserError.about("precision", "int8 runs on a CPU (OpenVINO); on CUDA use bf16 or fp16")
        return Precision("int8", None, False)
    if name == "fp16":
        if device.type != "cuda":
            raise UserError.about("precision", "fp16 needs a CUDA device; on a CPU use bf16, fp32-cl or fp32")
        return Precision("fp16", "float16", True)
    return Precision("bf16", "bfloat16", True)


def resolve_training_precision(name: Optional[str], device: torch.device) -> Precision:
    """What a trainer's --precision means on ``device``; reduced precision the device only emulates is refused
    (emulated bfloat16 trains several times slower than float32)."""
    name = (name or "fp32").lower()
    if name not in TRAINING_PRECISIONS:
        raise UserError.about("precision", f"{name}: choose one of {', '.join(TRAINING_PRECISIONS)}")
    if name == "auto":
        name = "bf16" if native_bf16(device) else "fp32"
    if name == "fp16" and device.type != "cuda":
        raise UserError.about(
            "precision",
            "fp16 trains on CUDA only (it needs a gradient scaler and fast float16); use "
            "fp32, or bf16 on a CPU with AVX512_BF16 or AMX",
        )
    if name == "bf16" and not native_bf16(device):
        where = "this GPU" if device.type == "cuda" else "this CPU (no AVX512_BF16 or AMX)"
        raise UserError.about(
            "precision",
            f"bf16: {where} does not run bfloat16 natively, so it would train slower than "
            "fp32; use --precision fp32 (or auto)",
        )
    return resolve_precision(name, device)


def autocast(device: torch.device, dtype: Optional[str]):
    """torch.autocast in the named dtype ('bfloat16', 'float16'), or a no-op context for float32 (None)."""
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=getattr(torch, dtype))
