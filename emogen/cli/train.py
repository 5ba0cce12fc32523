"""Train the EmoGen generator with a frozen lip-sync expert and the emotion discriminator.

Single process: python train.py --data_root ... --checkpoint_dir ... --syncnet_checkpoint_path ... --emotion_disc_path ...
Several GPUs or processes: torchrun --nproc_per_node N train.py (same flags).
"""

from __future__ import annotations

import argparse
import os
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of train.py."""
    from emogen.common.cli import ArgumentParser, positive_float, positive_int
    from emogen.training.options import add_common_training_args, add_hparams_argument

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_root", required=True, help="preprocessed dataset (preprocess_crema-d.py output)")
    p.add_argument("--checkpoint_dir", required=True, help="where checkpoints and sample collages are written")
    p.add_argument("--syncnet_checkpoint_path", required=True, help="trained lip-sync expert (color_syncnet_train.py)")
    p.add_argument("--emotion_disc_path", required=True, help="trained emotion discriminator (emotion_disc_train.py)")
    p.add_argument(
        "--checkpoint_path",
        default=None,
        help="resume the generator from this checkpoint ('latest': newest in --checkpoint_dir); the "
        "matching disc_emo_ checkpoint beside it is resumed too",
    )
    p.add_argument(
        "--init_from",
        default=None,
        help="start a new run from these generator weights: an EmoGen generator (e.g. the released one, to "
        "fine-tune on your own face), or Wav2Lip's wav2lip.pth / wav2lip_gan.pth (every shared tensor copied, the "
        "emotion half of the first decoder layer zero); the optimizer and step start fresh (--checkpoint_path "
        "resumes instead)",
    )
    p.add_argument(
        "--freeze_emotion_disc",
        action="store_true",
        help="keep the emotion discriminator as loaded (by default, as the original, it takes one step on "
        "the real frames after every generator step); faster when emo_wt is 0",
    )
    p.add_argument(
        "--no_sync_switch",
        action="store_true",
        help="keep syncnet_wt as hparams gives it (by default, as the original, it becomes 0.03 once the "
        "evaluation sync loss falls below 0.75)",
    )
    p.add_argument(
        "--vgg_path",
        default=None,
        help="VGG19 ImageNet weights for the perceptual term (default: torchvision's cache; where they are "
        "missing the term is left out, saying so)",
    )
    p.add_argument(
        "--random_vgg",
        action="store_true",
        help="use a randomly initialised VGG19 when no weights exist (tests; not the paper's loss); without "
        "this flag and without the weights, the perceptual term is left out with a note",
    )
    p.add_argument(
        "--reference",
        choices=["same_clip", "other_emotion", "neutral"],
        default="same_clip",
        help="where each sample's reference window comes from: same_clip (default, as the original: "
        "another window of the target's clip, whose expression already matches the label), "
        "other_emotion (a clip of the same actor with another emotion, so the expression has to "
        "come from the label) or neutral (the same actor's NEU clips: a neutral face made emotional, as a "
        "user's face usually is at inference); docs/training.md has the measurements",
    )
    p.add_argument("--disc_lr", type=positive_float, default=1e-6, help="emotion discriminator learning rate (1e-6)")
    p.add_argument(
        "--eval_batches",
        type=positive_int,
        default=51,
        help="validation batches per evaluation, cycling the loader if it is shorter (51: the original "
        "stops after its 51st batch, 'step > 50')",
    )
    p.add_argument(
        "--expert_bn",
        choices=["train", "eval"],
        default="train",
        help="BatchNorm mode of the frozen lip-sync expert: train (default, as the original, which never "
        "calls .eval(): batch statistics, running averages keep moving) or eval (running "
        "statistics; a steadier sync loss)",
    )
    add_common_training_args(p)
    add_hparams_argument(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build data, networks and optimizers, then train."""
    args = get_args_parser().parse_args(argv)
    import functools

    import torch

    from emogen.common.checkpoint_io import load_weights
    from emogen.common.generator_kind import WAV2LIP
    from emogen.common.precision import resolve_training_precision
    from emogen.data.datasets import GeneratorDataset
    from emogen.training.checkpoint_files import (
        DISC_PREFIX,
        checkpoint_to_resume,
        latest_with_partner,
        remove_stale_temporaries,
        resume,
    )
    from emogen.training.distributed import is_main_process, wrap_ddp
    from emogen.training.engine_generator import Critics, GeneratorTrainConfig, set_requires_grad, train_generator
    from emogen.training.loaders import split_loaders, start_run
    from emogen.training.loop import SUMMARY_FILE, LoopConfig
    from emogen.training.losses import PerceptualLoss, vgg_missing_line, vgg_weights_present
    from emogen.training.mixed_precision import MixedPrecision
    from emogen.training.scalar_log import training_log
    from emogen.training.state import TrainState
    from emogen.training.warm_start import warm_start
    from models import SyncNet_color, Wav2Lip
    from models.emo_disc import DISCEMO

    hp, info = start_run(args)
    amp = MixedPrecision(resolve_training_precision(args.precision, info.device), info.device)
    device = info.device

    syncnet = SyncNet_color()
    load_weights(syncnet, args.syncnet_checkpoint_path, "lip-sync expert (SyncNet_color)")
    syncnet = syncnet.to(device).train(args.expert_bn == "train")
    set_requires_grad(syncnet, False)
    disc_emo = DISCEMO()
    load_weights(disc_emo, args.emotion_disc_path, "emotion discriminator")
    disc_emo = disc_emo.to(device)
    disc_optimizer = torch.optim.Adam(disc_emo.parameters(), lr=args.disc_lr, betas=(0.5, 0.999))
    perceptual = None
    if vgg_weights_present(args.vgg_path) or args.random_vgg:
        perceptual = PerceptualLoss(args.vgg_path, args.random_vgg).to(device)
    else:
        hp.set_hparam("pl_wt", 0.0)
        if is_main_process():
            print(vgg_missing_line(args.vgg_path))
    critics = Critics(syncnet, disc_emo, disc_optimizer, perceptual)

    dataset = functools.partial(GeneratorDataset, reference=args.reference)
    train_set, train_loader, val_loader = split_loaders(dataset, args, hp, hp.batch_size, info)
    if args.reference != "same_clip" and train_set.clips_without_partner and is_main_process():
        print(
            f"note: {len(train_set.clips_without_partner)} training clips have no clip to draw --reference "
            f"{args.reference} windows from (the same actor, "
            + ("another emotion" if args.reference == "other_emotion" else "a NEU clip other than the target")
            + "); their reference window stays in their own clip"
        )

    model = Wav2Lip().to(device)
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=hp.initial_learning_rate, betas=(0.5, 0.999)
    )
    state = TrainState()
    init_kind = None
    os.makedirs(args.checkpoint_dir, exist_ok=True)
    remove_stale_temporaries(args.checkpoint_dir)
    path = checkpoint_to_resume(args.checkpoint_dir, args.checkpoint_path)
    if path and args.checkpoint_path == "latest":
        # The newest generator whose discriminator was saved too (a kill between the two saves leaves one alone).
        paired = latest_with_partner(args.checkpoint_dir, DISC_PREFIX)
        if paired and paired != path:
            print(f"note: {os.path.basename(path)} has no {DISC_PREFIX} twin; resuming the newest complete pair")
            path = paired
    if path:
        ckpt = resume(path, model, optimizer, state, "EmoGen generator", device)
        if ckpt.get("syncnet_wt") is not None:
            hp.set_hparam("syncnet_wt", float(ckpt["syncnet_wt"]))
        disc_path = os.path.join(os.path.dirname(path), DISC_PREFIX + os.path.basename(path))
        if os.path.isfile(disc_path):
            resume(disc_path, disc_emo, disc_optimizer, TrainState(), "emotion discriminator", device)
        elif is_main_process():
            print(
                f"note: no {os.path.basename(disc_path)} beside {path}; the emotion discriminator starts again "
                f"from --emotion_disc_path ({args.emotion_disc_path}) with a fresh optimizer"
            )
    elif args.init_from:
        # Weights only (a new run, a fresh optimizer); a Wav2Lip generator is widened to EmoGen's layout.
        init_kind = warm_start(model, args.init_from)
    amp.prepare(
        model, syncnet, *([critics.perceptual] if critics.perceptual else [])
    )  # not DISCEMO: its view needs NCHW
    model = wrap_ddp(model, info)
    if is_main_process():
        start = f", starting from {args.init_from}" if args.init_from and not path else ""
        if start and init_kind == WAV2LIP:
            start += " (a Wav2Lip generator: its emotion half starts at zero, so the emotion is learned)"
        print(
            f"training the EmoGen generator on {device} ({info.world_size} process(es)), {len(train_set)} clips, "
            f"batch {hp.batch_size}, syncnet_wt {hp.syncnet_wt}, {amp.precision.name}{start}"
        )
    with training_log(args.log_dir or os.path.join(args.checkpoint_dir, "runs")) as log:
        summary = train_generator(
            model,
            optimizer,
            critics,
            train_loader,
            val_loader,
            state,
            GeneratorTrainConfig(
                args.checkpoint_dir, hp, args.eval_batches, not args.freeze_emotion_disc, not args.no_sync_switch
            ),
            LoopConfig(hp.nepochs, args.max_steps, not args.no_progress, "generator", args.max_minutes),
            device,
            log,
            amp,
        )
    if is_main_process():  # what the run did, for programs (demo.py reads it) rather than for eyes
        summary.save(os.path.join(args.checkpoint_dir, SUMMARY_FILE))
    return 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
