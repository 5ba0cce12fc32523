"""Seeding, train/val datasets from filelists or the original's random split, and their DataLoaders."""

from __future__ import annotations

import argparse
import os
import random
from typing import Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from emogen.common.errors import UserError
from emogen.data.filelists import read_filelist

from .distributed import DistInfo

RANDOM_SPLIT_TRAIN_FRACTION = 0.95  # the original's random_split(0.95 / 0.05)


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


def make_loader(
    dataset: Dataset, batch_size: int, workers: int, info: DistInfo, shuffle: bool = True, drop_last: bool = False
) -> DataLoader:
    """A DataLoader with a DistributedSampler under torchrun; drop_last (only when a full batch exists) as the
    original sets it per script: on for the emotion discriminator, off for the expert and the generator, except
    that a last batch of a single sample is always dropped."""
    sampler = (
        DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle)
        if info.distributed
        else None
    )
    per_process = len(dataset) // max(1, info.world_size)
    # A last batch of one sample cannot train BatchNorm (the original crashes there): drop just that one.
    lone_last = per_process > batch_size and per_process % batch_size == 1
    drop = (drop_last or lone_last) and per_process >= batch_size
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=workers,
        drop_last=drop,
        pin_memory=info.device.type == "cuda",
        persistent_workers=workers > 0,
    )


def clip_folders(data_root: str) -> list[str]:
    """Every sub-folder of a preprocessed root (the clips the original scripts train on), sorted."""
    return sorted(f for f in os.listdir(data_root) if os.path.isdir(os.path.join(data_root, f)))


def load_split_datasets(
    dataset_cls,
    data_root: str,
    filelist_dir: str,
    hp,
    augment: bool,
    seed: int,
    root_flag: str = "--data_root",
    split: str = "filelists",
    eval_augment: bool = True,
):
    """Train and val datasets of ``dataset_cls`` (val may be None).

    ``split="filelists"``: <filelist_dir>/train.txt and val.txt. ``split="random"``: what the original scripts
    really do: their random_split(0.95, 0.05) only sets how many samples an epoch has, since every sample is
    drawn from all clips; so both datasets draw from every clip folder, with 95% and 5% of the clip count as
    their lengths.
    """
    if not os.path.isdir(data_root):
        raise UserError(f"{root_flag} {data_root} is not a folder (run preprocess_crema-d.py first)")
    if split == "random":
        names = clip_folders(data_root)
        n_train = int(RANDOM_SPLIT_TRAIN_FRACTION * len(names))
        train = dataset_cls(data_root, names, hp=hp, augment=augment, seed=None, length=max(1, n_train))
        val = None
        if len(names) - n_train > 0:
            val = dataset_cls(
                data_root, names, hp=hp, augment=augment and eval_augment, seed=seed + 1, length=len(names) - n_train
            )
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
    train_set, val_set = load_split_datasets(
        dataset_cls,
        args.data_root,
        args.filelist_dir,
        hp,
        not args.no_augment,
        args.seed,
        split=args.split,
        eval_augment=args.eval_augment == "on",
    )
    train_loader = make_loader(train_set, batch_size, worker_count(args.num_workers, hp.num_workers), info)
    # Validation runs in the training process: workers would only add start-up time for a few batches.
    val_loader = make_loader(val_set, batch_size, 0, info, shuffle=False, drop_last=False) if val_set else None
    return train_set, train_loader, val_loader


def start_run(args: argparse.Namespace):
    """What every training script does first: the hyper-parameters with the command line's overrides, this
    process's place under torchrun (or a plain process) and its device, and the seeds; returns (hp, info)."""
    from .distributed import init_distributed_mode
    from .options import hparams_from_args

    hp = hparams_from_args(args.hparams)
    info = init_distributed_mode(args.device)
    seed_everything(args.seed, info.rank)
    return hp, info
