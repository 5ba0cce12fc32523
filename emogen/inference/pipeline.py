"""Inference: an emotional lip-synced video from a face video or image and any speech, streamed in chunks.

Two passes over the face video keep memory bounded whatever its length: one only detects face boxes (or reads
them from the detection cache), on its own thread; the other reads frames again as their boxes become final,
generates faces in batches and pipes the finished frames straight into ffmpeg.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Optional

from emogen.common.atomic import atomic_path, ensure_writable_dir
from emogen.common.checkpoint_io import check_checkpoint_path
from emogen.common.errors import UserError, interrupts_held
from emogen.common.generator_kind import WAV2LIP, generator_kind
from emogen.common.media import VideoWriter, choose_encoder
from emogen.common.paths import refuse_overwriting_inputs
from hparams import hparams

from .enhance import load_enhancer
from .face_boxes import detection_label, face_boxes
from .face_source import FaceSource
from .generator import Generator, build_generator, default_batch_size, precision_label
from .geometry import mel_chunk_starts
from .options import InferenceOptions, output_paths, resolve_runtime, validate
from .renderer import RenderOutput, RenderSettings, make_batches, render
from .speech import load_audio_mel


@dataclass
class InferenceResult:
    """What one output video holds."""

    outfile: str
    emotion: str
    frames: int
    fps: float
    seconds: float
    filled: int  # distinct input frames whose missing face box was interpolated
    passed_through: int  # output frames left unchanged for lack of a face
    detection_cached: bool
    timings: dict
    settings: dict = field(default_factory=dict)  # precision, encoder, pipelined, faces: what the run used


def run_inference(opts: InferenceOptions, model: Optional[Generator] = None) -> list[InferenceResult]:
    """Run the whole pipeline for one or several emotions; every output is written atomically.

    ``model`` lets callers that generate many videos build the generator once (``generator_for(opts)``).
    """
    emotions = validate(opts)
    outfiles = output_paths(opts.outfile, emotions)
    for outfile in outfiles.values():  # fail now, not after all the work
        refuse_overwriting_inputs("outfile", outfile, {"face": opts.face, "audio": opts.audio})
        ensure_writable_dir(os.path.dirname(os.path.abspath(outfile)), f"--outfile {outfile}")
    runtime = resolve_runtime(opts)
    device, precision, backend = runtime.device, runtime.precision, runtime.backend
    encoder = choose_encoder(opts.encoder, device.type)
    timings: dict = {}
    started = time.perf_counter()
    check_checkpoint_path(opts.checkpoint_path)
    if model is None and backend == "torch":  # fast, and a wrong checkpoint is reported before any other work
        model = build_generator(opts.checkpoint_path, device, precision, backend)
        timings["load model"] = time.perf_counter() - started
    settings = RenderSettings(
        device,
        opts.wav2lip_batch_size or default_batch_size(device),
        precision.dtype,
        opts.pipelined,
        encoder,
        opts.progress,
        opts.on_progress,
        opts.blend,
        lower_half=generator_kind(opts.checkpoint_path) == WAV2LIP,
        enhancer=load_enhancer(opts.enhance, device) if opts.enhance else None,
    )
    with tempfile.TemporaryDirectory(prefix="emogen-") as workdir:
        t = time.perf_counter()
        mel, duration = load_audio_mel(opts.audio, workdir)
        if opts.max_seconds is not None and duration > opts.max_seconds:
            raise UserError(f"the voice lasts {duration:.1f} s; the limit is {opts.max_seconds:g} s")
        source = FaceSource(opts)
        starts = mel_chunk_starts(mel.shape[1], source.fps)
        timings["audio"] = time.perf_counter() - t
        # Streamed boxes: detection runs on its own thread while the model loads and the frames are generated.
        boxes = face_boxes(opts, source, len(starts), outfiles[emotions[0]], timings)
        if model is None:
            # After the inputs were read and checked: a first OpenVINO conversion takes seconds, and a mistake in
            # the speech or the face (no face at all, pads leaving no box) should not wait for it. The first box
            # is final after a few frames' detection, so the rest of detection still overlaps the conversion.
            try:
                boxes.at(0)
                t = time.perf_counter()
                model = build_generator(opts.checkpoint_path, device, precision, backend)
            except BaseException:
                boxes.close()
                raise
            timings["load model"] = time.perf_counter() - t
        t = time.perf_counter()
        with contextlib.ExitStack() as stack:
            stack.callback(boxes.close)
            outputs = []
            try:
                for emotion in emotions:
                    # An interrupt between starting ffmpeg and recording it would leave an encoder nobody stops,
                    # which writes its hidden partial file after the cleanup has removed it.
                    with interrupts_held():
                        tmp = stack.enter_context(atomic_path(outfiles[emotion], suffix=".mp4"))
                        writer = VideoWriter(
                            tmp,
                            source.width,
                            source.height,
                            source.fps,
                            audio_path=opts.audio,
                            encoder=encoder,
                            fragmented=opts.live,
                        )
                        outputs.append(RenderOutput(emotion, outfiles[emotion], writer))
                    if opts.on_output:
                        opts.on_output(emotion, tmp)
                # The input frames detection reads (at most one per output frame), repeated while speech lasts.
                batches = make_batches(
                    source.cycle(len(starts), len(starts)),
                    boxes,
                    source.static,
                    mel,
                    starts,
                    hparams.img_size,
                    settings,
                )
                render(model, batches, outputs, len(starts), settings, timings, started)
                _, filled = boxes.result()  # a check that failed after the last frame still fails the run
                for out in outputs:
                    out.writer.close()
            except BaseException:
                for out in outputs:
                    out.writer.abort()
                raise
        timings["generate"] = time.perf_counter() - t
        timings["first frame"] = timings.get("first frame", 0.0)
    n = len(starts)
    info = {
        "precision": precision_label(model, precision),
        "backend": backend,
        "encoder": encoder,
        "pipelined": opts.pipelined,
        "blend": opts.blend,
        "faces": detection_label(opts, source),
        "enhance": settings.enhancer.name if settings.enhancer else None,
    }
    return [
        InferenceResult(
            out.path, out.emotion, n, source.fps, n / source.fps, filled, out.passed, boxes.hit, dict(timings), info
        )
        for out in outputs
    ]


def generator_for(opts: InferenceOptions) -> Generator:
    """The generator ``run_inference(opts)`` would build, for callers that run many jobs with one model."""
    runtime = resolve_runtime(opts)
    return build_generator(opts.checkpoint_path, runtime.device, runtime.precision, runtime.backend)
