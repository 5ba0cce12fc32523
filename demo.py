"""Run the whole EmoGen pipeline on the bundled example, on CPU, in minutes: data preparation, the three
training stages, inference in all six emotions, and scoring. A smoke-scale run: it shows the pipeline
working, not the paper's quality. Each stage is the real script; its command line is printed."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of demo.py."""
    from emogen.common.cli import ArgumentParser, float_range, int_range
    p = ArgumentParser(description=__doc__)
    p.add_argument("--work_dir", default="demo_run", help="where every artifact goes (default demo_run/)")
    p.add_argument("--steps", type=int_range(1, 1000000), default=4,
                   help="training steps per stage (default 4)")
    p.add_argument("--audio_seconds", type=float_range(0, 3600, low_open=True), default=None,
                   help="use only the first seconds of the example speech (default: all 8 s)")
    p.add_argument("--generator", default=None,
                   help="generator checkpoint for inference (default: checkpoints/emogen_generator.pth if present, "
                        "else the one the demo trains)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo and print its report."""
    args = get_args_parser().parse_args(argv)
    from emogen.apps.quickstart import DemoConfig, format_report, run_demo

    report = run_demo(DemoConfig(work_dir=args.work_dir, steps=args.steps, audio_seconds=args.audio_seconds,
                                 generator=args.generator))
    print(format_report(report))
    return 0


if __name__ == "__main__":
    from emogen.common.errors import run_cli

    sys.exit(run_cli(main))
