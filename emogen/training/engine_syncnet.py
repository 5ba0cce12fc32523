"""Training the lip-sync expert (SyncNet_color): BCE of the cosine similarity, on EmoGen's or Wav2Lip's schedule.

EmoGen's script (the default) evaluates once per epoch and saves every 50 epochs (its step-based calls are
commented out); Wav2Lip's evaluates and saves every N steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from .checkpoint_files import checkpoint_name, save_training_checkpoint
from .distributed import all_reduce_mean, is_main_process
from .loop import LoopConfig, TrainSummary, run_training
from .losses import cosine_loss
from .mixed_precision import FP32, MixedPrecision
from .scalar_log import ScalarLog
from .state import TrainState


@dataclass
class SyncTrainConfig:
    """Where to save and how often to evaluate and checkpoint."""

    checkpoint_dir: str
    checkpoint_interval: int
    eval_interval: int
    eval_batches: int
    save_optimizer: bool = True
    schedule: str = "emogen"  # "emogen": per epoch; "wav2lip": per step
    save_every_epochs: int = 50  # EmoGen schedule: checkpoint when epoch % this == 0 (epoch 0 included)


SCHEDULES = ("emogen", "wav2lip")


def evaluate_syncnet(model: nn.Module, loader: DataLoader, device: torch.device, max_batches: int) -> float:
    """Mean expert loss over at most ``max_batches`` validation batches."""
    model.eval()
    losses = []
    with torch.no_grad():
        for i, (x, mel, y) in enumerate(loader):
            if i >= max_batches:
                break
            a, v = model(mel.to(device), x.to(device))
            losses.append(cosine_loss(a, v, y.to(device)).item())
    model.train()
    return all_reduce_mean(sum(losses) / max(1, len(losses)), device)


def train_syncnet(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: DataLoader,
    val_loader: Optional[DataLoader],
    state: TrainState,
    cfg: SyncTrainConfig,
    loop: LoopConfig,
    device: torch.device,
    log: ScalarLog,
    amp: Optional[MixedPrecision] = None,
) -> TrainSummary:
    """Train until ``loop`` stops; checkpoints and evaluation at the configured intervals."""
    amp = amp or MixedPrecision(FP32, device)

    def save(reason: str = "") -> None:
        save_training_checkpoint(
            checkpoint_name(cfg.checkpoint_dir, state.global_step), model, optimizer, state, cfg.save_optimizer
        )

    def step(batch) -> dict[str, float]:
        x, mel, y = (t.to(device) for t in batch)
        model.train()
        optimizer.zero_grad()
        with amp.forward():
            a, v = model(mel, x)
        loss = cosine_loss(a, v, y)
        amp.step(loss, optimizer)
        return {"loss": loss.item()}

    def validate() -> None:
        val = evaluate_syncnet(model, val_loader, device, cfg.eval_batches)
        log.add("Loss/val", val, state.global_step)
        if is_main_process():
            tqdm.write(f"step {state.global_step}: validation loss {val:.4f}")

    def after(losses: dict[str, float]) -> None:
        log.add("Loss/train", losses["loss"], state.global_step)
        if cfg.schedule != "wav2lip":
            return
        if state.global_step == 1 or state.global_step % cfg.checkpoint_interval == 0:
            save()
        if val_loader is not None and state.global_step % cfg.eval_interval == 0:
            validate()

    def end_epoch(means: dict[str, float], batches: int) -> None:
        log.add("Loss/train_epoch", means.get("loss", 0.0), state.global_epoch)
        if cfg.schedule != "emogen":
            return
        if val_loader is not None:
            validate()
        if state.global_epoch % cfg.save_every_epochs == 0:
            save()

    return run_training(train_loader, state, loop, step, after, end_epoch, save)
