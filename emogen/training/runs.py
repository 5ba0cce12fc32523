"""One function per training script (color_syncnet_train.py, emotion_disc_train.py, train.py): data, networks,
optimizers and resumption built from the parsed command line, then the engine; each returns its TrainSummary.
They share how a run starts (hyper-parameters, process, device, seeds, precision) and how its checkpoint folder
is taken over (stale partial files removed, the checkpoint to resume found)."""

from __future__ import annotations

import argparse
import functools
import json
import os
from dataclasses import dataclass
from typing import Any, Optional

import torch

from emogen.common.checkpoint_io import load_weights
from emogen.common.errors import UserError
from emogen.common.generator_kind import WAV2LIP, generator_layout
from emogen.common.precision import resolve_training_precision
from emogen.data.datasets import EmotionDataset, GeneratorDataset, SyncDataset

from .checkpoint_files import (
    DISC_PREFIX,
    checkpoint_to_resume,
    emotion_checkpoints,
    latest_with_partner,
    remove_stale_temporaries,
    resume,
    resume_emotion_disc,
)
from .distributed import DistInfo, is_main_process, wrap_ddp
from .engine_emotion_disc import EmotionTrainConfig, init_weights, train_emotion_disc
from .engine_generator import Critics, GeneratorTrainConfig, set_requires_grad, train_generator
from .engine_syncnet import SyncTrainConfig, train_syncnet
from .loaders import load_split_datasets, make_loader, split_loaders, start_run, worker_count
from .loop import SUMMARY_FILE, LoopConfig, TrainSummary
from .mixed_precision import MixedPrecision
from .scalar_log import training_log
from .state import TrainState


@dataclass
class Run:
    """What every trainer starts from: the hyper-parameters, this process under torchrun, and its arithmetic."""

    hp: Any
    info: DistInfo
    amp: MixedPrecision

    @property
    def device(self) -> torch.device:
        """This process's device."""
        return self.info.device


def open_run(args: argparse.Namespace) -> Run:
    """Hyper-parameters with the command line's overrides, the process and its device, seeds, precision."""
    hp, info = start_run(args)
    return Run(hp, info, MixedPrecision(resolve_training_precision(args.precision, info.device), info.device))


def take_over(folder: str, requested: Optional[str], prefix: str = "") -> Optional[str]:
    """Make the checkpoint folder, remove the partial files a killed run left, and return the checkpoint
    ``requested`` names ('latest', a path, or None)."""
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(folder)
    return checkpoint_to_resume(folder, requested, prefix)


def loop_config(args: argparse.Namespace, nepochs: int, desc: str) -> LoopConfig:
    """The loop's bounds from the flags every trainer shares."""
    return LoopConfig(nepochs, args.max_steps, not args.no_progress, desc, args.max_minutes)


def save_summary(summary: TrainSummary, folder: str) -> None:
    """Write the run's TrainSummary beside its checkpoints (the main process only), for programs to read."""
    if is_main_process():
        summary.save(os.path.join(folder, SUMMARY_FILE))


def run_syncnet_training(args: argparse.Namespace) -> TrainSummary:
    """color_syncnet_train.py: train the lip-sync expert (SyncNet_color)."""
    from models import SyncNet_color

    run = open_run(args)
    train_set, train_loader, val_loader = split_loaders(SyncDataset, args, run.hp, run.hp.syncnet_batch_size, run.info)
    model = SyncNet_color().to(run.device)
    # EmoGen's expert uses betas (0.5, 0.999); Wav2Lip's used Adam's defaults.
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=run.hp.syncnet_lr, betas=(0.5, 0.999)
    )
    state = TrainState()
    path = take_over(args.checkpoint_dir, args.checkpoint_path)
    if path:
        resume(path, model, optimizer, state, "lip-sync expert (SyncNet_color)", run.device)
    run.amp.prepare(model)
    model = wrap_ddp(model, run.info)
    if is_main_process():
        print(
            f"training the lip-sync expert on {run.device} ({run.info.world_size} process(es)), "
            f"{len(train_set)} clips, batch {run.hp.syncnet_batch_size}"
        )
    cfg = SyncTrainConfig(
        args.checkpoint_dir,
        run.hp.syncnet_checkpoint_interval,
        run.hp.syncnet_eval_interval,
        args.eval_batches,
        run.hp.save_optimizer_state,
        args.schedule,
        args.save_every_epochs,
    )
    with training_log(args.log_dir or os.path.join(args.checkpoint_dir, "runs")) as log:
        summary = train_syncnet(
            model,
            optimizer,
            train_loader,
            val_loader,
            state,
            cfg,
            loop_config(args, run.hp.nepochs, "syncnet"),
            run.device,
            log,
            run.amp,
        )
    save_summary(summary, args.checkpoint_dir)
    return summary


