"""The generator of a run: loading an official-format checkpoint, and the batch size per device."""
from __future__ import annotations

import torch

from emogen.common.checkpoint_io import load_weights
from models import Wav2Lip


def default_batch_size(device: torch.device) -> int:
    """Generator batch: 256 on CUDA as the original; 32 on CPU, which keeps activations in cache-friendly sizes."""
    return 256 if device.type == "cuda" else 32


def load_generator(path: str, device: torch.device) -> Wav2Lip:
    """The EmoGen generator from an official-format checkpoint, in eval mode on ``device``."""
    model = Wav2Lip()
    load_weights(model, path, "EmoGen generator", map_location="cpu")
    return model.to(device).eval()
