"""Training the video emotion discriminator (DISCEMO): cross-entropy on the clip's emotion."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader

from .train_loop import LoopConfig, run_training
from .training import ScalarLog, TrainState, save_training_checkpoint


@dataclass
class EmotionTrainConfig:
    """Output folder and save interval."""

    out_path: str
    save_interval: int = 1000


def emotion_checkpoint_name(out_path: str, step: int) -> str:
    """<out>/disc_emo_<step>.pth, the original's naming."""
    return os.path.join(out_path, f"disc_emo_{step}.pth")


def init_weights(module: nn.Module) -> None:
    """Xavier-uniform weights for Linear and Conv layers (the original's initialisation)."""
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.Conv1d)):
        nn.init.xavier_uniform_(module.weight)


def train_emotion_disc(model: nn.Module, optimizer: torch.optim.Optimizer,
                       scheduler: torch.optim.lr_scheduler.LRScheduler, loader: DataLoader, state: TrainState,
                       cfg: EmotionTrainConfig, loop: LoopConfig, device: torch.device, log: ScalarLog) -> None:
    """Train; the step LR schedule advances once per epoch."""
    criterion = nn.CrossEntropyLoss()

    def save(reason: str = "") -> None:
        save_training_checkpoint(emotion_checkpoint_name(cfg.out_path, state.global_step), model, optimizer, state,
                                 scheduler=scheduler.state_dict())

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
        if state.global_step % cfg.save_interval == 0:
            save()

    def end_epoch(means: dict[str, float], batches: int) -> None:
        log.add("classification_loss", means.get("loss", 0.0), state.global_epoch)
        scheduler.step()

    run_training(loader, state, loop, step, after, end_epoch, save)
