"""Run the whole EmoGen pipeline on the bundled example (or your own talking-head video), on CPU, in minutes:
data preparation, the three training stages (the generator learns the face for a few minutes), inference in
all six emotions, and scoring, including PSNR/SSIM on the video's last seconds, which training never saw, and a
side-by-side picture. Each stage is the real script; its command line is printed."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of demo.py."""
    from emogen.common.cli import ArgumentParser, float_range, int_range

    p = ArgumentParser(description=__doc__)
    p.add_argument(
        "--work_dir",
        default=None,
        help="where every artifact goes (default demo_run/ in this checkout, where app.py finds the trained generator)",
    )
    p.add_argument(
        "--face",
        default=None,
        help="talking-head video to learn and animate (default examples/face.mp4); its last "
        "1.2 s are kept out of training and scored",
    )
    p.add_argument("--speech", default=None, help="speech for the six-emotion videos (default examples/speech.wav)")
    p.add_argument(
        "--steps",
        type=int_range(1, 1000000),
        default=None,
        help="training steps of the lip-sync expert and of the emotion discriminator (default 4); with "
        "--dataset, of each emotion classifier (default 400): the judge, and the discriminator the generator "
        "trains against when --emo_wt or --emo_swap_wt is above 0",
    )
    p.add_argument(
        "--train_minutes",
        type=float_range(0, 10080, low_open=True),
        default=None,
        help="also stop the generator after this many minutes, whichever of the two limits comes first (default: "
        "none, so every machine trains --train_steps steps and gets the same network); with --dataset, a cap on "
        "each of its two generator phases",
    )
    p.add_argument(
        "--train_steps",
        type=int_range(0, 10000000),
        default=None,
        help="the generator's training steps (default 120: on the example, the face on unseen frames was best "
        "there and got worse with more steps; 0 = no step limit, which needs --train_minutes); with --dataset, "
        "the steps of the --reference phase (default 1000)",
    )
    p.add_argument(
        "--audio_seconds",
        type=float_range(0, 3600, low_open=True),
        default=None,
        help="use only the first seconds of the example speech (default: all 8 s)",
    )
    p.add_argument(
        "--generator",
        default=None,
        help="generator checkpoint for the six-emotion inference (default: the one the demo trains, "
        "fine-tuned from checkpoints/emogen_generator.pth when that exists)",
    )
    p.add_argument(
        "--dataset",
        default=None,
        help="a folder of CREMA-D clips (examples/crema-d ships one actor's six emotions): train with the "
        "emotion term on, render the NEU clip with each of the six labels and score whether the face follows "
        "the label (docs/emotion_demo.md); --face, --speech, --audio_seconds and --generator do not apply",
    )
    p.add_argument(
        "--reference",
        choices=["same_clip", "other_emotion", "neutral"],
        default=None,
        help="with --dataset: where the generator's reference windows come from (train.py --reference); "
        "default other_emotion (a clip of the same actor with another emotion, so the expression has to come "
        "from the label), which the measurements chose; same_clip is the original's, neutral the actor's NEU "
        "clips",
    )
    p.add_argument(
        "--emo_wt",
        type=float_range(0, 1),
        default=None,
        help="with --dataset: weight of the emotion discriminator's term (default 0: L1 alone, which the "
        "measurements chose, and the discriminator is not trained beside the generator; 0.01 is the paper's)",
    )
    p.add_argument(
        "--emo_swap_wt",
        type=float_range(0, 1),
        default=None,
        help="with --dataset: weight of the emotion term on windows generated with another, random label "
        "(train.py --hparams emo_swap_wt; 0 is the original's loss)",
    )
    p.add_argument(
        "--emo_blur",
        type=float_range(0, 8),
        default=None,
        help="with --dataset: Gaussian blur, in pixels, of the generated frames the emotion term judges (train.py "
        "--hparams emo_blur; default 0, the paper's term; docs/emotion_demo.md has its measurement)",
    )
    p.add_argument(
        "--warmup_steps",
        type=int_range(0, 10000000),
        default=None,
        help="with --dataset: generator steps with same-clip references before the --reference phase (default 0: none)",
    )
    p.add_argument(
        "--augment",
        action="store_const",
        const=True,
        default=None,
        help="with --dataset: train the generator with the original's colour augmentation (by default it trains "
        "without, train.py --no_augment, which the measurements chose; the emotion classifiers keep it)",
    )
    p.add_argument(
        "--released_layout",
        action="store_const",
        const=True,
        default=None,
        help="with --dataset: train the released generator layout, where the label joins only at the decoder's "
        "1x1 start (by default the label also scales and shifts the decoder's features at every scale, train.py "
        "--hparams emotion_film=True, which the measurements chose; docs/emotion_demo.md)",
    )
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo and print its report."""
    args = get_args_parser().parse_args(argv)
    if args.train_steps == 0 and args.train_minutes is None:
        from emogen.common.errors import UserError

        raise UserError("--train_steps 0 (no step limit) needs --train_minutes")
    if args.dataset is not None:
        given = [
            f
            for f, v in (
                ("--face", args.face),
                ("--speech", args.speech),
                ("--audio_seconds", args.audio_seconds),
                ("--generator", args.generator),
            )
            if v is not None
        ]
        if given:
            from emogen.common.errors import UserError

            raise UserError(
                f"{', '.join(given)}: not used by a --dataset run, which renders the set's own NEU clip; leave it out"
            )
        return dataset_demo(args)
    only_dataset = ("reference", "emo_wt", "emo_swap_wt", "emo_blur", "warmup_steps", "augment", "released_layout")
    misplaced = [f"--{k}" for k in only_dataset if getattr(args, k) is not None]
    if misplaced:
        from emogen.common.errors import UserError

        raise UserError(f"{', '.join(misplaced)}: for a --dataset run only (add --dataset FOLDER, or leave it out)")
    from emogen.apps.quickstart import DemoConfig, format_report, run_demo

    given = {
        k: v
        for k, v in (
            ("face", args.face),
            ("speech", args.speech),
            ("train_minutes", args.train_minutes),
            ("train_steps", args.train_steps),
            ("work_dir", args.work_dir),
        )
        if v is not None
    }
    report = run_demo(
        DemoConfig(
            steps=4 if args.steps is None else args.steps,
            audio_seconds=args.audio_seconds,
            generator=args.generator,
            **given,
        )
    )
    print(format_report(report))
    return 0


def dataset_demo(args) -> int:
    """demo.py --dataset: train on the CREMA-D folder and score whether the face follows the label."""
    from emogen.apps.emotion_demo import DatasetDemoConfig, format_dataset_report, run_dataset_demo

    given = {
        k: v
        for k, v in (
            ("work_dir", args.work_dir),
            ("train_minutes", args.train_minutes),
            ("train_steps", args.train_steps),
            ("reference", args.reference),
            ("emo_wt", args.emo_wt),
            ("emo_swap_wt", args.emo_swap_wt),
            ("emo_blur", args.emo_blur),
            ("warmup_steps", args.warmup_steps),
            ("disc_steps", args.steps),
            ("generator_augment", args.augment),
            ("emotion_film", None if args.released_layout is None else False),
        )
        if v is not None
    }
    report = run_dataset_demo(DatasetDemoConfig(args.dataset, **given))
    print(format_dataset_report(report))
    return 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
