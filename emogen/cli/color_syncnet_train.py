"""Train the lip-sync expert (Wav2Lip's SyncNet_color) on preprocessed CREMA-D.

Single process: python color_syncnet_train.py --data_root ... --checkpoint_dir ...
Several GPUs or processes: torchrun --nproc_per_node N color_syncnet_train.py (same flags).
"""

from __future__ import annotations

import argparse
import os
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
    """Build data, model and optimizer, then train."""
    args = get_args_parser().parse_args(argv)
    import torch

    from emogen.common.errors import UserError
    from emogen.common.precision import resolve_training_precision
    from emogen.data.datasets import SyncDataset
    from emogen.training.checkpoint_files import checkpoint_to_resume, remove_stale_temporaries, resume
    from emogen.training.distributed import is_main_process, wrap_ddp
    from emogen.training.engine_syncnet import SyncTrainConfig, train_syncnet
    from emogen.training.loaders import split_loaders, start_run
    from emogen.training.loop import LoopConfig
    from emogen.training.mixed_precision import MixedPrecision
    from emogen.training.scalar_log import training_log
    from emogen.training.state import TrainState
    from models import SyncNet_color

    hp, info = start_run(args)
    amp = MixedPrecision(resolve_training_precision(args.precision, info.device), info.device)
    train_set, train_loader, val_loader = split_loaders(SyncDataset, args, hp, hp.syncnet_batch_size, info)

    model = SyncNet_color().to(info.device)
    # EmoGen's expert uses betas (0.5, 0.999); Wav2Lip's used Adam's defaults.
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=hp.syncnet_lr, betas=(0.5, 0.999)
    )
    state = TrainState()
    os.makedirs(args.checkpoint_dir, exist_ok=True)
    remove_stale_temporaries(args.checkpoint_dir)
    path = checkpoint_to_resume(args.checkpoint_dir, args.checkpoint_path)
    if path:
        resume(path, model, optimizer, state, "lip-sync expert (SyncNet_color)", info.device)
    amp.prepare(model)
    model = wrap_ddp(model, info)
    if is_main_process():
        print(
            f"training the lip-sync expert on {info.device} ({info.world_size} process(es)), "
            f"{len(train_set)} clips, batch {hp.syncnet_batch_size}"
        )
    if args.save_every_epochs < 1:
        raise UserError(f"--save_every_epochs must be at least 1, got {args.save_every_epochs}")
    cfg = SyncTrainConfig(
        args.checkpoint_dir,
        hp.syncnet_checkpoint_interval,
        hp.syncnet_eval_interval,
        args.eval_batches,
        hp.save_optimizer_state,
        args.schedule,
        args.save_every_epochs,
    )
    with training_log(args.log_dir or os.path.join(args.checkpoint_dir, "runs")) as log:
        train_syncnet(
            model,
            optimizer,
            train_loader,
            val_loader,
            state,
            cfg,
            LoopConfig(hp.nepochs, args.max_steps, not args.no_progress, "syncnet", args.max_minutes),
            info.device,
            log,
            amp,
        )
    return 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
