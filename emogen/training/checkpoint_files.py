"""Checkpoint files of the training scripts: names, finding the newest, saving on rank 0, exact resume."""

from __future__ import annotations

import glob
import os
import re
from typing import Any, Optional

import torch
from torch import nn

from emogen.common.checkpoint_io import load_weights, read_checkpoint, save_checkpoint, save_payload, save_state_dict
from emogen.common.errors import UserError

from .distributed import is_main_process
from .state import TrainState

DISC_PREFIX = "disc_emo_"  # train.py's emotion-discriminator checkpoints beside the generator's, as the original


def checkpoint_name(checkpoint_dir: str, step: int, prefix: str = "") -> str:
    """<dir>/<prefix>checkpoint_step000000123.pth, the original's naming."""
    return os.path.join(checkpoint_dir, f"{prefix}checkpoint_step{step:09d}.pth")


def _steps(checkpoint_dir: str, prefix: str = "") -> list[tuple[int, str]]:
    """(step, path) of every <prefix>checkpoint_step<N>.pth in a folder."""
    pattern = re.compile(re.escape(prefix) + r"checkpoint_step(\d{9})\.pth")
    return [
        (int(m.group(1)), p)
        for p in glob.glob(os.path.join(glob.escape(checkpoint_dir), f"{prefix}checkpoint_step*.pth"))
        if (m := pattern.fullmatch(os.path.basename(p)))
    ]


def latest_checkpoint(checkpoint_dir: str, prefix: str = "") -> Optional[str]:
    """The highest-step checkpoint with ``prefix`` in a folder, or None."""
    found = _steps(checkpoint_dir, prefix)
    return max(found)[1] if found else None


def latest_with_partner(checkpoint_dir: str, partner_prefix: str) -> Optional[str]:
    """The highest-step checkpoint that has its ``partner_prefix`` twin of the same step beside it (a run killed
    between the two saves leaves one without), or None when none has."""
    found = [
        (step, p)
        for step, p in _steps(checkpoint_dir)
        if os.path.isfile(os.path.join(checkpoint_dir, partner_prefix + os.path.basename(p)))
    ]
    return max(found)[1] if found else None


# The hidden names atomic_path gives checkpoints while they are written: .<name>.pth.<random>.tmp
_TEMPORARY = re.compile(r"\..+\.pth\.[A-Za-z0-9_]+\.tmp$")


def remove_stale_temporaries(folder: str) -> int:
    """Delete the hidden partial checkpoints a killed save left in ``folder`` (SIGKILL gives no chance to clean
    up; each is as large as a checkpoint); returns how many bytes went. Run before a run saves anything."""
    freed = 0
    if not is_main_process() or not os.path.isdir(folder):
        return 0
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False) and _TEMPORARY.match(entry.name):
            try:
                size = entry.stat(follow_symlinks=False).st_size
                os.remove(entry.path)
                freed += size
            except OSError:
                continue
    if freed:
        print(f"removed {freed / 2**20:.0f} MiB of partial checkpoints an interrupted save left in {folder}")
    return freed


def checkpoint_to_resume(checkpoint_dir: str, requested: Optional[str], prefix: str = "") -> Optional[str]:
    """The checkpoint to resume from: the requested path, the newest one for 'latest', or None for a fresh run.

    A fresh run into a folder that already holds checkpoints is refused, so nothing is overwritten by mistake.
    """
    newest = latest_checkpoint(checkpoint_dir, prefix)
    if requested == "latest":
        if newest is None:
            raise UserError(f"--checkpoint_path latest: no {prefix}checkpoint_step*.pth in {checkpoint_dir}")
        return newest
    if requested is None and newest is not None:
        raise UserError(
            f"{checkpoint_dir} already holds checkpoints ({os.path.basename(newest)}); pass "
            "--checkpoint_path latest to resume, or choose another --checkpoint_dir"
        )
    return requested


