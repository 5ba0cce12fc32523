"""Pieces shared by the three training scripts: state, seeding, loaders, logging, checkpoint files, resume."""
from __future__ import annotations

import argparse
import contextlib
import glob
import os
import random
import re
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .checkpoints import load_weights, save_checkpoint
from .cli import non_negative_int, positive_int
from .device import add_device_argument
from .distributed import DistInfo, cleanup, is_main_process
from .errors import UserError


SPLIT_MODES = ("filelists", "random")
RANDOM_SPLIT_TRAIN_FRACTION = 0.95  # the original's random_split(0.95 / 0.05)


@dataclass
class TrainState:
    """Counters that must survive a resume (kept out of globals)."""

    global_step: int = 0
    global_epoch: int = 0
    saved_step: int = -1  # step of the last checkpoint written, so a stop right after one does not rewrite it


def add_common_training_args(p: argparse.ArgumentParser) -> None:
    """Flags every training script shares."""
    add_device_argument(p)
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--num_workers", type=non_negative_int, default=None, help="DataLoader workers (default: hparams.num_workers, "
                                                                  "at most the CPU count)")
    p.add_argument("--max_steps", type=positive_int, default=None, help="stop after this global step (bounded runs)")
    p.add_argument("--log_dir", default=None, help="TensorBoard folder (default <checkpoint dir>/runs)")
    p.add_argument("--filelist_dir", default="filelists", help="folder with train.txt and val.txt")
    p.add_argument("--split", choices=SPLIT_MODES, default="filelists",
                   help="filelists: train on train.txt, evaluate on val.txt (speaker-independent, default); "
                        "random: as the original scripts, train and evaluate on random draws from every clip "
                        "under the data folder (95%% / 5%% of the clip count per epoch)")
    p.add_argument("--no_augment", action="store_true", help="turn the colour augmentation off")
    p.add_argument("--eval_augment", choices=["on", "off"], default="on",
                   help="colour augmentation of the evaluation samples: on as the original (default), or off")
    p.add_argument("--no_progress", action="store_true", help="hide progress bars")


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seed Python, NumPy and torch (offset by rank so processes draw different samples)."""
    random.seed(seed + rank)
    np.random.seed(seed + rank)
    torch.manual_seed(seed + rank)


def worker_count(requested: Optional[int], default: int) -> int:
    """DataLoader workers: the request, else the hparams default capped by the CPU count."""
    if requested is not None:
        return max(0, requested)
    return max(0, min(default, (os.cpu_count() or 1)))


def make_loader(dataset: Dataset, batch_size: int, workers: int, info: DistInfo, shuffle: bool = True,
                drop_last: bool = False) -> DataLoader:
    """A DataLoader with a DistributedSampler under torchrun; drop_last (only when a full batch exists) as the
    original sets it per script: on for the emotion discriminator, off for the expert and the generator, except
    that a last batch of a single sample is always dropped."""
    sampler = DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle) \
        if info.distributed else None
    per_process = len(dataset) // max(1, info.world_size)
    # A last batch of one sample cannot train BatchNorm (the original crashes there): drop just that one.
    lone_last = per_process > batch_size and per_process % batch_size == 1
    drop = (drop_last or lone_last) and per_process >= batch_size
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                      num_workers=workers, drop_last=drop, pin_memory=info.device.type == "cuda",
                      persistent_workers=workers > 0)


def checkpoint_name(checkpoint_dir: str, step: int, prefix: str = "") -> str:
    """<dir>/<prefix>checkpoint_step000000123.pth, the original's naming."""
    return os.path.join(checkpoint_dir, f"{prefix}checkpoint_step{step:09d}.pth")


def latest_checkpoint(checkpoint_dir: str, prefix: str = "") -> Optional[str]:
    """The highest-step checkpoint with ``prefix`` in a folder, or None."""
    pattern = re.compile(re.escape(prefix) + r"checkpoint_step(\d{9})\.pth$")
    found = [(int(m.group(1)), p) for p in glob.glob(os.path.join(checkpoint_dir, f"{prefix}checkpoint_step*.pth"))
             if (m := pattern.search(os.path.basename(p)))]
    return max(found)[1] if found else None


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
        raise UserError(f"{checkpoint_dir} already holds checkpoints ({os.path.basename(newest)}); pass "
                        "--checkpoint_path latest to resume, or choose another --checkpoint_dir")
    return requested


