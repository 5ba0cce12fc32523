"""The generator of a run: loading an official-format checkpoint, and the network that runs it (PyTorch in the
precision's layout, or a cached OpenVINO conversion, float32/bfloat16 or int8), and the batch size per device."""
from __future__ import annotations

from typing import Callable, Optional, Union

import torch

from emogen.common.checkpoint_io import check_checkpoint_path, load_weights
from emogen.common.digest import file_digest
from emogen.common.errors import UserError
from emogen.common.openvino_runtime import OpenVINONetwork, cached_model, convert_module, inference_hint
from emogen.common.precision import Precision, native_bf16
from models import Wav2Lip

# Input shapes the converted generator accepts (-1: the batch varies; the last batch of a video is shorter).
INPUT_SHAPES = ((-1, 1, 80, 16), (-1, 6, 96, 96), (-1, 6))

Generator = Union[torch.nn.Module, OpenVINONetwork]


def default_batch_size(device: torch.device) -> int:
    """Generator batch: 256 on CUDA as the original; 32 on CPU, which keeps activations in cache-friendly sizes."""
    return 256 if device.type == "cuda" else 32


def load_generator(path: str, device: torch.device) -> Wav2Lip:
    """The EmoGen generator from an official-format checkpoint, in eval mode on ``device``."""
    model = Wav2Lip()
    load_weights(model, path, "EmoGen generator", map_location="cpu")
    return model.to(device).eval()


def prepare_model(model: torch.nn.Module, precision: Precision) -> torch.nn.Module:
    """The weights in the precision's layout: channels_last (faster), or the default layout for exact fp32."""
    return model.to(memory_format=torch.channels_last if precision.channels_last else torch.contiguous_format)


def example_inputs(batch: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs of the generator's shapes (for tracing; the values do not matter)."""
    return torch.zeros(batch, 1, 80, 16), torch.zeros(batch, 6, 96, 96), torch.eye(6)[[3] * batch]


def build_generator(path: str, device: torch.device, precision: Precision, backend: str,
                    cache_dir: Optional[str] = None,
                    calibration: Optional[Callable[[], list]] = None) -> Generator:
    """The network a run calls: ``backend`` 'torch' gives the module in the precision's layout; 'openvino' the
    checkpoint converted once (cached by the file's hash, the runtime version and the variant) and compiled for
    the precision. int8 quantizes that conversion once, calibrated by ``calibration`` (default: the example
    video's face crops and mels, see int8_calibration)."""
    if backend == "torch":
        return prepare_model(load_generator(path, device), precision)
    check_checkpoint_path(path)
    digest = file_digest(path)

    def convert():
        return convert_module(load_generator(path, torch.device("cpu")), example_inputs(), INPUT_SHAPES)

    xml = cached_model("generator", digest, "f32", convert, cache_dir, "the EmoGen generator")
    if precision.name == "int8":
        xml = cached_model("generator", digest, "int8", lambda: quantize_int8(xml, calibration), cache_dir,
                           "the EmoGen generator")
    return OpenVINONetwork(xml, inference_hint(precision.name == "bf16" or (precision.name == "int8"
                                                                            and native_bf16(device))))


def quantize_int8(xml: str, calibration: Optional[Callable[[], list]] = None):
    """The float32 OpenVINO generator at ``xml`` quantized to int8 by NNCF's post-training quantization."""
    try:
        import nncf
    except ImportError:
        raise UserError("--precision int8 quantizes the generator once with NNCF, which is not installed: "
                        "pip install -r requirements-int8.txt (or choose another --precision)") from None
    import openvino as ov

    from .int8_calibration import example_calibration_batches

    batches = (calibration or example_calibration_batches)()
    model = ov.Core().read_model(xml)
    return nncf.quantize(model, nncf.Dataset(batches), subset_size=len(batches))
