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
        default=4,
        help="training steps of the lip-sync expert and of the emotion discriminator (default 4)",
    )
    p.add_argument(
        "--train_minutes",
        type=float_range(0, 10080, low_open=True),
        default=None,
        help="the generator's training budget in minutes (default 4, which keeps the quick start, "
        "install included, within 10 minutes on 2 CPU cores); a slow CPU may need longer to reach "
        "--train_steps",
    )
    p.add_argument(
        "--train_steps",
        type=int_range(0, 10000000),
        default=None,
        help="also stop the generator after this many steps, whichever of the two limits comes first "
        "(default 120: on the example, the face on unseen frames was best there and got worse with "
        "more steps; 0 = no step limit)",
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
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo and print its report."""
    args = get_args_parser().parse_args(argv)
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
    report = run_demo(DemoConfig(steps=args.steps, audio_seconds=args.audio_seconds, generator=args.generator, **given))
    print(format_report(report))
    return 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
