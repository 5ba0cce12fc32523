"""The generator of a run: loading an official-format checkpoint, and the network that runs it (PyTorch in the
precision's layout, or a cached OpenVINO conversion, float32/bfloat16 or int8), and the batch size per device."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from typing import TYPE_CHECKING, Callable, Optional, Union

from emogen.common.checkpoint_io import check_checkpoint_path, load_weights
from emogen.common.digest import file_digest
from emogen.common.errors import UserError
from emogen.common.generator_kind import EMOGEN, WAV2LIP, generator_kind, generator_layout
from emogen.common.openvino_runtime import (
    OpenVINONetwork,
    cache_writable,
    cached_model,
    cached_model_exists,
    convert_module,
    inference_hint,
)
from emogen.common.precision import Precision, native_bf16

from . import int8_fidelity
from .int8_fidelity import cached_fidelity, passes, summary

if TYPE_CHECKING:
    import torch

    from models import Wav2Lip

# Input shapes the converted generator accepts (-1: the batch varies; the last batch of a video is shorter); a
# Wav2Lip generator takes the first two (no emotion).
INPUT_SHAPES = ((-1, 1, 80, 16), (-1, 6, 96, 96), (-1, 6))
LABELS = {EMOGEN: "the EmoGen generator", WAV2LIP: "the Wav2Lip generator"}

# torch is imported only where a run needs it: an OpenVINO run on a cached conversion never does.
Generator = Union["torch.nn.Module", OpenVINONetwork]


def default_batch_size(device: torch.device) -> int:
    """Generator batch: 256 on CUDA as the original; 32 on CPU, which keeps activations in cache-friendly sizes."""
    return 256 if device.type == "cuda" else 32


def load_generator(path: str, device: torch.device) -> Wav2Lip:
    """The generator of an official-format checkpoint, EmoGen's or the original Wav2Lip's (recognised from its
    keys), in eval mode on ``device``."""
    from models import Wav2Lip

    kind, emotion_film = generator_layout(path)
    model = Wav2Lip(emotion=kind == EMOGEN, emotion_film=emotion_film)
    load_weights(model, path, "EmoGen generator" if kind == EMOGEN else "Wav2Lip generator", map_location="cpu")
    return model.to(device).eval()


def has_emotion(model: Generator) -> bool:
    """Whether a generator takes a one-hot emotion (EmoGen) or not (Wav2Lip)."""
    return getattr(model, "has_emotion", True)


def prepare_model(model: torch.nn.Module, precision: Precision) -> torch.nn.Module:
    """The weights in the precision's layout: channels_last (faster), or the default layout for exact fp32."""
    import torch

    return model.to(memory_format=torch.channels_last if precision.channels_last else torch.contiguous_format)


def precision_label(model: Generator, precision: Precision) -> str:
    """What a run reports as its precision: the resolved one, or the model's own (auto may have become int8)."""
    return getattr(model, "precision_name", "") or precision.name


def example_inputs(batch: int = 2, emotion: bool = True) -> tuple[torch.Tensor, ...]:
    """Inputs of the generator's shapes (for tracing; the values do not matter)."""
    import torch

    inputs = (torch.zeros(batch, 1, 80, 16), torch.zeros(batch, 6, 96, 96), torch.eye(6)[[3] * batch])
    return inputs if emotion else inputs[:2]


def build_generator(
    path: str,
    device: torch.device,
    precision: Precision,
    backend: str,
    cache_dir: Optional[str] = None,
    calibration: Optional[Callable[[], list]] = None,
    check: Optional[Callable[[], list]] = None,
) -> Generator:
    """The network a run calls: ``backend`` 'torch' gives the module in the precision's layout; 'openvino' the
    checkpoint converted once (cached by the file's hash, the runtime version and the variant) and compiled for
    the precision. int8 quantizes that conversion once, calibrated by ``calibration`` and compared with float32
    on ``check`` (defaults: the example video's face crops and mels, see int8_calibration); a precision that
    prefers int8 (auto on a CPU without bfloat16) gets it only when that comparison passes."""
    if backend == "torch":
        return prepare_model(load_generator(path, device), precision)
    check_checkpoint_path(path)
    digest = file_digest(path)
    kind = generator_kind(path)
    emotion = kind == EMOGEN
    network = _network_of(kind)

    def convert():
        return convert_module(
            load_generator(path, "cpu"), example_inputs(emotion=emotion), INPUT_SHAPES[: 3 if emotion else 2]
        )

    xml = cached_model(network, digest, "f32", convert, cache_dir, LABELS[kind])
    if precision.name == "int8":
        int8, values = _int8_model(xml, digest, cache_dir, calibration, check, kind)
        if not passes(values):
            print(
                f"warning: the int8 generator stays {summary(values)} from float32 on the example video, under "
                f"the {int8_fidelity.INT8_MIN_PSNR_DB:g} dB the defaults require; --precision bf16 or fp32-cl "
                "are closer",
                file=sys.stderr,
            )
        return _marked(OpenVINONetwork(xml=int8, hint=inference_hint(native_bf16(device)), precision_name="int8"), kind)
    if precision.int8_if_faithful:
        int8 = faithful_int8(xml, digest, cache_dir, calibration, check, kind, instead_of=precision.name)
        if int8 is not None and (precision.name != "bf16" or _int8_faster(xml, int8, check, kind)):
            return _marked(OpenVINONetwork(xml=int8, hint="f32", precision_name="int8"), kind)
    return _marked(OpenVINONetwork(xml, inference_hint(precision.name == "bf16"), precision_name=precision.name), kind)


