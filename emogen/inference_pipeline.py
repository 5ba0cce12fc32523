"""Inference: an emotional lip-synced video from a face video or image and any speech, streamed in chunks.

Two passes over the face video keep memory bounded whatever its length: the first only detects face boxes
(or reads them from the detection cache), the second reads frames again, generates faces in batches and
pipes the finished frames straight into ffmpeg.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence

import cv2
import numpy as np
import torch
from tqdm import tqdm

import audio
from face_detection import DetectionSettings, create_detector, detect_video_boxes, resolve_detector_name
from hparams import hparams
from models import Wav2Lip

from . import EMOTIONS
from .atomic import atomic_path, ensure_writable_dir
from .checkpoints import load_weights
from .detection_cache import DetectionCache, default_cache_dir
from .device import resolve_device
from .errors import UserError, require_file
from .lipsync import Coords, crop_coords, emotion_one_hot, fill_gaps, mel_chunk_starts
from .media import (FrameTransform, VideoWriter, choose_encoder, extract_audio, is_image_path, iter_frames,
                    read_image, video_fps)
from .precision import resolve_precision
from .renderer import RenderOutput, RenderSettings, make_batches, one_hot_tensor, prepare_model, render

MISSING_FACE_MODES = ("interpolate", "passthrough", "error")


@dataclass
class InferenceOptions:
    """Everything a run needs; defaults follow the original command line."""

    checkpoint_path: str
    face: str
    audio: str
    emotion: str
    outfile: Optional[str] = None
    static: bool = False
    fps: float = 25.0
    pads: Sequence[int] = (0, 10, 0, 0)
    face_det_batch_size: int = 16
    wav2lip_batch_size: Optional[int] = None
    resize_factor: int = 1
    crop: Sequence[int] = (0, -1, 0, -1)
    box: Sequence[int] = (-1, -1, -1, -1)
    rotate: bool = False
    nosmooth: bool = False
    face_detector: str = "auto"
    device: Optional[str] = None
    missing_face: str = "interpolate"
    det_max_side: Optional[int] = None
    det_stride: int = 1
    cache_dir: Optional[str] = field(default_factory=default_cache_dir)
    precision: str = "auto"   # generator: auto (bf16 where native), fp32 (exact), bf16, fp16
    pipelined: bool = True    # overlap decode, generation and encoding (False: one stage after another)
    encoder: str = "auto"     # auto (h264_nvenc on CUDA when ffmpeg has it, else libx264), libx264, h264_nvenc
    progress: bool = True
    on_progress: Optional[Callable[[str, int, int], None]] = None  # (stage, done, total), e.g. for a web page
    live: bool = False        # fragmented MP4 that can be played while it is written (the web page streams it)
    on_output: Optional[Callable[[str, str], None]] = None  # (emotion, file being written) once encoding starts
    max_seconds: Optional[float] = None  # refuse speech longer than this, measured on the decoded audio


@dataclass
class InferenceResult:
    """What one output video holds."""

    outfile: str
    emotion: str
    frames: int
    fps: float
    seconds: float
    filled: int          # distinct input frames whose missing face box was interpolated
    passed_through: int  # output frames left unchanged for lack of a face
    detection_cached: bool
    timings: dict
    settings: dict = field(default_factory=dict)  # precision, encoder, pipelined: what the run used


def default_batch_size(device: torch.device) -> int:
    """Generator batch: 256 on CUDA as the original; 32 on CPU, which keeps activations in cache-friendly sizes."""
    return 256 if device.type == "cuda" else 32


def output_paths(outfile: Optional[str], emotions: Sequence[str]) -> dict[str, str]:
    """results/<EMOTION>.mp4 by default; with several emotions an explicit name gets a _<EMOTION> suffix."""
    if not outfile:
        return {e: os.path.join("results", f"{e}.mp4") for e in emotions}
    if len(emotions) == 1:
        return {emotions[0]: outfile}
    stem, ext = os.path.splitext(outfile)
    return {e: f"{stem}_{e}{ext or '.mp4'}" for e in emotions}


def load_generator(path: str, device: torch.device) -> Wav2Lip:
    """The EmoGen generator from an official-format checkpoint, in eval mode on ``device``."""
    model = Wav2Lip()
    load_weights(model, path, "EmoGen generator", map_location="cpu")
    return model.to(device).eval()


def load_audio_mel(path: str, workdir: str) -> tuple[np.ndarray, float]:
    """Mel spectrogram of any audio source (converted to 16 kHz mono in ``workdir``) and its duration in s."""
    wav_path = os.path.join(workdir, "audio_16k.wav")
    extract_audio(path, wav_path, hparams.sample_rate)
    wav = audio.load_wav(wav_path, hparams.sample_rate)
    mel = audio.melspectrogram(wav)
    if np.isnan(mel.reshape(-1)).sum() > 0:
        raise UserError("the mel spectrogram contains NaN (a TTS voice?); add a small epsilon noise to the wav "
                        "file and try again")
    return mel, len(wav) / hparams.sample_rate


def parse_emotion_list(text: str) -> list[str]:
    """'all', one emotion, or several joined by commas (in the order given, duplicates dropped)."""
    value = (text or "").strip().upper()
    if value == "ALL":
        return list(EMOTIONS)
    emotions = []
    for part in value.split(","):
        emotion_one_hot(part.strip())
        if part.strip() not in emotions:
            emotions.append(part.strip())
    return emotions


def _validate(opts: InferenceOptions) -> list[str]:
    require_file(opts.face, "--face", "a video or an image (jpg, jpeg, png)")
    require_file(opts.audio, "--audio", "any audio or video file ffmpeg can read")
    emotions = parse_emotion_list(opts.emotion)
    if opts.missing_face not in MISSING_FACE_MODES:
        raise UserError(f"--missing_face must be one of {', '.join(MISSING_FACE_MODES)}")
    if opts.resize_factor < 1:
        raise UserError("--resize_factor must be 1 or more")
    if not opts.fps > 0:
        raise UserError(f"--fps must be positive, got {opts.fps}")
    if len(opts.pads) != 4 or len(opts.crop) != 4 or len(opts.box) != 4:
        raise UserError("--pads, --crop and --box take four integers: top bottom left right")
    return emotions


class FaceSource:
    """The face input: a still image (or --static first frame) or a video, with the per-frame transform."""

    def __init__(self, opts: InferenceOptions) -> None:
        self.path = opts.face
        self.transform = FrameTransform(opts.resize_factor, opts.rotate, tuple(opts.crop))
        self.is_image = is_image_path(opts.face)
        self.static = opts.static or self.is_image
        if self.is_image:
            self.fps = float(opts.fps)
            first = self.transform(read_image(opts.face))
        else:
            fps = video_fps(opts.face)
            self.fps = fps if fps > 0 else float(opts.fps)
            first = next(iter_frames(opts.face, self.transform, limit=1), None)
            if first is None:
                raise UserError(f"--face {opts.face}: the video has no readable frames")
        if first.size == 0:
            raise UserError("--crop leaves an empty frame; check top bottom left right against the frame size")
        self.first = first
        self.height, self.width = first.shape[:2]

    def frames(self, limit: int) -> Iterator[np.ndarray]:
        """Up to ``limit`` distinct input frames (one for a still)."""
        if self.static:
            yield self.first
        else:
            yield from iter_frames(self.path, self.transform, limit=limit)

    def cycle(self, n_distinct: int, total: int) -> Iterator[np.ndarray]:
        """``total`` output frames: frame i is input frame i mod n_distinct (always the still for images)."""
        produced = 0
        while produced < total:
            for frame in self.frames(n_distinct):
                yield frame.copy()
                produced += 1
                if produced >= total:
                    return

    def frame_at(self, index: int) -> np.ndarray:
        """One input frame (for saving the frame where no face was found)."""
        for i, frame in enumerate(self.frames(index + 1)):
            if i == index:
                return frame
        return self.first


def _no_face_error(source: FaceSource, index: int, outfile: str, reason: str) -> UserError:
    stem = os.path.splitext(outfile)[0]
    saved = f"{stem}_no_face_frame{index}.jpg"
    os.makedirs(os.path.dirname(os.path.abspath(saved)), exist_ok=True)
    cv2.imwrite(saved, source.frame_at(index))
    return UserError(f"{reason}: no face found in frame {index} (t={index / source.fps:.2f} s), saved as {saved}; "
                     "try --pads, --box, --resize_factor or --missing_face interpolate|passthrough")


def detect_boxes(opts: InferenceOptions, source: FaceSource, frames_needed: int,
                 timings: dict) -> tuple[list, bool]:
    """Raw face boxes for the distinct input frames (cached by file content and settings); (boxes, cache hit)."""
    detector_name = resolve_detector_name(opts.face_detector)
    settings = DetectionSettings(max_side=opts.det_max_side, stride=opts.det_stride,
                                 batch_size=opts.face_det_batch_size)
    key = {"detector": detector_name, "max_side": settings.max_side, "stride": settings.stride,
           "transform": source.transform.key(), "static": source.static}
    cache = DetectionCache(opts.cache_dir)
    needed = 1 if source.static else frames_needed
    start = time.perf_counter()
    cached = cache.load(opts.face, key, needed)
    if cached is not None:
        timings["detection"] = time.perf_counter() - start
        return cached, True
    detector = create_detector(detector_name, device=opts.device)
    bar = tqdm(total=needed, desc="face detection", unit="frame", disable=not opts.progress)

    done = [0]  # tqdm does not count when disabled

    def advance(n: int) -> None:
        bar.update(n)
        done[0] += n
        if opts.on_progress:
            opts.on_progress("face detection", done[0], needed)

    boxes = detect_video_boxes(source.frames(needed), detector, settings, on_progress=advance)
    bar.close()
    cache.store(opts.face, key, boxes, complete=len(boxes) < needed)
    timings["detection"] = time.perf_counter() - start
    return boxes, False


def face_coords(opts: InferenceOptions, source: FaceSource, frames_needed: int, first_outfile: str,
                timings: dict) -> tuple[list[Optional[Coords]], int, bool]:
    """Crop coordinates per distinct input frame, the number of frames filled, and whether the cache was hit."""
    if opts.box[0] != -1:
        y1, y2, x1, x2 = check_box(opts.box, source.height, source.width)
        n = 1 if source.static else sum(1 for _ in source.frames(frames_needed))
        timings["detection"] = 0.0
        return [(y1, y2, x1, x2)] * n, 0, False
    raw, hit = detect_boxes(opts, source, frames_needed, timings)
    if not raw or all(b is None for b in raw):
        raise _no_face_error(source, 0, first_outfile, "no face in any frame")
    filled = 0
    if opts.missing_face == "error":
        missing = next((i for i, b in enumerate(raw) if b is None), None)
        if missing is not None:
            raise _no_face_error(source, missing, first_outfile, "face not detected (--missing_face error)")
    elif opts.missing_face == "interpolate":
        raw, filled = fill_gaps(raw, max_gap=max(1, int(round(source.fps))))
    shape = (source.height, source.width)
    coords = crop_coords(raw, shape, opts.pads, opts.nosmooth)
    empty = next((i for i, c in enumerate(coords) if c is not None and (c[1] <= c[0] or c[3] <= c[2])), None)
    if empty is not None:
        raise UserError(f"--pads {' '.join(map(str, opts.pads))} leave an empty face box in frame {empty} (detected "
                        f"box {raw[empty]} as x1 y1 x2 y2 in a {source.width}x{source.height} frame); use smaller "
                        "negative pads")
    return coords, filled, hit


def check_box(box: Sequence[int], height: int, width: int) -> Coords:
    """A --box (top bottom left right) that lies inside the frame with positive size, or a UserError."""
    y1, y2, x1, x2 = box
    if not (0 <= y1 < y2 <= height and 0 <= x1 < x2 <= width):
        raise UserError(f"--box {y1} {y2} {x1} {x2} does not fit the frame, which is {width}x{height} (width x "
                        "height) after --resize_factor, --rotate and --crop: it needs 0 <= TOP < BOTTOM <= "
                        f"{height} and 0 <= LEFT < RIGHT <= {width}")
    return y1, y2, x1, x2


def run_inference(opts: InferenceOptions, model: Optional[Wav2Lip] = None) -> list[InferenceResult]:
    """Run the whole pipeline for one or several emotions; every output is written atomically.

    ``model`` lets callers that generate many videos load the generator once (it must be on ``opts.device``).
    """
    emotions = _validate(opts)
    outfiles = output_paths(opts.outfile, emotions)
    for outfile in outfiles.values():  # fail now, not after all the work
        ensure_writable_dir(os.path.dirname(os.path.abspath(outfile)), f"--outfile {outfile}")
    device = resolve_device(opts.device)
    precision = resolve_precision(opts.precision, device)
    encoder = choose_encoder(opts.encoder, device.type)
    timings: dict = {}
    started = time.perf_counter()
    if model is None:
        model = load_generator(opts.checkpoint_path, device)
    model = prepare_model(model, precision)
    timings["load model"] = time.perf_counter() - started
    settings = RenderSettings(device, opts.wav2lip_batch_size or default_batch_size(device), precision.dtype,
                              opts.pipelined, encoder, opts.progress, opts.on_progress)
    with tempfile.TemporaryDirectory(prefix="emogen-") as workdir:
        t = time.perf_counter()
        mel, duration = load_audio_mel(opts.audio, workdir)
        if opts.max_seconds is not None and duration > opts.max_seconds:
            raise UserError(f"the voice lasts {duration:.1f} s; the limit is {opts.max_seconds:g} s")
        source = FaceSource(opts)
        starts = mel_chunk_starts(mel.shape[1], source.fps)
        timings["audio"] = time.perf_counter() - t
        coords, filled, hit = face_coords(opts, source, len(starts), outfiles[emotions[0]], timings)
        t = time.perf_counter()
        with contextlib.ExitStack() as stack:
            outputs = []
            try:
                for emotion in emotions:
                    tmp = stack.enter_context(atomic_path(outfiles[emotion], suffix=".mp4"))
                    writer = VideoWriter(tmp, source.width, source.height, source.fps, audio_path=opts.audio,
                                         encoder=encoder, fragmented=opts.live)
                    outputs.append(RenderOutput(emotion, outfiles[emotion], writer, one_hot_tensor(emotion)))
                    if opts.on_output:
                        opts.on_output(emotion, tmp)
                batches = make_batches(source.cycle(len(coords), len(starts)), coords, source.static, mel, starts,
                                       hparams.img_size, settings)
                render(model, batches, outputs, len(starts), settings, timings, started)
                for out in outputs:
                    out.writer.close()
            except BaseException:
                for out in outputs:
                    out.writer.abort()
                raise
        timings["generate"] = time.perf_counter() - t
        timings["first frame"] = timings.get("first frame", 0.0)
    n = len(starts)
    info = {"precision": precision.name, "encoder": encoder, "pipelined": opts.pipelined}
    return [InferenceResult(out.path, out.emotion, n, source.fps, n / source.fps, filled, out.passed, hit,
                            dict(timings), info) for out in outputs]
