"""Training the video emotion discriminator (DISCEMO): cross-entropy on the clip's emotion.

Files as the original writes them: ``disc_emo_<N>.pth`` is a bare state_dict (the original ``train.py`` reads
it with a plain ``load_state_dict(torch.load(path))``), where N is the original's step counter at the save
(the first file is ``disc_emo_0.pth``, written after the first step). What a resume needs beyond the weights
(optimizer, scheduler, step, epoch) goes beside it into ``disc_emo_<N>.state.pth``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn
from torch.utils.data import DataLoader

from .checkpoint_files import save_emotion_checkpoint
from .loop import LoopConfig, TrainSummary, run_training
from .mixed_precision import FP32, MixedPrecision
from .scalar_log import ScalarLog
from .state import TrainState


@dataclass
class EmotionTrainConfig:
    """Output folder and save interval."""

    out_path: str
    save_interval: int = 1000
    adversarial_eps: float = 0.0  # > 0: train on FGSM-perturbed frames (pixel values in 0-1); 0: the original


def init_weights(module: nn.Module) -> None:
    """Xavier-uniform weights for Linear and Conv layers (the original's initialisation)."""
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.Conv1d)):
        nn.init.xavier_uniform_(module.weight)


def adversarial_frames(
    model: nn.Module, video: torch.Tensor, labels: torch.Tensor, eps: float, amp: MixedPrecision
) -> torch.Tensor:
    """``video`` moved by one signed-gradient step of 1.25 ``eps`` from a random start within ``eps`` (fast
    adversarial training), kept within ``eps`` of the frames and within 0-1. Classifiers trained on such frames
    tend to have input gradients that follow image structure rather than pixel patterns, and the generator's
    emotion term follows that gradient."""
    delta = torch.empty_like(video).uniform_(-eps, eps).requires_grad_(True)
    with amp.forward():
        loss = nn.functional.cross_entropy(model((video + delta).clamp(0, 1)), labels)
    (grad,) = torch.autograd.grad(loss.float(), delta)
    delta = (delta.detach() + 1.25 * eps * grad.sign()).clamp(-eps, eps)
    return (video + delta).clamp(0, 1)


def train_emotion_disc(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loader: DataLoader,
    state: TrainState,
    cfg: EmotionTrainConfig,
    loop: LoopConfig,
    device: torch.device,
    log: ScalarLog,
    amp: Optional[MixedPrecision] = None,
) -> TrainSummary:
    """Train; the step LR schedule advances once per epoch; saves as the original, after the first step and
    then every ``save_interval`` steps."""
    criterion = nn.CrossEntropyLoss()
    amp = amp or MixedPrecision(FP32, device)

    def save(reason: str = "") -> None:
        save_emotion_checkpoint(cfg.out_path, model, optimizer, scheduler, state)

    def step(batch) -> dict[str, float]:
        video, emotion = batch[0].to(device), batch[1].to(device)
        model.train()
        if cfg.adversarial_eps:
            video = adversarial_frames(model, video, emotion.argmax(dim=1), cfg.adversarial_eps, amp)
        optimizer.zero_grad()
        with amp.forward():
            logits = model(video)
            loss = criterion(logits, emotion.argmax(dim=1))
        amp.step(loss, optimizer)
        acc = (logits.argmax(dim=1) == emotion.argmax(dim=1)).float().mean().item()
        return {"loss": loss.item(), "acc": acc}

    def after(losses: dict[str, float]) -> None:
        log.add("classification_loss/step", losses["loss"], state.global_step)
        if (state.global_step - 1) % cfg.save_interval == 0:  # the original tests its counter before the increment
            save()

    def end_epoch(means: dict[str, float], batches: int) -> None:
        log.add("classification_loss", means.get("loss", 0.0), state.global_epoch)
        scheduler.step()

    return run_training(loader, state, loop, step, after, end_epoch, save)