def run_emotion_disc_training(args: argparse.Namespace) -> TrainSummary:
    """emotion_disc_train.py: train the video emotion discriminator (DISCEMO) on every clip folder."""
    from models.emo_disc import DISCEMO

    existing = emotion_checkpoints(args.out_path)
    if existing and not args.resume:
        raise UserError(
            f"{args.out_path} already holds checkpoints ({os.path.basename(existing[-1])}); pass --resume "
            "to continue that run or choose another --out-path (nothing is deleted)"
        )
    run = open_run(args)
    # The original trains on every clip folder of --in-path (no validation): --split random does the same.
    train_set, _ = load_split_datasets(
        EmotionDataset,
        args.in_path,
        args.filelist_dir,
        run.hp,
        not args.no_augment,
        args.seed,
        root_flag="--in-path",
        split=args.split,
    )
    if args.split == "random":
        train_set.length = len(train_set.clips)
    loader = make_loader(train_set, args.batch_size, worker_count(args.num_workers, 0), run.info, drop_last=True)
    model = DISCEMO().to(run.device)
    model.apply(init_weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr_emo, betas=(0.5, 0.999))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, args.step_lr, gamma=0.1)
    state = TrainState()
    take_over(args.out_path, None)
    if existing:
        resume_emotion_disc(existing[-1], model, optimizer, scheduler, state, run.device)
    if is_main_process():
        with open(os.path.join(args.out_path, "args.json"), "w") as handle:
            json.dump(vars(args), handle, indent=2)
        print(f"training the emotion discriminator on {run.device}, {len(train_set)} clips, batch {args.batch_size}")
    model = wrap_ddp(model, run.info)
    with training_log(args.log_dir or os.path.join(args.out_path, "runs")) as log:
        summary = train_emotion_disc(
            model,
            optimizer,
            scheduler,
            loader,
            state,
            EmotionTrainConfig(args.out_path, args.save_interval, args.adv_eps / 255.0),
            loop_config(args, args.num_epochs, "emotion disc"),
            run.device,
            log,
            run.amp,
        )
    save_summary(summary, args.out_path)
    return summary


def _critics(args: argparse.Namespace, run: Run) -> Critics:
    """The frozen lip-sync expert, the emotion discriminator with its optimizer (none without --emotion_disc_path,
    which the emotion terms need), and the perceptual term when VGG19 weights exist (else pl_wt becomes 0, saying
    so)."""
    from models import SyncNet_color
    from models.emo_disc import DISCEMO

    from .losses import PerceptualLoss, vgg_missing_line, vgg_weights_present

    emotion_terms = {k: getattr(run.hp, k) for k in ("emo_wt", "emo_swap_wt") if getattr(run.hp, k)}
    if emotion_terms and not args.emotion_disc_path:
        given = ", ".join(f"{k} {v:g}" for k, v in emotion_terms.items())
        raise UserError(f"the emotion term ({given}) needs a trained discriminator: pass --emotion_disc_path")
    syncnet = SyncNet_color()
    load_weights(syncnet, args.syncnet_checkpoint_path, "lip-sync expert (SyncNet_color)")
    syncnet = syncnet.to(run.device).train(args.expert_bn == "train")
    set_requires_grad(syncnet, False)
    disc_emo = disc_optimizer = None
    if args.emotion_disc_path:
        disc_emo = DISCEMO()
        load_weights(disc_emo, args.emotion_disc_path, "emotion discriminator")
        disc_emo = disc_emo.to(run.device)
        disc_optimizer = torch.optim.Adam(disc_emo.parameters(), lr=args.disc_lr, betas=(0.5, 0.999))
    perceptual = None
    if vgg_weights_present(args.vgg_path) or args.random_vgg:
        perceptual = PerceptualLoss(args.vgg_path, args.random_vgg).to(run.device)
    else:
        run.hp.set_hparam("pl_wt", 0.0)
        if is_main_process():
            print(vgg_missing_line(args.vgg_path))
    return Critics(syncnet, disc_emo, disc_optimizer, perceptual)


