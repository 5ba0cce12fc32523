"""Lip-sync a face video or image to any speech with one of six emotions, using an EmoGen generator."""

from __future__ import annotations

import argparse
import time
from typing import Optional, Sequence


def str2bool_flag(value: Optional[str]) -> bool:
    """--static alone means True; --static True/False is accepted as in the original command line."""
    if value is None:
        return True
    return value.strip().lower() in ("1", "true", "yes", "on")


def get_args_parser() -> argparse.ArgumentParser:
    """The command line (the original's flags, plus detector, device, missing-face and caching options)."""
    from emogen.common.backends import add_backend_argument
    from emogen.common.cli import ArgumentParser, float_range, int_range
    from emogen.common.device import add_device_argument
    from emogen.common.precision import add_precision_argument
    from emogen.inference.blending import add_blend_argument
    from emogen.inference.options import add_detection_argument, add_max_megapixels_argument
    from face_detection.registry import add_face_detector_argument

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
    p.add_argument(
        "--static",
        nargs="?",
        const=None,
        default=False,
        type=str2bool_flag,
        help="use only the first frame of the face video",
    )
    p.add_argument(
        "--fps",
        type=float_range(1, 240),
        default=25.0,
        help="frame rate for a still-image face (default 25; 1 to 240)",
    )
    p.add_argument(
        "--pads",
        nargs=4,
        type=int_range(-10000, 10000),
        default=[0, 10, 0, 0],
        metavar=("TOP", "BOTTOM", "LEFT", "RIGHT"),
        help="pixels added around the detected face; include the chin (default 0 10 0 0; each within +-10000)",
    )
    p.add_argument(
        "--face_det_batch_size",
        type=int_range(1, 4096),
        default=16,
        help="frames per face-detection batch (default 16; at most 4096)",
    )
    p.add_argument(
        "--wav2lip_batch_size",
        type=int_range(1, 4096),
        default=None,
        help="frames per generator batch (default 32 on CPU, 256 on CUDA as the original; at most 4096)",
    )
    p.add_argument(
        "--resize_factor", type=int_range(1, 64), default=1, help="divide the input resolution by this factor (1 to 64)"
    )
    p.add_argument(
        "--crop",
        nargs=4,
        type=int_range(-100000, 100000),
        default=[0, -1, 0, -1],
        metavar=("TOP", "BOTTOM", "LEFT", "RIGHT"),
        help="crop the input frames (after resize and rotate); -1 means to the edge",
    )
    p.add_argument(
        "--box",
        nargs=4,
        type=int_range(-100000, 100000),
        default=[-1, -1, -1, -1],
        metavar=("TOP", "BOTTOM", "LEFT", "RIGHT"),
        help="fixed face box used as given (no pads, no smoothing); skips face detection",
    )
    p.add_argument("--rotate", action="store_true", help="rotate the input 90 degrees clockwise")
    p.add_argument("--nosmooth", action="store_true", help="do not average face boxes over 5 frames")
    add_face_detector_argument(p)
    add_detection_argument(p)
    p.add_argument(
        "--det_max_side",
        type=int_range(64, 16384),
        default=None,
        help="detect faces on a copy whose longest side is at most this many pixels (faster; 64 to 16384; with "
        "--detection fast: the whole-frame searches, default 640)",
    )
    p.add_argument(
        "--det_stride",
        type=int_range(1, 250),
        default=1,
        help="with --detection exact: run the detector on every k-th frame and interpolate between (faster; 1 to 250)",
    )
    p.add_argument(
        "--missing_face",
        default="interpolate",
        choices=["interpolate", "passthrough", "error"],
        help="frames without a face: fill gaps up to 1 s from neighbours (default), leave them "
        "unchanged, or stop as the original did",
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
    add_max_megapixels_argument(p)
    add_precision_argument(p)
    add_backend_argument(p)
    p.add_argument(
        "--serial",
        action="store_true",
        help="run decoding, generation and encoding one after another in one thread (the original's "
        "schedule, for comparison; same frames) instead of overlapping them",
    )
    p.add_argument(
        "--encoder",
        default="auto",
        choices=["auto", "libx264", "h264_nvenc"],
        help="video encoder: auto (default) = h264_nvenc on CUDA when ffmpeg has it, else libx264",
    )
    add_device_argument(p)
    p.add_argument(
        "--detection_cache_dir",
        default=None,
        help="where face boxes are cached (default $EMOGEN_CACHE_DIR or ~/.cache/emogen/detections)",
    )
    p.add_argument("--no_detection_cache", action="store_true", help="neither read nor write the detection cache")
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
    from emogen.inference.options import options_from_args
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
