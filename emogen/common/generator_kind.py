"""Which generator a checkpoint holds: EmoGen's (face, speech and a one-hot emotion) or the original Wav2Lip's
(face and speech; it regenerates the lower half of the face only). Read from the state_dict's key names."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from functools import lru_cache

from .checkpoint_io import CheckpointError, read_checkpoint, state_dict_from_checkpoint
from .weights import EMOTION_FILM, WEIGHTS

EMOGEN = "emogen"
WAV2LIP = "wav2lip"
LIPSYNC = "lipsync"  # the output label of a generator without emotions (results/lipsync.mp4)


def uses_emotion_film(state_dict: Mapping[str, object]) -> bool:
    """Whether an EmoGen state_dict holds the per-scale emotion layers of the emotion_film option."""
    return any(k.split(".", 1)[0] == EMOTION_FILM for k in state_dict)


def kind_of_state_dict(state_dict: Mapping[str, object]) -> str:
    """EMOGEN or WAV2LIP for a generator's state_dict; a CheckpointError for any other network."""
    if WEIGHTS["emogen_generator"].matches(state_dict):
        return EMOGEN
    if WEIGHTS["wav2lip_generator"].matches(state_dict):
        return WAV2LIP
    from .weights import identify_state_dict

    raise CheckpointError(
        f"this checkpoint is not a generator: it looks like {identify_state_dict(state_dict)}; pass an EmoGen or a "
        "Wav2Lip generator"
    )


def _sniff_zip(path: str) -> tuple[str, bool] | None:
    """The kind and whether it uses emotion_film, from the key names in a torch.save archive's pickle, without
    loading torch (None: not a zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
            if name is None:
                return None
            pickled = archive.read(name)
    except (zipfile.BadZipFile, OSError):
        return None
    if b"face_decoder_blocks" not in pickled:
        return None
    if b"emotion_encoder" not in pickled:
        return WAV2LIP, False
    return EMOGEN, EMOTION_FILM.encode() in pickled


@lru_cache(maxsize=32)
def _layout(path: str, size: int, mtime: float) -> tuple[str, bool]:
    sniffed = _sniff_zip(path)
    if sniffed is not None:
        return sniffed
    state_dict = state_dict_from_checkpoint(read_checkpoint(path), path)
    return kind_of_state_dict(state_dict), uses_emotion_film(state_dict)


def generator_layout(path: str) -> tuple[str, bool]:
    """(EMOGEN or WAV2LIP, whether it uses emotion_film) for the generator checkpoint at ``path`` (a torch.save
    archive is read without torch)."""
    stat = os.stat(path)
    return _layout(os.path.abspath(path), stat.st_size, stat.st_mtime)


def generator_kind(path: str) -> str:
    """EMOGEN or WAV2LIP for the generator checkpoint at ``path`` (a torch.save archive is read without torch)."""
    return generator_layout(path)[0]