def _resume_generator(args, run: Run, model, optimizer, critics: Critics, state: TrainState) -> Optional[str]:
    """Resume the generator (and the emotion discriminator saved beside it) or start from --init_from; returns
    the kind of generator --init_from held (None when resuming or starting fresh)."""
    from .warm_start import warm_start

    path = take_over(args.checkpoint_dir, args.checkpoint_path)
    if path and args.checkpoint_path == "latest" and critics.disc_emo is not None:
        # The newest generator whose discriminator was saved too (a kill between the two saves leaves one alone).
        paired = latest_with_partner(args.checkpoint_dir, DISC_PREFIX)
        if paired and paired != path:
            print(f"note: {os.path.basename(path)} has no {DISC_PREFIX} twin; resuming the newest complete pair")
            path = paired
    if not path:
        # Weights only (a new run, a fresh optimizer); a Wav2Lip generator is widened to EmoGen's layout.
        return warm_start(model, args.init_from) if args.init_from else None
    film = generator_layout(path)[1]
    if film != run.hp.emotion_film:
        raise UserError(
            f"{path} was trained {'with' if film else 'without'} --hparams emotion_film=True; resume it "
            f"{'with' if film else 'without'} that option (a run keeps its generator's layout)"
        )
    ckpt = resume(path, model, optimizer, state, "EmoGen generator", run.device)
    if ckpt.get("syncnet_wt") is not None:
        run.hp.set_hparam("syncnet_wt", float(ckpt["syncnet_wt"]))
    if critics.disc_emo is None:  # a run without an emotion term keeps no discriminator
        return None
    disc_path = os.path.join(os.path.dirname(path), DISC_PREFIX + os.path.basename(path))
    if os.path.isfile(disc_path):
        resume(disc_path, critics.disc_emo, critics.disc_optimizer, TrainState(), "emotion discriminator", run.device)
    elif is_main_process():
        print(
            f"note: no {os.path.basename(disc_path)} beside {path}; the emotion discriminator starts again "
            f"from --emotion_disc_path ({args.emotion_disc_path}) with a fresh optimizer"
        )
    return None


def run_generator_training(args: argparse.Namespace) -> TrainSummary:
    """train.py: train the EmoGen generator against the frozen expert and the emotion discriminator."""
    from models import Wav2Lip

    run = open_run(args)
    critics = _critics(args, run)
    dataset = functools.partial(GeneratorDataset, reference=args.reference, reference_mouth=args.reference_mouth)
    train_set, train_loader, val_loader = split_loaders(dataset, args, run.hp, run.hp.batch_size, run.info)
    if args.reference != "same_clip" and train_set.clips_without_partner and is_main_process():
        print(
            f"note: {len(train_set.clips_without_partner)} training clips have no clip to draw --reference "
            f"{args.reference} windows from; their reference window stays in their own clip"
        )
    model = Wav2Lip(emotion_film=run.hp.emotion_film).to(run.device)
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=run.hp.initial_learning_rate, betas=(0.5, 0.999)
    )
    state = TrainState()
    init_kind = _resume_generator(args, run, model, optimizer, critics, state)
    # Not DISCEMO: its view needs NCHW.
    run.amp.prepare(model, critics.syncnet, *([critics.perceptual] if critics.perceptual else []))
    model = wrap_ddp(model, run.info)
    if is_main_process():
        start = f", starting from {args.init_from}" if init_kind else ""
        if init_kind == WAV2LIP:
            start += " (a Wav2Lip generator: its emotion half starts at zero, so the emotion is learned)"
        print(
            f"training the EmoGen generator on {run.device} ({run.info.world_size} process(es)), "
            f"{len(train_set)} clips, batch {run.hp.batch_size}, syncnet_wt {run.hp.syncnet_wt}, "
            f"{run.amp.precision.name}{start}"
        )
    cfg = GeneratorTrainConfig(
        args.checkpoint_dir, run.hp, args.eval_batches, not args.freeze_emotion_disc, not args.no_sync_switch
    )
    with training_log(args.log_dir or os.path.join(args.checkpoint_dir, "runs")) as log:
        summary = train_generator(
            model,
            optimizer,
            critics,
            train_loader,
            val_loader,
            state,
            cfg,
            loop_config(args, run.hp.nepochs, "generator"),
            run.device,
            log,
            run.amp,
        )
    save_summary(summary, args.checkpoint_dir)
    return summary
