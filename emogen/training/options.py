"""The command-line options every training script shares (nothing here imports torch, so --help is fast)."""

from __future__ import annotations

import argparse
from typing import Iterable

from emogen.common.cli import float_range, non_negative_int, positive_int
from emogen.common.device import add_device_argument
from emogen.common.errors import UserError
from emogen.common.precision import add_precision_argument
from hparams import HParams
from hparams import hparams as default_hparams

SPLIT_MODES = ("filelists", "random")


def add_common_training_args(p: argparse.ArgumentParser) -> None:
    """Flags every training script shares."""
    add_device_argument(p)
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument(
        "--num_workers",
        type=non_negative_int,
        default=None,
        help="DataLoader workers (default: hparams.num_workers, at most the CPU count)",
    )
    p.add_argument("--max_steps", type=positive_int, default=None, help="stop after this global step (bounded runs)")
    p.add_argument(
        "--max_minutes",
        type=float_range(0, 525600, low_open=True),
        default=None,
        help="stop (saving a checkpoint) once this many minutes of training have passed",
    )
    add_precision_argument(p, training=True)
    p.add_argument("--log_dir", default=None, help="TensorBoard folder (default <checkpoint dir>/runs)")
    p.add_argument("--filelist_dir", default="filelists", help="folder with train.txt and val.txt")
    p.add_argument(
        "--split",
        choices=SPLIT_MODES,
        default="filelists",
        help="filelists: train on train.txt, evaluate on val.txt (speaker-independent, default); "
        "random: as the original scripts, train and evaluate on random draws from every clip "
        "under the data folder (95%% / 5%% of the clip count per epoch)",
    )
    p.add_argument("--no_augment", action="store_true", help="turn the colour augmentation off")
    p.add_argument(
        "--eval_augment",
        choices=["on", "off"],
        default="on",
        help="colour augmentation of the evaluation samples: on as the original (default), or off",
    )
    p.add_argument("--no_progress", action="store_true", help="hide progress bars")


def add_hparams_argument(parser: argparse.ArgumentParser) -> None:
    """Add a repeatable ``--hparams key=value`` override option to ``parser``."""
    parser.add_argument(
        "--hparams",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value of hparams.py for this run (repeatable), e.g. "
        "--hparams batch_size=8 --hparams syncnet_wt=0.03",
    )


def hparams_from_args(overrides: Iterable[str]) -> HParams:
    """A copy of the defaults with the command-line overrides applied (bad ones are a UserError)."""
    try:
        return default_hparams.copy().apply_overrides(overrides)
    except ValueError as exc:
        raise UserError(str(exc)) from None
