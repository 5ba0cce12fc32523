"""Live mode from a file: feed a speech file through the live core at the pace a microphone delivers it (or
faster), write the frames it makes as a video with that speech, and report the delay from speech to frame, the
sustained frame rate and the frames dropped. The frames are the offline path's (inference.py) for the same
input and precision, apart from dropped ones, which repeat the frame before them."""

from __future__ import annotations

import argparse
import json
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of live.py."""
    from emogen.common.cli import ArgumentParser, float_range, int_range
    from emogen.inference.arguments import (
        add_detection_arguments,
        add_face_arguments,
        add_limit_arguments,
        add_runtime_arguments,
    )
    from emogen.inference.blending import add_blend_argument

    p = ArgumentParser(description=__doc__)
    p.add_argument(
        "--checkpoint_path", default=None, help="EmoGen generator checkpoint (default checkpoints/emogen_generator.pth)"
    )
    p.add_argument("--face", required=True, help="video (looped) or image (jpg, jpeg, png) with the face")
    p.add_argument("--audio", required=True, help="speech: any file ffmpeg reads")
    p.add_argument(
        "--emotion",
        default=None,
        help="one of ANG, DIS, FEA, HAP, NEU, SAD (needed with an EmoGen generator; left out with a Wav2Lip one)",
    )
    p.add_argument("--outfile", required=True, help="the video of the frames produced, with the speech (.mp4)")
    p.add_argument(
        "--report",
        default=None,
        help="JSON report: median_delay_ms, p95_delay_ms, fps (sustained), dropped_frames and more",
    )
    p.add_argument(
        "--chunk_ms",
        type=float_range(1, 1000),
        default=20.0,
        help="speech is pushed in pieces of this many milliseconds (default 20, a browser's pace)",
    )
    p.add_argument(
        "--pace",
        type=float_range(0, 100),
        default=1.0,
        help="1 = real time (default), 2 = twice as fast, 0 = no waiting and no drops (the frames only; the delays "
        "then mean nothing)",
    )
    p.add_argument(
        "--max_batch",
        type=int_range(1, 256),
        default=8,
        help="most frames generated together when several windows are waiting (default 8)",
    )
    p.add_argument(
        "--max_waiting",
        type=int_range(1, 10000),
        default=10,
        help="ready windows allowed to wait for the generator; older ones are dropped beyond this "
        "(default 10, 0.4 s at 25 fps)",
    )
    add_face_arguments(p)
    add_detection_arguments(p)
    add_blend_argument(p)
    add_limit_arguments(p)
    add_runtime_arguments(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse arguments, run the file through the live core, print the report."""
    args = get_args_parser().parse_args(argv)
    from emogen.apps.live_file import LiveFileOptions, run_live_file
    from emogen.common.weights import WEIGHTS
    from emogen.inference.arguments import options_from_args

    checkpoint = args.checkpoint_path or WEIGHTS["emogen_generator"].path()
    inference = options_from_args(args, checkpoint_path=checkpoint, progress=False)
    report = run_live_file(
        LiveFileOptions(inference, args.report, args.chunk_ms, args.pace, args.max_batch, args.max_waiting)
    )
    print(json.dumps(report))
    return 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