def save_training_checkpoint(
    path: str,
    model: nn.Module,
    optimizer: Optional[torch.optim.Optimizer],
    state: TrainState,
    save_optimizer: bool = True,
    **extra: Any,
) -> None:
    """Rank 0 writes the standard checkpoint dict atomically."""
    if is_main_process():
        save_checkpoint(
            path, model, optimizer if save_optimizer else None, state.global_step, state.global_epoch, **extra
        )
        print(f"saved checkpoint {path}")
    state.saved_step = state.global_step


def resume(
    path: str,
    model: nn.Module,
    optimizer: Optional[torch.optim.Optimizer],
    state: TrainState,
    model_name: str,
    map_location: Any,
) -> dict:
    """Restore model, optimizer, step and epoch exactly from a checkpoint; returns the checkpoint dict."""
    ckpt = load_weights(model, path, model_name, map_location=map_location)
    if optimizer is not None and ckpt.get("optimizer") is not None:
        try:
            optimizer.load_state_dict(ckpt["optimizer"])
        except (ValueError, KeyError) as exc:
            raise UserError(f"{path}: optimizer state does not fit ({exc})") from None
    state.global_step = int(ckpt.get("global_step", 0))
    state.global_epoch = int(ckpt.get("global_epoch", 0))
    print(f"resumed from {path} at step {state.global_step}, epoch {state.global_epoch}")
    return ckpt


_NAME = re.compile(r"disc_emo_(\d+)\.pth$")


def emotion_checkpoint_name(out_path: str, step: int) -> str:
    """<out>/disc_emo_<step>.pth, the original's naming."""
    return os.path.join(out_path, f"disc_emo_{step}.pth")


def resume_state_name(weights_path: str) -> str:
    """The resume file written beside a disc_emo_<N>.pth."""
    return weights_path[: -len(".pth")] + ".state.pth"


def emotion_checkpoints(out_path: str) -> list[str]:
    """The disc_emo_<N>.pth files of a folder, lowest N first (resume files excluded)."""
    found = [
        (int(m.group(1)), p)
        for p in glob.glob(os.path.join(glob.escape(out_path), "disc_emo_*.pth"))
        if (m := _NAME.search(os.path.basename(p)))
    ]
    return [p for _, p in sorted(found)]


def latest_emotion_checkpoint(out_path: str) -> Optional[str]:
    """The newest disc_emo_<N>.pth of a folder, or None."""
    files = emotion_checkpoints(out_path)
    return files[-1] if files else None


def save_emotion_checkpoint(
    out_path: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: TrainState,
) -> str:
    """Write disc_emo_<N>.pth (bare state_dict, N = steps done - 1 as the original counts) and its resume file."""
    path = emotion_checkpoint_name(out_path, max(0, state.global_step - 1))
    if is_main_process():
        # The resume file first: the weights file is what marks a save as complete, so a kill between the two
        # leaves the previous pair as the newest.
        save_payload(
            resume_state_name(path),
            {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "global_step": state.global_step,
                "global_epoch": state.global_epoch,
            },
        )
        save_state_dict(path, model)
        print(f"saved checkpoint {path}")
    state.saved_step = state.global_step
    return path


def resume_emotion_disc(
    path: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: TrainState,
    map_location,
) -> None:
    """Continue from disc_emo_<N>.pth: weights, and the optimizer, scheduler, step and epoch from its resume file
    (a file from the original code has none: then only the weights and the step N + 1 are restored)."""
    load_weights(model, path, "emotion discriminator", map_location=map_location)
    extra = resume_state_name(path)
    if os.path.isfile(extra):
        ckpt = read_checkpoint(extra, map_location)
        if ckpt.get("optimizer") is not None:
            optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scheduler"):
            scheduler.load_state_dict(ckpt["scheduler"])
        state.global_step, state.global_epoch = int(ckpt["global_step"]), int(ckpt["global_epoch"])
    else:
        state.global_step = int(_NAME.search(os.path.basename(path)).group(1)) + 1
        print(f"note: {os.path.basename(extra)} not found; resuming the weights only (fresh optimizer, epoch 0)")
    print(f"resumed from {path} at step {state.global_step}, epoch {state.global_epoch}")
