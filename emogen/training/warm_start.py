"""Starting EmoGen's generator from another generator's weights: an EmoGen checkpoint as it is, or one of
Wav2Lip's public generators (wav2lip.pth, wav2lip_gan.pth), which share all but the emotion pathway."""

from __future__ import annotations

import torch
from torch import nn

from emogen.common.checkpoint_io import (
    CheckpointError,
    load_weights,
    nonfinite_tensors,
    read_checkpoint,
    state_dict_from_checkpoint,
)
from emogen.common.generator_kind import EMOGEN, EMOTION_FILM, kind_of_state_dict, uses_emotion_film

# The decoder's first convolution: 512 output channels over [audio embedding (512), emotion embedding (512)] in
# EmoGen, over the audio embedding alone in Wav2Lip.
FIRST_DECODER_WEIGHT = "face_decoder_blocks.0.0.conv_block.0.weight"


def warm_start(model: nn.Module, path: str) -> str:
    """Load ``path`` into the EmoGen generator ``model`` and return the kind it came from (EMOGEN or WAV2LIP).

    From Wav2Lip every shared tensor is copied; the first decoder convolution gets Wav2Lip's weights in its audio
    half and zeros in its emotion half, and the emotion encoder keeps its initialisation. The emotion then adds
    nothing at first: the network starts out as that Wav2Lip generator for every emotion, and training has to
    learn the emotion and EmoGen's whole-face masking (Wav2Lip masks only the lower half).

    A generator with the emotion_film option started from one without it keeps those layers at zero, so it too
    starts out as the generator it came from."""
    state = state_dict_from_checkpoint(read_checkpoint(path), path)
    kind = kind_of_state_dict(state)
    target = model.module if hasattr(model, "module") else model
    if kind == EMOGEN and uses_emotion_film(state) == hasattr(target, EMOTION_FILM):
        load_weights(model, path, "EmoGen generator")
        return kind
    broken = nonfinite_tensors(state)
    if broken:
        raise CheckpointError(f"{path} holds NaN or infinite weights ({broken[0]} and {len(broken) - 1} more)")
    own = target.state_dict()
    merged = dict(own)
    for key, value in state.items():
        if key == FIRST_DECODER_WEIGHT and key in own and own[key].shape[1] > value.shape[1]:
            widened = torch.zeros_like(own[key])
            widened[:, : value.shape[1]] = value
            merged[key] = widened
        elif key in own and (own[key].shape == value.shape or (own[key].dim() == 0 and value.numel() == 1)):
            merged[key] = value.reshape(own[key].shape)  # old files keep BatchNorm's step count as shape (1,)
        else:
            raise CheckpointError(f"{path}: {key} {tuple(value.shape)} has no place in the EmoGen generator")
    target.load_state_dict(merged, strict=True)
    return kind
