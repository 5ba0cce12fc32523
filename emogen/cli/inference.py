"""Lip-sync a face video or image to any speech with one of six emotions, using an EmoGen generator."""

from __future__ import annotations

import argparse
import time
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """The command line (the original's flags, plus detector, device, missing-face and caching options)."""
    from emogen.common.cli import ArgumentParser, int_range
    from emogen.inference.arguments import (
        add_detection_arguments,
        add_face_arguments,
        add_limit_arguments,
        add_runtime_arguments,
    )
    from emogen.inference.blending import add_blend_argument

    p = ArgumentParser(description=__doc__)
    p.add_argument(
        "--checkpoint_path",
        required=True,
        help="generator checkpoint (.pth): EmoGen's, or Wav2Lip's wav2lip.pth / wav2lip_gan.pth (lip sync only)",
    )
    p.add_argument("--face", required=True, help="video or image (jpg, jpeg, png) with the face to animate")
    p.add_argument("--audio", required=True, help="speech: any file ffmpeg reads (wav, mp3, m4a, a video...)")
    p.add_argument(
        "--emotion",
        default=None,
        help="one of ANG, DIS, FEA, HAP, NEU, SAD; several joined by commas (HAP,SAD); or 'all'. "
        "Several emotions share one pass over the face video, one video each. Needed with an EmoGen generator; "
        "left out with a Wav2Lip one (wav2lip.pth, wav2lip_gan.pth), which does lip sync only "
        "(-> results/lipsync.mp4)",
    )
    p.add_argument(
        "--outfile",
        default=None,
        help="output mp4 (default results/<EMOTION>.mp4; with --emotion all, <name>_<EMOTION>.mp4)",
    )
    add_face_arguments(p)
    add_detection_arguments(p)
    p.add_argument(
        "--wav2lip_batch_size",
        type=int_range(1, 4096),
        default=None,
        help="frames per generator batch (default 32 on CPU, 256 on CUDA as the original; at most 4096)",
    )
    add_blend_argument(p)
    p.add_argument(
        "--enhance",
        default=None,
        metavar="PATH",
        help="sharpen each generated face before it is pasted with this face restoration or super-resolution "
        "network (GFPGAN, RestoreFormer, Real-ESRGAN .pth/.safetensors, read by spandrel; see "
        "checkpoints/README.md); slow: GFPGAN takes about 2.5 s per frame on 2 CPU cores (default: off)",
    )
    add_limit_arguments(p)
    add_runtime_arguments(p)
    p.add_argument(
        "--serial",
        action="store_true",
        help="run decoding, generation and encoding one after another in one thread (the original's "
        "schedule, for comparison; same frames) instead of overlapping them",
    )
    p.add_argument(
        "--wait_for_detection",
        action="store_true",
        help="detect the face in every frame before generating the first (the original's order, for comparison; "
        "the same frames) instead of generating each frame as soon as its smoothed box is final",
    )
    p.add_argument("--no_progress", action="store_true", help="hide progress bars")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse arguments, run inference, print one line per output."""
    args = get_args_parser().parse_args(argv)
    from emogen.inference.arguments import options_from_args
    from emogen.inference.pipeline import run_inference

    opts = options_from_args(args)
    start = time.perf_counter()
    results = run_inference(opts)
    for r in results:
        extra = []
        if r.filled:
            extra.append(f"{r.filled} face-less input frames filled")
        if r.passed_through:
            extra.append(f"{r.passed_through} frames passed through without a face")
        if r.detection_cached:
            extra.append("face detection from cache")
        note = f" ({'; '.join(extra)})" if extra else ""
        print(
            f"wrote {r.outfile}: {r.frames} frames, {r.seconds:.2f} s at {r.fps:g} fps, "
            f"in {time.perf_counter() - start:.1f} s{note}"
        )
    if results:
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in results[-1].timings.items())
        used = results[-1].settings
        print(f"timings: {steps}")
        print(
            f"generator {used['precision']} on {used['backend']}, encoder {used['encoder']}, "
            f"{'pipelined' if used['pipelined'] else 'serial'}; faces: {used['faces']}"
        )
    return 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
