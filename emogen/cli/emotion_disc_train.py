"""Train EmoGen's video emotion discriminator (DISCEMO) on preprocessed CREMA-D.

The output folder is never wiped: an existing run is continued with --resume, otherwise the script refuses.
Checkpoints disc_emo_<step>.pth are bare state_dicts as the original writes them (first one disc_emo_0.pth,
after the first step); they load as train.py --emotion_disc_path here and in the original code. The
optimizer, scheduler and step for --resume go beside each into disc_emo_<step>.state.pth.
"""

from __future__ import annotations

import argparse
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of emotion_disc_train.py."""
    from emogen.common.cli import ArgumentParser, float_range, positive_float, positive_int
    from emogen.training.options import add_common_training_args, add_hparams_argument

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--in-path", dest="in_path", required=True, help="preprocessed dataset folder")
    p.add_argument("-o", "--out-path", dest="out_path", required=True, help="output folder for checkpoints")
    p.add_argument("--num_epochs", type=positive_int, default=10000, help="epochs (default 10000)")
    p.add_argument("--batch-size", dest="batch_size", type=positive_int, default=64, help="batch size per process (64)")
    p.add_argument("--lr_emo", type=positive_float, default=1e-6, help="Adam learning rate (default 1e-6)")
    p.add_argument("--step_lr", type=positive_int, default=150, help="epochs between learning-rate drops by 10x (150)")
    p.add_argument("--save_interval", type=positive_int, default=1000, help="steps between checkpoints (1000)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out-path")
    p.add_argument(
        "--adv_eps",
        type=float_range(0.0, 64.0),
        default=0.0,
        help="train on adversarially perturbed frames (one signed-gradient step from a random start), at most "
        "this many 0-255 levels from the real ones; 0 (default) is the original's training",
    )
    add_common_training_args(p)
    p.set_defaults(seed=9)
    add_hparams_argument(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse arguments, train the emotion discriminator; the run reports as it goes."""
    args = get_args_parser().parse_args(argv)
    from emogen.training.runs import run_emotion_disc_training

    run_emotion_disc_training(args)  # the loop reports how it stopped; the summary goes beside the checkpoints
    return 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
