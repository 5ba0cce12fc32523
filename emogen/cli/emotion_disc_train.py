"""Train EmoGen's video emotion discriminator (DISCEMO) on preprocessed CREMA-D.

The output folder is never wiped: an existing run is continued with --resume, otherwise the script refuses.
Checkpoints disc_emo_<step>.pth are bare state_dicts as the original writes them (first one disc_emo_0.pth,
after the first step); they load as train.py --emotion_disc_path here and in the original code. The
optimizer, scheduler and step for --resume go beside each into disc_emo_<step>.state.pth.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of emotion_disc_train.py."""
    from emogen.common.cli import ArgumentParser, positive_float, positive_int
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
    add_common_training_args(p)
    p.set_defaults(seed=9)
    add_hparams_argument(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build data, model, optimizer and schedule, then train."""
    args = get_args_parser().parse_args(argv)
    import torch

    from emogen.common.errors import UserError
    from emogen.common.precision import resolve_training_precision
    from emogen.data.datasets import EmotionDataset
    from emogen.training.checkpoint_files import emotion_checkpoints, remove_stale_temporaries, resume_emotion_disc
    from emogen.training.distributed import is_main_process, wrap_ddp
    from emogen.training.engine_emotion_disc import EmotionTrainConfig, init_weights, train_emotion_disc
    from emogen.training.loaders import load_split_datasets, make_loader, start_run, worker_count
    from emogen.training.loop import LoopConfig
    from emogen.training.mixed_precision import MixedPrecision
    from emogen.training.scalar_log import training_log
    from emogen.training.state import TrainState
    from models.emo_disc import DISCEMO

    existing = emotion_checkpoints(args.out_path)
    if existing and not args.resume:
        raise UserError(
            f"{args.out_path} already holds checkpoints ({os.path.basename(existing[-1])}); pass --resume "
            "to continue that run or choose another --out-path (nothing is deleted)"
        )
    hp, info = start_run(args)
    amp = MixedPrecision(resolve_training_precision(args.precision, info.device), info.device)
    # The original trains on every clip folder of --in-path (no validation): --split random does the same.
    train_set, _ = load_split_datasets(
        EmotionDataset,
        args.in_path,
        args.filelist_dir,
        hp,
        not args.no_augment,
        args.seed,
        root_flag="--in-path",
        split=args.split,
    )
    if args.split == "random":
        train_set.length = len(train_set.clips)
    loader = make_loader(train_set, args.batch_size, worker_count(args.num_workers, 0), info, drop_last=True)

    model = DISCEMO().to(info.device)
    model.apply(init_weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr_emo, betas=(0.5, 0.999))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, args.step_lr, gamma=0.1)
    state = TrainState()
    remove_stale_temporaries(args.out_path)
    if existing and args.resume:
        resume_emotion_disc(existing[-1], model, optimizer, scheduler, state, info.device)
    if is_main_process():
        os.makedirs(args.out_path, exist_ok=True)
        with open(os.path.join(args.out_path, "args.json"), "w") as handle:
            json.dump({k: v for k, v in vars(args).items()}, handle, indent=2)
        print(f"training the emotion discriminator on {info.device}, {len(train_set)} clips, batch {args.batch_size}")
    model = wrap_ddp(model, info)
    with training_log(args.log_dir or os.path.join(args.out_path, "runs")) as log:
        train_emotion_disc(
            model,
            optimizer,
            scheduler,
            loader,
            state,
            EmotionTrainConfig(args.out_path, args.save_interval),
            LoopConfig(args.num_epochs, args.max_steps, not args.no_progress, "emotion disc", args.max_minutes),
            info.device,
            log,
            amp,
        )
    return 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
