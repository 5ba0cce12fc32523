"""The command-line options of every script that renders a face (inference.py, live.py, app.py,
gen_videos_from_filelist.py), each defined once, in groups, and read back into InferenceOptions by
:func:`options_from_args`. A flag means the same and takes the same values in every command that has it."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Optional

from emogen.common.backends import add_backend_argument
from emogen.common.cli import float_range, int_range
from emogen.common.device import add_device_argument
from emogen.common.media import ENCODERS
from emogen.common.precision import add_precision_argument
from face_detection.registry import add_face_detector_argument

from .detection_cache import default_cache_dir
from .options import DETECTION_STRATEGIES, MAX_FPS, MAX_PIXELS, MISSING_FACE_MODES, InferenceOptions
from .references import REFERENCE_MODES

NO_BOX = [-1, -1, -1, -1]  # the original's spelling of "no fixed box": detect faces instead


def str2bool_flag(value: Optional[str]) -> bool:
    """--static alone means True; --static True/False is accepted as in the original command line."""
    if value is None:
        return True
    return value.strip().lower() in ("1", "true", "yes", "on")


def add_face_arguments(p: argparse.ArgumentParser) -> None:
    """How the face input is read and cropped: --static, --fps, --pads, --box, --resize_factor, --crop,
    --rotate, --nosmooth, --missing_face."""
    p.add_argument(
        "--static",
        nargs="?",
        const=True,
        default=False,
        type=str2bool_flag,
        help="use only the first frame of the face video (--static alone, or --static True/False)",
    )
    p.add_argument(
        "--fps",
        type=float_range(1, MAX_FPS),
        default=25.0,
        help=f"frame rate for a still-image face (default 25; 1 to {MAX_FPS:g}); a video keeps its own",
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
        "--box",
        nargs=4,
        type=int_range(-1, 100000),
        default=list(NO_BOX),
        metavar=("TOP", "BOTTOM", "LEFT", "RIGHT"),
        help="a fixed face box used as given (no pads, no smoothing) instead of face detection; -1 -1 -1 -1 "
        "(default) detects faces",
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
    p.add_argument("--rotate", action="store_true", help="rotate the input 90 degrees clockwise")
    p.add_argument("--nosmooth", action="store_true", help="do not average face boxes over 5 frames")
    add_missing_face_argument(p)
    add_reference_argument(p)


def add_reference_argument(p: argparse.ArgumentParser, default: str = "auto") -> None:
    """--reference: what the generator sees as the reference face."""
    p.add_argument(
        "--reference",
        choices=REFERENCE_MODES,
        default=default,
        help=f"the generator's reference face (default {default}): frame = the original, the frame itself, whose "
        "mouth the generator tends to copy whatever the speech says; closed_mouth = the frame within 0.5 s whose "
        "mouth is most closed, by dlib's landmark model (the landmarks extra); masked_mouth = the frame with its "
        "mouth region set to zero, for generators trained with train.py --reference_mouth mask; auto = "
        "closed_mouth for a video where the landmark model is installed, else frame (docs/inference.md)",
    )


def add_missing_face_argument(p: argparse.ArgumentParser) -> None:
    """--missing_face: what happens to frames without a face."""
    p.add_argument(
        "--missing_face",
        default="interpolate",
        choices=MISSING_FACE_MODES,
        help="frames without a face: fill gaps up to 1 s from neighbours (default), leave them unchanged "
        "(passthrough), or stop as the original did (error)",
    )


def add_detection_arguments(p: argparse.ArgumentParser, default: str = "auto", tuning: bool = True) -> None:
    """Which detector finds faces and how: --face_detector, --detection, --detection_cache_dir, and with
    ``tuning`` --det_max_side, --det_stride, --face_det_batch_size and --no_detection_cache."""
    add_face_detector_argument(p)
    p.add_argument(
        "--detection",
        choices=DETECTION_STRATEGIES,
        default=default,
        help=f"how faces are found (default {default}): exact = the original, the detector on every full frame; "
        "fast = the detector on every 5th frame near the last face, boxes interpolated between where two key "
        "boxes agree and detected where they do not, the whole frame searched again on a cut or a jump; auto = "
        "fast on a CPU (measured against exact with dlib and Haar), exact on a GPU or with --det_stride above 1 "
        "(docs/inference.md: accuracy)",
    )
    p.add_argument(
        "--detection_cache_dir",
        default=None,
        help="where face boxes are cached (default $EMOGEN_CACHE_DIR or ~/.cache/emogen/detections)",
    )
    if not tuning:
        return
    p.add_argument("--no_detection_cache", action="store_true", help="neither read nor write the detection cache")
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
        "--face_det_batch_size",
        type=int_range(1, 4096),
        default=16,
        help="frames per face-detection batch (default 16; at most 4096)",
    )


def add_runtime_arguments(p: argparse.ArgumentParser, encoder: bool = True) -> None:
    """Where and how the networks run: --precision, --backend, --device and (with ``encoder``) --encoder."""
    add_precision_argument(p)
    add_backend_argument(p)
    add_device_argument(p)
    if encoder:
        p.add_argument(
            "--encoder",
            default="auto",
            choices=ENCODERS,
            help="video encoder: auto (default) = h264_nvenc on CUDA when ffmpeg has it, else libx264",
        )


def add_limit_arguments(p: argparse.ArgumentParser) -> None:
    """Bounds on the work one input may ask for: --max_megapixels."""
    p.add_argument(
        "--max_megapixels",
        type=float_range(0, 1000, low_open=True),
        default=MAX_PIXELS / 1e6,
        help=f"largest face frame in megapixels after --resize_factor, checked before decoding (default "
        f"{MAX_PIXELS / 1e6:.1f}: 3840x2160; at most 1000); memory grows with the frame size",
    )


def options_from_args(args: argparse.Namespace, **fields: Any) -> InferenceOptions:
    """InferenceOptions from a parsed command line: every option named like a field is taken as it is, the
    script-level switches are translated (--serial, --wait_for_detection, --no_progress, --detection_cache_dir,
    --no_detection_cache, --static, --box -1 ...), and ``fields`` set or override the rest."""
    names = {f.name for f in dataclasses.fields(InferenceOptions)}
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if "serial" in vars(args):
        values["pipelined"] = not args.serial
    if "wait_for_detection" in vars(args):
        values["stream_detection"] = not args.wait_for_detection
    if "no_progress" in vars(args):
        values["progress"] = not args.no_progress
    if "detection_cache_dir" in vars(args) or "no_detection_cache" in vars(args):
        values["cache_dir"] = (
            None
            if getattr(args, "no_detection_cache", False)
            else (getattr(args, "detection_cache_dir", None) or default_cache_dir())
        )
    if getattr(args, "max_megapixels", None) is not None:
        values["max_pixels"] = int(args.max_megapixels * 1e6)
    if "static" in values:
        values["static"] = bool(values["static"])
    if "box" in values and list(values["box"])[:1] == NO_BOX[:1]:
        values["box"] = None  # the original's rule: a first value of -1 means detect
    values.update(fields)
    return InferenceOptions(**values)