def _network_of(kind: str) -> str:
    """The model cache's name for a generator kind (the two convert to different graphs)."""
    return "generator" if kind == EMOGEN else "wav2lip_generator"


def _marked(network: OpenVINONetwork, kind: str) -> OpenVINONetwork:
    network.has_emotion = kind == EMOGEN
    return network


def faithful_int8(
    xml: str,
    digest: str,
    cache_dir: Optional[str],
    calibration: Optional[Callable[[], list]],
    check: Optional[Callable[[], list]],
    kind: str = EMOGEN,
    instead_of: str = "fp32-cl",
) -> Optional[str]:
    """The int8 generator --precision auto may run on a CPU in place of ``instead_of`` (fp32-cl, or bf16 where
    native): its path when NNCF (or a cached model) makes one and it stays within INT8_MIN_PSNR_DB of float32
    for every emotion; None (``instead_of`` then) when it does not, with one line saying why."""
    other = "float32" if instead_of == "fp32-cl" else "bfloat16"
    fresh = not cached_model_exists(_network_of(kind), digest, "int8", cache_dir)
    if fresh and importlib.util.find_spec("nncf") is None:
        print(
            f"note: without NNCF the generator runs in {other} here; pip install nncf (it is in requirements.txt) "
            "lets --precision auto quantize it to int8, faster on most CPUs",
            file=sys.stderr,
        )
        return None
    if fresh and not cache_writable(cache_dir):
        print(
            f"note: the model cache cannot be written, so --precision auto runs the generator in {other} here "
            "(int8 would be quantized again on every run); set EMOGEN_MODEL_CACHE_DIR to a writable folder",
            file=sys.stderr,
        )
        return None
    if fresh:
        timed = "" if instead_of == "fp32-cl" else " and timed against bfloat16"
        print(
            "--precision auto: the generator is quantized to int8 once per checkpoint (about 20 s) and compared "
            f"with float32 on the example video{timed}; later runs read it from the model cache",
            file=sys.stderr,
        )
    int8, values = _int8_model(xml, digest, cache_dir, calibration, check, kind)
    if not passes(values):
        print(
            f"note: the int8 generator stays {summary(values)} from float32 for this checkpoint, under "
            f"{int8_fidelity.INT8_MIN_PSNR_DB:g} dB, so --precision auto runs it in {other} ({instead_of})",
            file=sys.stderr,
        )
        return None
    if fresh:
        print(
            f"int8 stays {summary(values)} PSNR from float32 (at least {int8_fidelity.INT8_MIN_PSNR_DB:g} dB "
            "needed)" + (": auto runs int8 (--precision fp32-cl for float32)" if instead_of == "fp32-cl" else ""),
            file=sys.stderr,
        )
    return int8


def _int8_faster(xml: str, int8: str, check: Optional[Callable[[], list]], kind: str) -> bool:
    """Whether the int8 model generates faces faster than the float32 one compiled in bfloat16 on this machine
    (measured once on the check batches, kept beside the int8 model); says which auto runs when first measured."""
    speed, fresh = int8_fidelity.cached_speed(xml, int8, check or (lambda: _example_check(kind)))
    faster = speed["int8"] > speed["bf16"]
    if fresh:
        choice = "int8" if faster else "bf16"
        print(
            f"int8 {speed['int8']:.0f} faces/s, bfloat16 {speed['bf16']:.0f} faces/s on this CPU: auto runs {choice} "
            "(--precision bf16 or int8 to choose)",
            file=sys.stderr,
        )
    return faster


def _int8_model(
    xml: str,
    digest: str,
    cache_dir: Optional[str],
    calibration: Optional[Callable[[], list]],
    check: Optional[Callable[[], list]],
    kind: str = EMOGEN,
) -> tuple[str, dict[str, float]]:
    """The cached int8 generator (quantized now if missing) and its per-emotion PSNR from float32."""
    int8 = cached_model(
        _network_of(kind), digest, "int8", lambda: quantize_int8(xml, calibration, kind), cache_dir, LABELS[kind]
    )
    return int8, cached_fidelity(xml, int8, check or (lambda: _example_check(kind)))


def quantize_int8(xml: str, calibration: Optional[Callable[[], list]] = None, kind: str = EMOGEN):
    """The float32 OpenVINO generator at ``xml`` quantized to int8 by NNCF's post-training quantization."""
    import logging

    # NNCF imports torch's C++-extension helper, which warns that there is no CUDA runtime: true and irrelevant.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    try:
        import nncf
    except ImportError:
        raise UserError.about(
            "precision",
            "int8 quantizes the generator once with NNCF, which is not installed: "
            "pip install nncf (it is in requirements.txt), or choose another --precision",
        ) from None
    import openvino as ov

    from .int8_calibration import example_calibration_batches

    batches = calibration() if calibration else example_calibration_batches(kind)
    model = ov.Core().read_model(xml)
    # NNCF draws its progress bars on stdout, which belongs to the script's results.
    with contextlib.redirect_stdout(sys.stderr):
        return nncf.quantize(model, nncf.Dataset(batches), subset_size=len(batches))


def _example_check(kind: str = EMOGEN) -> list:
    # Imported on first use: building these inputs needs the face detectors and the audio front end.
    from .int8_calibration import example_check_batches

    return example_check_batches(kind)
