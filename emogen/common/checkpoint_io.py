"""Reading and writing model checkpoints safely (one loader for every script).

Accepted formats: ``{"state_dict": ..., "optimizer": ..., "global_step": ..., "global_epoch": ...}`` as the
original training scripts write, or a bare state_dict. A ``module.`` prefix (DataParallel / DDP) is
stripped. Loading always uses ``torch.load(weights_only=True)``: a checkpoint is a pickle, and one that
would run code when unpickled is refused.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from typing import TYPE_CHECKING, Any, Mapping, Optional

from .atomic import atomic_path
from .errors import UserError, one_line
from .weights import identify_state_dict

if TYPE_CHECKING:
    import torch
    from torch import nn


class CheckpointError(UserError):
    """A checkpoint that is missing, unreadable, unsafe, or made for another model."""


def check_checkpoint_path(path: str) -> None:
    """A CheckpointError unless ``path`` names an existing file (a folder is called a folder)."""
    if path and os.path.isdir(path):
        raise CheckpointError(f"checkpoint {path} is a folder; pass the checkpoint file inside it")
    if not path or not os.path.isfile(path):
        raise CheckpointError(f"checkpoint file not found: {path}")


MAX_PICKLE_BYTES = 64 << 20  # a state dict's pickle only names its tensors: kilobytes, a few MB at most
MAX_INFLATION = 20  # torch.save stores its members uncompressed; a member that inflates far more is a bomb


def check_declared_sizes(path: str) -> None:
    """A CheckpointError, before anything is inflated, for a zip whose members declare more than a checkpoint can
    hold: a pickle above MAX_PICKLE_BYTES, or a compressed member that would grow over MAX_INFLATION times."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({one_line(exc, 200)})") from None
    for info in members:
        grows = info.compress_type != zipfile.ZIP_STORED and info.file_size > MAX_INFLATION * max(info.compress_size, 1)
        if (info.filename.endswith(".pkl") and info.file_size > MAX_PICKLE_BYTES) or (
            grows and info.file_size > 1 << 20
        ):
            raise CheckpointError(
                f"{path} is not a checkpoint: its member {info.filename} declares {info.file_size / 2**20:.0f} MB "
                f"unpacked from {info.compress_size / 2**20:.1f} MB (a zip bomb); nothing was unpacked"
            )


def read_checkpoint(path: str, map_location: Any = "cpu") -> Any:
    """Load a checkpoint file with ``weights_only=True``; problems become one readable CheckpointError."""
    import torch  # here, not at import: an OpenVINO run on a cached model never loads torch

    check_checkpoint_path(path)
    with open(path, "rb") as handle:
        head = handle.read(4)
    # A checkpoint is a zip archive (torch.save) or a pickle (protocol 2+ starts with 0x80); anything else (a text
    # file, an HTML error page saved as .pth) is no checkpoint at all, which is a different fix from an unsafe one.
    if not (head.startswith(b"PK") or head[:1] == b"\x80"):
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint: neither a torch.save zip archive nor a "
            f"pickle ({os.path.getsize(path)} bytes starting with {head!r}); download it again"
        )
    if head.startswith(b"PK"):
        check_declared_sizes(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} holds more than plain weights: unpickling it could run code, so it was refused "
            f"(torch says: {one_line(exc, 200)}). Use a checkpoint from a trusted source saved as tensors only."
        ) from None
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({one_line(exc, 200)})") from None


def strip_module_prefix(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Remove the leading ``module.`` that DataParallel / DDP add to every key."""
    out = {}
    for key, value in state_dict.items():
        while key.startswith("module."):
            key = key[len("module.") :]
        out[key] = value
    return out


def state_dict_from_checkpoint(checkpoint: Any, path: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The model weights inside a loaded checkpoint (training dict or bare state_dict), prefix stripped."""
    import torch

    if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("state_dict"), Mapping):
        checkpoint = checkpoint["state_dict"]
    if (
        not isinstance(checkpoint, Mapping)
        or not checkpoint
        or not all(isinstance(v, torch.Tensor) for v in checkpoint.values())
    ):
        raise CheckpointError(f"{path} holds no state_dict of tensors (found {type(checkpoint).__name__})")
    return strip_module_prefix(checkpoint)


def _shapes_fit(found: torch.Tensor, wanted: torch.Tensor) -> bool:
    # torch itself accepts a one-element 1-d tensor for a 0-d buffer (old num_batches_tracked files).
    return found.shape == wanted.shape or (wanted.dim() == 0 and found.shape == (1,))


def _mismatch_report(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> Optional[str]:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    misshaped = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and not _shapes_fit(state_dict[k], v)
    ]
    if not (missing or unexpected or misshaped):
        return None

    def head(items: list[str]) -> str:
        return ", ".join(items[:4]) + (f" (+{len(items) - 4} more)" if len(items) > 4 else "")

    parts = []
    if missing:
        parts.append(f"{len(missing)} missing: {head(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected: {head(unexpected)}")
    if misshaped:
        parts.append(f"{len(misshaped)} mis-shaped (file vs model): {head(misshaped)}")
    return "; ".join(parts)


def nonfinite_tensors(state_dict: Mapping[str, Any]) -> list[str]:
    """The names of the floating-point tensors that hold a NaN or an infinity."""
    import torch

    return [k for k, v in state_dict.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def load_weights(model: nn.Module, path: str, model_name: str, map_location: Any = "cpu") -> dict[str, Any]:
    """Load ``path`` into ``model`` (strict); return the whole checkpoint dict (step, optimizer...) for resuming.

    A file made for another network raises a CheckpointError naming the model, the file, what the file looks
    like and the missing / unexpected / mis-shaped keys.
    """
    checkpoint = read_checkpoint(path, map_location)
    state_dict = state_dict_from_checkpoint(checkpoint, path)
    target = model.module if hasattr(model, "module") else model
    report = _mismatch_report(target, state_dict)
    if report:
        raise CheckpointError(
            f"{path} does not fit the {model_name}: it looks like {identify_state_dict(state_dict)}. {report}"
        )
    broken = nonfinite_tensors(state_dict)
    if broken:
        raise CheckpointError(
            f"{path} holds NaN or infinite weights in {len(broken)} of {len(state_dict)} tensors (first: "
            f"{broken[0]}): it was saved from a run that diverged; use an earlier checkpoint"
        )
    target.load_state_dict(state_dict, strict=True)
    return checkpoint if isinstance(checkpoint, dict) and "state_dict" in checkpoint else {"state_dict": state_dict}


def save_payload(path: str, payload: Any) -> None:
    """torch.save ``payload`` atomically (temporary file in the same folder, flushed, then renamed)."""
    import torch

    with atomic_path(path, suffix=".tmp") as tmp:
        with open(tmp, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())


def save_checkpoint(
    path: str,
    model: nn.Module,
    optimizer: Optional[torch.optim.Optimizer] = None,
    global_step: int = 0,
    global_epoch: int = 0,
    **extra: Any,
) -> None:
    """Write the standard checkpoint dict atomically (temporary file in the same folder, then rename)."""
    target = model.module if hasattr(model, "module") else model
    payload: dict[str, Any] = {
        "state_dict": target.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "global_step": int(global_step),
        "global_epoch": int(global_epoch),
    }
    payload.update(extra)
    save_payload(path, payload)


def save_state_dict(path: str, model: nn.Module) -> None:
    """Write a bare state_dict atomically (what the original emotion_disc_train.py writes), no ``module.``."""
    save_payload(path, (model.module if hasattr(model, "module") else model).state_dict())
