"""Train the lip-sync expert (Wav2Lip's SyncNet_color) on preprocessed CREMA-D.

Single process: python color_syncnet_train.py --data_root ... --checkpoint_dir ...
Several GPUs or processes: torchrun --nproc_per_node N color_syncnet_train.py (same flags).
"""

from __future__ import annotations

import argparse
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of color_syncnet_train.py."""
    from emogen.common.cli import ArgumentParser, positive_int
    from emogen.training.options import add_common_training_args, add_hparams_argument

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_root", required=True, help="preprocessed dataset (preprocess_crema-d.py output)")
    p.add_argument("--checkpoint_dir", required=True, help="where checkpoints are written")
    p.add_argument(
        "--checkpoint_path", default=None, help="resume from this checkpoint ('latest': the newest in --checkpoint_dir)"
    )
    p.add_argument(
        "--schedule",
        choices=["emogen", "wav2lip"],
        default="emogen",
        help="emogen (default, EmoGen's script): evaluate after every epoch and save every "
        "--save_every_epochs epochs; wav2lip: evaluate every hparams syncnet_eval_interval steps "
        "and save every syncnet_checkpoint_interval steps (and at step 1)",
    )
    p.add_argument(
        "--save_every_epochs",
        type=positive_int,
        default=50,
        help="EmoGen schedule: save a checkpoint when the epoch number is a multiple of this (50)",
    )
    p.add_argument(
        "--eval_batches",
        type=positive_int,
        default=1402,
        help="most validation batches per evaluation (1402: the original stops after batch index 1401, 'step > 1400')",
    )
    add_common_training_args(p)
    add_hparams_argument(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse arguments, train the lip-sync expert; the run reports as it goes."""
    args = get_args_parser().parse_args(argv)
    from emogen.training.runs import run_syncnet_training

    run_syncnet_training(args)  # the loop reports how it stopped; the summary goes beside the checkpoints
    return 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
