"""Training the EmoGen generator: L1 + perceptual + emotion + (once synced enough) lip-sync losses, with the
emotion discriminator taking one step on the real frames after every generator step."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from hparams import HParams

from .checkpoint_files import DISC_PREFIX, checkpoint_name, save_training_checkpoint
from .distributed import all_reduce_mean, is_main_process
from .loop import LoopConfig, TrainSummary, run_training
from .losses import sync_loss, total_loss
from .mixed_precision import FP32, MixedPrecision
from .scalar_log import ScalarLog
from .state import TrainState

SYNC_SWITCH_THRESHOLD = 0.75
SYNC_WEIGHT_AFTER_SWITCH = 0.03


@dataclass
class GeneratorTrainConfig:
    """Where to save, how often, and the (mutable) hyper-parameters of this run."""

    checkpoint_dir: str
    hp: HParams
    eval_batches: int = 51
    update_emotion_disc: bool = True  # one discriminator step on the real frames per generator step (original)
    sync_switch: bool = True  # turn the sync loss on once the evaluation sync loss is below 0.75 (original)


@dataclass
class Critics:
    """The frozen lip-sync expert, the emotion discriminator with its optimizer (None when a run has no emotion
    term and was given no discriminator), and the perceptual loss (None when its VGG19 weights are missing: the
    term is then left out)."""

    syncnet: nn.Module
    disc_emo: Optional[nn.Module]
    disc_optimizer: Optional[torch.optim.Optimizer]
    perceptual: Optional[nn.Module]


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    """Freeze or unfreeze every parameter."""
    for p in module.parameters():
        p.requires_grad_(flag)


def average_gradients(module: nn.Module) -> None:
    """Mean of the gradients over all ranks (the discriminator is not wrapped in DDP)."""
    if not dist.is_initialized():
        return
    world = dist.get_world_size()
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def maybe_enable_sync_loss(hp: HParams, average_sync_loss: float) -> bool:
    """Switch the sync loss on (weight 0.03) once the evaluation sync loss falls below 0.75; True if switched."""
    if average_sync_loss < SYNC_SWITCH_THRESHOLD and hp.syncnet_wt != SYNC_WEIGHT_AFTER_SWITCH:
        hp.set_hparam("syncnet_wt", SYNC_WEIGHT_AFTER_SWITCH)
        return True
    return False


def generator_losses(
    model: nn.Module,
    critics: Critics,
    batch,
    hp: HParams,
    device: torch.device,
    with_sync: bool,
    weighted_only: bool = False,
):
    """Forward pass and all loss terms; returns (g, gt, x, labels, dict of tensors). ``weighted_only`` skips the
    terms whose weight is 0 (they would not change the step; with the paper's weights nothing is skipped)."""
    x, indiv_mels, mel, gt, emotion = (t.to(device) for t in batch)
    g = model(indiv_mels, x, emotion)
    labels = emotion.argmax(dim=1)
    zero = torch.zeros((), device=device)
    terms = {"l1": nn.functional.l1_loss(g.float(), gt)}
    if critics.perceptual is not None:
        terms["perceptual"] = critics.perceptual(g, gt) if hp.pl_wt or not weighted_only else zero
    if critics.disc_emo is not None:
        judged = blur_frames(g, hp.emo_blur) if hp.emo_blur else g
        terms["emotion"] = (
            nn.functional.cross_entropy(critics.disc_emo(judged), labels) if hp.emo_wt or not weighted_only else zero
        )
    terms["sync"] = sync_loss(critics.syncnet, mel, g) if with_sync else zero
    if hp.emo_swap_wt and weighted_only:
        terms["emotion_swap"] = swapped_label_loss(model, critics.disc_emo, indiv_mels, x, labels, hp.emo_blur)
    return g, gt, x, labels, terms


def blur_frames(video: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, C, T, H, W) frames blurred by a separable Gaussian of ``sigma`` pixels (radius 3 sigma, edges
    replicated). Its gradient is the same blur, so what passes back to the frames holds no fine pattern."""
    n, c, t, h, w = video.shape
    radius = max(1, int(round(3 * sigma)))
    x = torch.arange(-radius, radius + 1, device=video.device, dtype=torch.float32)
    taps = torch.exp(-0.5 * (x / sigma) ** 2)
    taps = (taps / taps.sum()).to(video.dtype)
    flat = video.reshape(n, c * t, h, w)
    flat = nn.functional.pad(flat, (radius, radius, radius, radius), mode="replicate")
    flat = nn.functional.conv2d(flat, taps.view(1, 1, 1, -1).expand(c * t, 1, 1, -1), groups=c * t)
    flat = nn.functional.conv2d(flat, taps.view(1, 1, -1, 1).expand(c * t, 1, -1, 1), groups=c * t)
    return flat.reshape(n, c, t, h, w)


def swapped_label_loss(
    model: nn.Module,
    disc_emo: nn.Module,
    indiv_mels: torch.Tensor,
    x: torch.Tensor,
    labels: torch.Tensor,
    blur: float = 0.0,
) -> torch.Tensor:
    """The emotion discriminator's cross-entropy on the same inputs generated with another label, drawn at random
    for each sample (no ground truth exists for that face, so only the discriminator judges it)."""
    n = disc_emo.cls[-1].out_features
    other = (labels + torch.randint(1, n, labels.shape, device=labels.device)) % n
    g = model(indiv_mels, x, nn.functional.one_hot(other, n).to(x.dtype))
    return nn.functional.cross_entropy(disc_emo(blur_frames(g, blur) if blur else g), other)


def evaluate_generator(
    model: nn.Module, critics: Critics, loader: DataLoader, hp: HParams, device: torch.device, max_batches: int
) -> dict[str, float]:
    """Mean validation losses (the sync loss always computed) over ``max_batches`` batches, cycling the loader as
    the original does when it is shorter. The expert keeps the mode it was given (the original's stays in train
    mode, so its BatchNorm uses batch statistics here too)."""
    model.eval()
    disc = critics.disc_emo
    if disc is not None:
        disc.eval()
    sums: dict[str, float] = {}
    n = 0
    with torch.no_grad():
        for batch in cycle_batches(loader, max_batches):
            g, gt, _, labels, terms = generator_losses(model, critics, batch, hp, device, with_sync=True)
            if disc is not None:
                terms["emotion_real"] = nn.functional.cross_entropy(disc(gt), labels)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n += 1
    model.train()
    if disc is not None:
        disc.train()
    return {k: all_reduce_mean(v / max(1, n), device) for k, v in sums.items()}


def cycle_batches(loader: DataLoader, count: int):
    """``count`` batches from ``loader``, starting it again as often as needed (none if it is empty)."""
    produced = 0
    while produced < count:
        started = produced
        for batch in loader:
            yield batch
            produced += 1
            if produced >= count:
                return
        if produced == started:
            return


def save_sample_images(x: torch.Tensor, g: torch.Tensor, gt: torch.Tensor, step: int, checkpoint_dir: str) -> str:
    """Collages (reference | masked input | generated | ground truth) per item and frame, as JPEGs."""

    def to_np(t: torch.Tensor) -> np.ndarray:
        return (t.detach().float().cpu().numpy().transpose(0, 2, 3, 4, 1) * 255.0).astype(np.uint8)

    xs, gs, gts = to_np(x), to_np(g), to_np(gt)
    refs, inputs = xs[..., 3:], xs[..., :3]
    folder = os.path.join(checkpoint_dir, f"samples_step{step:09d}")
    os.makedirs(folder, exist_ok=True)
    collage = np.concatenate((refs, inputs, gs, gts), axis=-2)
    for b, clip in enumerate(collage):
        for t, frame in enumerate(clip):
            cv2.imwrite(os.path.join(folder, f"{b}_{t}.jpg"), np.ascontiguousarray(frame))
    return folder


def train_generator(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    critics: Critics,
    train_loader: DataLoader,
    val_loader: Optional[DataLoader],
    state: TrainState,
    cfg: GeneratorTrainConfig,
    loop: LoopConfig,
    device: torch.device,
    log: ScalarLog,
    amp: Optional[MixedPrecision] = None,
) -> TrainSummary:
    """Train the generator; checkpoints (generator and disc_emo_ prefixed discriminator), samples, evaluation."""
    hp = cfg.hp
    last: dict = {}
    amp = amp or MixedPrecision(FP32, device)
    disc_amp = MixedPrecision(amp.precision, device)  # its own gradient scale for the second optimizer

    def save(reason: str = "") -> None:
        # The discriminator first: the generator's file marks the pair complete, so a kill between the two saves
        # leaves the previous pair as the newest one to resume.
        if critics.disc_emo is not None:
            save_training_checkpoint(
                checkpoint_name(cfg.checkpoint_dir, state.global_step, DISC_PREFIX),
                critics.disc_emo,
                critics.disc_optimizer,
                state,
                hp.save_optimizer_state,
            )
        save_training_checkpoint(
            checkpoint_name(cfg.checkpoint_dir, state.global_step),
            model,
            optimizer,
            state,
            hp.save_optimizer_state,
            syncnet_wt=hp.syncnet_wt,
        )
        if last and is_main_process():
            save_sample_images(last["x"], last["g"], last["gt"], state.global_step, cfg.checkpoint_dir)

    disc = critics.disc_emo

    def step(batch) -> dict[str, float]:
        model.train()
        if disc is not None:
            disc.train()
            set_requires_grad(disc, False)
        optimizer.zero_grad()
        with amp.forward():
            g, gt, x, labels, terms = generator_losses(
                model, critics, batch, hp, device, with_sync=hp.syncnet_wt > 0, weighted_only=True
            )
            loss = total_loss(terms, hp)
        amp.step(loss, optimizer)
        if disc is not None:
            set_requires_grad(disc, True)
        last.update(x=x, g=g.detach().float(), gt=gt)
        skipped = {k for k, w in (("perceptual", hp.pl_wt), ("emotion", hp.emo_wt)) if not w}
        out = {k: float(v.detach()) for k, v in terms.items() if k not in skipped}
        if cfg.update_emotion_disc and disc is not None:
            critics.disc_optimizer.zero_grad()
            with disc_amp.forward():
                loss_real = nn.functional.cross_entropy(critics.disc_emo(gt), labels)
            disc_amp.step(loss_real, critics.disc_optimizer, before_step=lambda: average_gradients(critics.disc_emo))
            out["emotion_real"] = loss_real.item()
        return out

    def after(losses: dict[str, float]) -> None:
        for k, v in losses.items():
            log.add(f"train/{k}", v, state.global_step)
        if (hp.checkpoint_at_step_one and state.global_step == 1) or state.global_step % hp.checkpoint_interval == 0:
            save()
        if val_loader is not None and (state.global_step == 1 or state.global_step % hp.eval_interval == 0):
            val = evaluate_generator(model, critics, val_loader, hp, device, cfg.eval_batches)
            for k, v in val.items():
                log.add(f"val/{k}", v, state.global_step)
            switched = cfg.sync_switch and maybe_enable_sync_loss(hp, val["sync"])
            if is_main_process():
                tqdm.write(
                    f"step {state.global_step}: "
                    + ", ".join(f"{k} {v:.4f}" for k, v in val.items())
                    + (" -> sync loss on (syncnet_wt 0.03)" if switched else "")
                )

    def end_epoch(means: dict[str, float], batches: int) -> None:
        for k, v in means.items():
            log.add(f"epoch/{k}", v, state.global_epoch)

    return run_training(train_loader, state, loop, step, after, end_epoch, save)