def save_training_checkpoint(path: str, model: nn.Module, optimizer: Optional[torch.optim.Optimizer],
                             state: TrainState, save_optimizer: bool = True, **extra: Any) -> None:
    """Rank 0 writes the standard checkpoint dict atomically."""
    if is_main_process():
        save_checkpoint(path, model, optimizer if save_optimizer else None, state.global_step, state.global_epoch,
                        **extra)
        print(f"saved checkpoint {path}")
    state.saved_step = state.global_step


def resume(path: str, model: nn.Module, optimizer: Optional[torch.optim.Optimizer], state: TrainState,
           model_name: str, map_location: Any) -> dict:
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


class ScalarLog:
    """TensorBoard scalars on rank 0 (a no-op elsewhere)."""

    def __init__(self, log_dir: Optional[str]) -> None:
        self.writer = None
        if log_dir and is_main_process():
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir)

    def add(self, tag: str, value: float, step: int) -> None:
        """Record one value."""
        if self.writer is not None:
            self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        """Flush and close."""
        if self.writer is not None:
            self.writer.close()


@contextlib.contextmanager
def training_log(log_dir: Optional[str]) -> Iterator[ScalarLog]:
    """A run's TensorBoard log; closes it and leaves the process group however the run ends."""
    log = ScalarLog(log_dir)
    try:
        yield log
    finally:
        log.close()
        cleanup()


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DDP/DataParallel."""
    return model.module if hasattr(model, "module") else model


_BCE = nn.BCELoss()


def cosine_loss(a: torch.Tensor, v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """BCE of the cosine similarity of audio and face embeddings against the sync label (the expert's loss)."""
    d = nn.functional.cosine_similarity(a, v).clamp(0.0, 1.0)
    return _BCE(d.unsqueeze(1), y)


def clip_folders(data_root: str) -> list[str]:
    """Every sub-folder of a preprocessed root (the clips the original scripts train on), sorted."""
    return sorted(f for f in os.listdir(data_root) if os.path.isdir(os.path.join(data_root, f)))


def load_split_datasets(dataset_cls, data_root: str, filelist_dir: str, hp, augment: bool, seed: int,
                        root_flag: str = "--data_root", split: str = "filelists", eval_augment: bool = True):
    """Train and val datasets of ``dataset_cls`` (val may be None).

    ``split="filelists"``: <filelist_dir>/train.txt and val.txt. ``split="random"``: what the original scripts
    really do: their random_split(0.95, 0.05) only sets how many samples an epoch has, since every sample is
    drawn from all clips; so both datasets draw from every clip folder, with 95% and 5% of the clip count as
    their lengths.
    """
    from .filelists import read_filelist

    if not os.path.isdir(data_root):
        raise UserError(f"{root_flag} {data_root} is not a folder (run preprocess_crema-d.py first)")
    if split == "random":
        names = clip_folders(data_root)
        n_train = int(RANDOM_SPLIT_TRAIN_FRACTION * len(names))
        train = dataset_cls(data_root, names, hp=hp, augment=augment, seed=None, length=max(1, n_train))
        val = None
        if len(names) - n_train > 0:
            val = dataset_cls(data_root, names, hp=hp, augment=augment and eval_augment, seed=seed + 1,
                              length=len(names) - n_train)
    else:
        train_names = read_filelist(os.path.join(filelist_dir, "train.txt"))
        val_path = os.path.join(filelist_dir, "val.txt")
        val_names = read_filelist(val_path) if os.path.isfile(val_path) else []
        train = dataset_cls(data_root, train_names, hp=hp, augment=augment, seed=None)
        val = None
        if val_names:
            try:
                val = dataset_cls(data_root, val_names, hp=hp, augment=augment and eval_augment, seed=seed + 1)
            except UserError:
                print("warning: no usable validation clips; evaluation is skipped")
    if train.left_out:
        print(f"note: {len(train.left_out)} training clips left out (too few frames or no mel)")
    return train, val


def split_loaders(dataset_cls, args: argparse.Namespace, hp, batch_size: int, info: DistInfo):
    """(train dataset, train loader, val loader or None) from ``args.data_root`` and its filelists."""
    train_set, val_set = load_split_datasets(dataset_cls, args.data_root, args.filelist_dir, hp,
                                             not args.no_augment, args.seed, split=args.split,
                                             eval_augment=args.eval_augment == "on")
    train_loader = make_loader(train_set, batch_size, worker_count(args.num_workers, hp.num_workers), info)
    # Validation runs in the training process: workers would only add start-up time for a few batches.
    val_loader = make_loader(val_set, batch_size, 0, info, shuffle=False, drop_last=False) if val_set else None
    return train_set, train_loader, val_loader
