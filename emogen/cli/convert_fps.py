"""Convert every video under a folder to a fixed frame rate (25 fps for CREMA-D), keeping the audio."""

from __future__ import annotations

import argparse
import os
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of convertFPS.py."""
    from emogen.common.cli import ArgumentParser, float_range, int_range

    p = ArgumentParser(description=__doc__)
    p.add_argument("-i", "--input_folder", required=True, help="folder with raw videos (searched recursively)")
    p.add_argument("-o", "--output_folder", required=True, help="where <same relative path>.mp4 files go")
    p.add_argument(
        "-fps",
        "--fps",
        type=float_range(0, 240, low_open=True),
        default=25.0,
        help="target frame rate (default 25; at most 240)",
    )
    p.add_argument(
        "--workers",
        type=int_range(1, 256),
        default=min(4, os.cpu_count() or 1),
        help="videos converted at the same time (default: up to 4)",
    )
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist and are complete")
    p.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Convert, print the summary; exit status 1 when any file failed."""
    args = get_args_parser().parse_args(argv)
    from emogen.data.fps_conversion import convert_folder

    summary = convert_folder(
        args.input_folder, args.output_folder, args.fps, args.workers, args.overwrite, progress=not args.no_progress
    )
    print(summary.report())
    return 1 if summary.failed else 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
