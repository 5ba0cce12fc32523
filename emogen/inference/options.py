"""What one inference run is asked to do: the options dataclass and its checks (emogen.inference.arguments builds it
from a command line; emogen.inference.plan resolves it into what the run will do)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from emogen.common.contract import EMOTIONS, parse_emotions
from emogen.common.errors import UserError, require_file
from emogen.common.generator_kind import EMOGEN, LIPSYNC, WAV2LIP, generator_kind

from .blending import BLENDS, DEFAULT_BLEND
from .detection_cache import default_cache_dir
from .references import REFERENCE_MODES

MISSING_FACE_MODES = ("interpolate", "passthrough", "error")
FACE_EXPECTED = "a video or an image (jpg, jpeg, png)"
MAX_FPS = 240.0  # frames per second of a face video or a still's --fps: each frame is generated
MAX_PIXELS = 3840 * 2160  # the largest face frame by default (4K UHD)


@dataclass
class InferenceOptions:
    """Everything a run needs; defaults follow the original command line."""

    checkpoint_path: str
    face: str
    audio: str
    emotion: Optional[str] = None  # one, several (HAP,SAD), all; None for a Wav2Lip generator, which has none
    outfile: Optional[str] = None
    static: bool = False
    fps: float = 25.0
    pads: Sequence[int] = (0, 10, 0, 0)
    face_det_batch_size: int = 16
    wav2lip_batch_size: Optional[int] = None
    resize_factor: int = 1
    crop: Sequence[int] = (0, -1, 0, -1)
    box: Optional[Sequence[int]] = None  # a fixed face box (top, bottom, left, right) instead of detection
    rotate: bool = False
    nosmooth: bool = False
    face_detector: str = "auto"
    device: Optional[str] = None
    missing_face: str = "interpolate"
    detection: str = "auto"  # auto (fast on a CPU, exact on a GPU), exact (the original), fast
    det_max_side: Optional[int] = None
    det_stride: int = 1
    cache_dir: Optional[str] = field(default_factory=default_cache_dir)
    precision: str = "auto"  # generator: auto (bf16 where native), fp32 (exact), fp32-cl, bf16, fp16, int8
    backend: str = "auto"  # generator and S3FD runtime: auto (OpenVINO on a CPU unless fp32), torch, openvino
    pipelined: bool = True  # overlap decode, generation and encoding (False: one stage after another)
    stream_detection: bool = True  # generate while detection runs (False: detect every frame first); same frames
    encoder: str = "auto"  # auto (h264_nvenc on CUDA when ffmpeg has it, else libx264), libx264, h264_nvenc
    progress: bool = True
    on_progress: Optional[Callable[[str, int, int], None]] = None  # (stage, done, total), e.g. for a web page
    fragmented_mp4: bool = False  # an MP4 that plays while it is written (the web page streams it)
    on_output: Optional[Callable[[str, str], None]] = None  # (emotion, file being written) once encoding starts
    max_seconds: Optional[float] = None  # refuse speech longer than this, measured on the decoded audio
    max_pixels: Optional[int] = MAX_PIXELS  # largest face frame (width x height, after --resize_factor); None: any
    blend: str = DEFAULT_BLEND  # how faces go back into frames: hard (the original), feather, feather-color
    enhance: Optional[str] = None  # a face restoration / super-resolution weight file run on each generated face
    save_no_face_frame: bool = True  # where no face is found, save that frame beside the output for a look
    reference: str = "auto"  # the generator's reference face: auto, frame (the original), closed_mouth, masked_mouth


DETECTION_STRATEGIES = ("auto", "exact", "fast")


def emotions_for(checkpoint_path: str, requested: Optional[str]) -> list[str]:
    """The outputs a generator makes for ``requested``: EmoGen's emotions (required), or, for a Wav2Lip
    generator, which has none, the one lip-synced video ([LIPSYNC]; any emotion asked of it is refused)."""
    kind = generator_kind(checkpoint_path) if checkpoint_path and os.path.isfile(checkpoint_path) else EMOGEN
    if kind == WAV2LIP:
        if requested and requested != LIPSYNC:
            raise UserError.about(
                "emotion",
                f"{requested}: {os.path.basename(checkpoint_path)} is a Wav2Lip generator, which does lip sync "
                "only (no emotion); leave the emotion out, or use an EmoGen generator",
            )
        return [LIPSYNC]
    if not requested:
        raise UserError.about("emotion", f"is needed with an EmoGen generator: one of {', '.join(EMOTIONS)}, or all")
    return parse_emotions(requested)


def validate(opts: InferenceOptions) -> list[str]:
    """Check the inputs and option values before any work; return the emotions to generate."""
    require_file(opts.face, "face", FACE_EXPECTED)
    require_file(opts.audio, "audio", "any audio or video file ffmpeg can read")
    emotions = emotions_for(opts.checkpoint_path, opts.emotion)
    if opts.reference not in REFERENCE_MODES:
        raise UserError.about("reference", f"{opts.reference}: choose one of {', '.join(REFERENCE_MODES)}")
    if opts.blend not in BLENDS:
        raise UserError.about("blend", f"{opts.blend}: choose one of {', '.join(BLENDS)}")
    if opts.enhance is not None:
        require_file(opts.enhance, "enhance", "a GFPGAN, RestoreFormer or Real-ESRGAN weight file")
    if opts.detection not in DETECTION_STRATEGIES:
        raise UserError.about("detection", f"{opts.detection}: choose one of {', '.join(DETECTION_STRATEGIES)}")
    if opts.missing_face not in MISSING_FACE_MODES:
        raise UserError.about("missing_face", f"must be one of {', '.join(MISSING_FACE_MODES)}")
    if opts.resize_factor < 1:
        raise UserError.about("resize_factor", "must be 1 or more")
    if not 1 <= opts.fps <= MAX_FPS:
        raise UserError.about("fps", f"must be between 1 and {MAX_FPS:g}, got {opts.fps}")
    if opts.max_pixels is not None and opts.max_pixels < 1:
        raise UserError.about("max_pixels", f"must be positive, got {opts.max_pixels}")
    if len(opts.pads) != 4 or len(opts.crop) != 4 or (opts.box is not None and len(opts.box) != 4):
        raise UserError("pads, crop and box take four integers: top bottom left right")
    return emotions


def check_outfile(outfile: str) -> None:
    """A UserError, before any work, for an --outfile that is a folder or does not name an MP4 file."""
    if outfile.endswith(("/", os.sep)) or os.path.isdir(outfile):
        raise UserError.about(
            "outfile", f"{outfile} is a folder; give a file name in it, e.g. {os.path.join(outfile, 'result.mp4')}"
        )
    ext = os.path.splitext(outfile)[1]
    if ext.lower() != ".mp4":
        raise UserError.about(
            "outfile",
            f"{outfile}: the output is an MP4 video (H.264 and AAC), so its name must end in "
            f".mp4{f', not {ext}' if ext else ''}",
        )


def output_paths(outfile: Optional[str], emotions: Sequence[str]) -> dict[str, str]:
    """results/<EMOTION>.mp4 by default; with several emotions an explicit name gets a _<EMOTION> suffix."""
    if not outfile:
        return {e: os.path.join("results", f"{e}.mp4") for e in emotions}
    check_outfile(outfile)
    if len(emotions) == 1:
        return {emotions[0]: outfile}
    stem, ext = os.path.splitext(outfile)
    return {e: f"{stem}_{e}{ext or '.mp4'}" for e in emotions}
