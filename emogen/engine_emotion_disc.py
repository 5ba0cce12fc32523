"""Training the video emotion discriminator (DISCEMO): cross-entropy on the clip's emotion.

Files as the original writes them: ``disc_emo_<N>.pth`` is a bare state_dict (the original ``train.py`` reads
it with a plain ``load_state_dict(torch.load(path))``), where N is the original's step counter at the save
(the first file is ``disc_emo_0.pth``, written after the first step). What a resume needs beyond the weights
(optimizer, scheduler, step, epoch) goes beside it into ``disc_emo_<N>.state.pth``.
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn
from torch.utils.data import DataLoader

from .train_loop import LoopConfig, run_training
from .training import ScalarLog, TrainState


@dataclass
class EmotionTrainConfig:
    """Output folder and save interval."""

    out_path: str
    save_interval: int = 1000


_NAME = re.compile(r"disc_emo_(\d+)\.pth$")


def emotion_checkpoint_name(out_path: str, step: int) -> str:
    """<out>/disc_emo_<step>.pth, the original's naming."""
    return os.path.join(out_path, f"disc_emo_{step}.pth")


def resume_state_name(weights_path: str) -> str:
    """The resume file written beside a disc_emo_<N>.pth."""
    return weights_path[:-len(".pth")] + ".state.pth"


def emotion_checkpoints(out_path: str) -> list[str]:
    """The disc_emo_<N>.pth files of a folder, lowest N first (resume files excluded)."""
    found = [(int(m.group(1)), p) for p in glob.glob(os.path.join(glob.escape(out_path), "disc_emo_*.pth"))
             if (m := _NAME.search(os.path.basename(p)))]
    return [p for _, p in sorted(found)]


def latest_emotion_checkpoint(out_path: str) -> Optional[str]:
    """The newest disc_emo_<N>.pth of a folder, or None."""
    files = emotion_checkpoints(out_path)
    return files[-1] if files else None


def save_emotion_checkpoint(out_path: str, model: nn.Module, optimizer: torch.optim.Optimizer,
                            scheduler: torch.optim.lr_scheduler.LRScheduler, state: TrainState) -> str:
    """Write disc_emo_<N>.pth (bare state_dict, N = steps done - 1 as the original counts) and its resume file."""
    from .checkpoints import save_payload, save_state_dict
    from .distributed import is_main_process

    path = emotion_checkpoint_name(out_path, max(0, state.global_step - 1))
    if is_main_process():
        save_state_dict(path, model)
        save_payload(resume_state_name(path), {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                               "global_step": state.global_step, "global_epoch": state.global_epoch})
        print(f"saved checkpoint {path}")
    state.saved_step = state.global_step
    return path


def resume_emotion_disc(path: str, model: nn.Module, optimizer: torch.optim.Optimizer,
                        scheduler: torch.optim.lr_scheduler.LRScheduler, state: TrainState, map_location) -> None:
    """Continue from disc_emo_<N>.pth: weights, and the optimizer, scheduler, step and epoch from its resume file
    (a file from the original code has none: then only the weights and the step N + 1 are restored)."""
    from .checkpoints import load_weights, read_checkpoint

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


def init_weights(module: nn.Module) -> None:
    """Xavier-uniform weights for Linear and Conv layers (the original's initialisation)."""
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.Conv1d)):
        nn.init.xavier_uniform_(module.weight)


def train_emotion_disc(model: nn.Module, optimizer: torch.optim.Optimizer,
                       scheduler: torch.optim.lr_scheduler.LRScheduler, loader: DataLoader, state: TrainState,
                       cfg: EmotionTrainConfig, loop: LoopConfig, device: torch.device, log: ScalarLog) -> None:
    """Train; the step LR schedule advances once per epoch; saves as the original, after the first step and
    then every ``save_interval`` steps."""
    criterion = nn.CrossEntropyLoss()

    def save(reason: str = "") -> None:
        save_emotion_checkpoint(cfg.out_path, model, optimizer, scheduler, state)

    def step(batch) -> dict[str, float]:
        video, emotion = batch[0].to(device), batch[1].to(device)
        model.train()
        optimizer.zero_grad()
        logits = model(video)
        loss = criterion(logits, emotion.argmax(dim=1))
        loss.backward()
        optimizer.step()
        acc = (logits.argmax(dim=1) == emotion.argmax(dim=1)).float().mean().item()
        return {"loss": loss.item(), "acc": acc}

    def after(losses: dict[str, float]) -> None:
        log.add("classification_loss/step", losses["loss"], state.global_step)
        if (state.global_step - 1) % cfg.save_interval == 0:  # the original tests its counter before the increment
            save()

    def end_epoch(means: dict[str, float], batches: int) -> None:
        log.add("classification_loss", means.get("loss", 0.0), state.global_epoch)
        scheduler.step()

    run_training(loader, state, loop, step, after, end_epoch, save)
