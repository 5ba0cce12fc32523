"""Inference: an emotional lip-synced video from a face video or image and any speech, streamed in chunks.

Two passes over the face video keep memory bounded whatever its length: one only detects face boxes (or reads
them from the detection cache), on its own thread; the other reads frames again as their boxes become final,
generates faces in batches and pipes the finished frames straight into ffmpeg.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass, field
from typing import Optional, Union

from emogen.common.atomic import atomic_path, owned_temp_prefix
from emogen.common.errors import UserError, interrupts_held
from emogen.common.generator_kind import WAV2LIP, generator_kind
from emogen.common.media import VideoWriter
from hparams import hparams

from .enhance import load_enhancer
from .face_boxes import face_boxes
from .face_source import FaceSource
from .generator import Generator, build_generator, default_batch_size, precision_label
from .geometry import mel_chunk_starts
from .options import InferenceOptions
from .plan import RUN_TEMP, RunPlan, Runtime, prepare
from .references import ReferenceCrops
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


def run_inference(opts: Union[InferenceOptions, RunPlan], model: Optional[Generator] = None) -> list[InferenceResult]:
    """Run the whole pipeline for one or several emotions; every output is written atomically.

    ``opts`` may be a plan ``prepare`` made already; ``model`` lets callers that generate many videos build the
    generator once (``generator_for(plan)``).
    """
    plan = opts if isinstance(opts, RunPlan) else prepare(opts)
    opts, emotions, outfiles, encoder = plan.options, plan.emotions, plan.outfiles, plan.encoder
    device, precision, backend = plan.runtime.device, plan.runtime.precision, plan.runtime.backend
    timings: dict = {}
    started = time.perf_counter()
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
        reference=plan.reference,
    )
    with tempfile.TemporaryDirectory(prefix=owned_temp_prefix(RUN_TEMP)) as workdir:
        t = time.perf_counter()
        mel, duration = load_audio_mel(opts.audio, workdir)
        if opts.max_seconds is not None and duration > opts.max_seconds:
            raise UserError(f"the voice lasts {duration:.1f} s; the limit is {opts.max_seconds:g} s")
        source = FaceSource(opts)
        starts = mel_chunk_starts(mel.shape[1], source.fps)
        timings["audio"] = time.perf_counter() - t
        # Streamed boxes: detection runs on its own thread while the model loads and the frames are generated.
        boxes = face_boxes(opts, plan.faces, source, len(starts), timings)
        if plan.reference == "closed_mouth" and not source.static:
            # Every box first: the reference of a frame may lie a little ahead of it.
            coords, _ = boxes.result()
            settings.reference_crops = ReferenceCrops(lambda: source.frames(len(coords)), coords)
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
                            fragmented=opts.fragmented_mp4,
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
        "faces": plan.faces.label(source.static),
        "enhance": settings.enhancer.name if settings.enhancer else None,
        "reference": plan.reference,
    }
    return [
        InferenceResult(
            out.path, out.emotion, n, source.fps, n / source.fps, filled, out.passed, boxes.hit, dict(timings), info
        )
        for out in outputs
    ]


def generator_for(checkpoint_path: str, runtime: Runtime) -> Generator:
    """The generator a run on ``runtime`` would build, for callers that run many jobs with one model."""
    return build_generator(checkpoint_path, runtime.device, runtime.precision, runtime.backend)
