"""Rendering output videos from decoded frames: crops, generator batches, paste, encode.

Two schedules give the same frames. ``serial`` runs the stages one after another in one thread (the order the
original uses, kept for comparison). ``pipelined`` overlaps them: a reader thread decodes frames and builds the
generator's input tensors, the calling thread runs the generator, and one writer thread per output pastes the
faces and feeds its encoder; bounded queues keep memory flat in the input's length. Several emotions share one
decode and one set of input tensors: each batch is generated once per emotion.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence, Union

import numpy as np
from tqdm import tqdm

from emogen.common.contract import MEL_STEP_SIZE, Coords, emotion_one_hot
from emogen.common.media import VideoWriter
from emogen.common.openvino_runtime import OpenVINONetwork
from emogen.common.precision import autocast

from .box_stream import BoxList, BoxStream
from .geometry import generator_inputs, paste

if TYPE_CHECKING:
    import torch

    from .generator import Generator

QUEUE_BATCHES = 2  # batches waiting between two stages; with the one in work, memory is a few batches


@dataclass
class RenderSettings:
    """How to run the generator and schedule the stages."""

    device: torch.device  # or a Device name (emogen.common.device)
    batch_size: int
    dtype: Optional[str] = None  # autocast dtype's name; None: float32, the exact path
    pipelined: bool = True
    encoder: str = "libx264"
    progress: bool = True
    on_progress: Optional[Callable[[str, int, int], None]] = None
    blend: str = "hard"  # how faces go back into frames (emogen.inference.blending); hard = the original
    lower_half: bool = False  # mask only the crop's lower half (a Wav2Lip generator's input) instead of all of it
    enhancer: Optional[Any] = None  # a FaceEnhancer run on the generated faces before pasting (--enhance)
    reference: str = "frame"  # the generator's reference face: frame (the original), closed_mouth, masked_mouth
    reference_crops: Optional[Any] = None  # ReferenceCrops of a closed_mouth run


@dataclass
class Batch:
    """Consecutive output frames with their crop boxes and, for the frames with a face, the generator inputs
    (numpy arrays on the CPU, tensors already on the GPU for a CUDA run)."""

    frames: list[np.ndarray]
    coords: list[Optional[Coords]]
    with_face: list[int]
    mel: Optional[Any] = None
    face: Optional[Any] = None


@dataclass
class RenderOutput:
    """One video being written: its emotion, encoder and counters."""

    emotion: str
    path: str
    writer: VideoWriter
    passed: int = 0
    written: int = 0
    error: Optional[BaseException] = None
    inbox: queue.Queue = field(default_factory=lambda: queue.Queue(QUEUE_BATCHES))


def _to_gpu(array: np.ndarray, device: torch.device, channels_last: bool) -> torch.Tensor:
    import torch

    layout = torch.channels_last if channels_last else torch.contiguous_format
    # Pinned host memory lets the copy run asynchronously while the GPU still works on the previous batch.
    return torch.from_numpy(array).contiguous(memory_format=layout).pin_memory().to(device, non_blocking=True)


def make_batches(
    frames: Iterator[np.ndarray],
    coords: Union[Sequence[Optional[Coords]], BoxList, BoxStream],
    static: bool,
    mel: np.ndarray,
    starts: Sequence[int],
    img_size: int,
    settings: RenderSettings,
) -> Iterator[Batch]:
    """Group the output frames into generator batches and build their inputs (see generator_inputs), copied to
    the GPU here for a CUDA run, so the copy overlaps the previous batch's generation."""

    def finish(b: Batch, first: int) -> Batch:
        if b.with_face:
            faces = [b.frames[i][y1:y2, x1:x2] for i in b.with_face for (y1, y2, x1, x2) in [b.coords[i]]]
            mels = [mel[:, starts[first + i] : starts[first + i] + MEL_STEP_SIZE] for i in b.with_face]
            picked = settings.reference_crops
            refs = [picked.crop(0 if static else first + i) for i in b.with_face] if picked else None
            masked = settings.reference == "masked_mouth"
            b.mel, b.face = generator_inputs(faces, mels, img_size, settings.lower_half, refs, masked)
            if settings.device.type == "cuda":
                b.mel, b.face = _to_gpu(b.mel, settings.device, False), _to_gpu(b.face, settings.device, True)
        return b

    # A list is indexed as the input frames cycle; a BoxList or BoxStream says itself (the stream waits until
    # the box is final).
    box_at = getattr(coords, "at", None) or (lambda i: coords[0 if static else i % len(coords)])
    batch, first = Batch([], [], []), 0
    for i, frame in enumerate(frames):
        c = box_at(i)
        if c is not None:
            batch.with_face.append(len(batch.frames))
        batch.frames.append(frame)
        batch.coords.append(c)
        if len(batch.frames) >= settings.batch_size:
            yield finish(batch, first)
            batch, first = Batch([], [], []), i + 1
    if batch.frames:
        yield finish(batch, first)


def generate(model: Generator, batch: Batch, emotion: str, settings: RenderSettings) -> np.ndarray:
    """Generated faces (N, 96, 96, 3) float32 in [0, 1] for the frames of ``batch`` that have a face, by a torch
    module or an OpenVINO network (which takes the arrays as they are, without torch)."""
    if not batch.with_face:
        return np.zeros((0,), np.float32)
    emotional = getattr(model, "has_emotion", True)  # a Wav2Lip generator takes no emotion
    one_hot = np.repeat(emotion_one_hot(emotion)[None], len(batch.with_face), axis=0) if emotional else None
    if isinstance(model, OpenVINONetwork) and isinstance(batch.mel, np.ndarray):
        inputs = (batch.mel, batch.face) if one_hot is None else (batch.mel, batch.face, one_hot)
        return model(*inputs).transpose(0, 2, 3, 1)
    import torch

    # from_numpy keeps the face array's NHWC strides: the channels_last layout the original feeds its generator.
    mel, face = (
        torch.from_numpy(x).to(settings.device) if isinstance(x, np.ndarray) else x for x in (batch.mel, batch.face)
    )
    with torch.inference_mode(), autocast(settings.device, settings.dtype):
        pred = model(mel, face) if one_hot is None else model(mel, face, torch.from_numpy(one_hot).to(settings.device))
    return pred.float().cpu().numpy().transpose(0, 2, 3, 1)


def write_batch(out: RenderOutput, batch: Batch, pred: np.ndarray, copy: bool, settings: RenderSettings) -> None:
    """Paste the generated faces into the batch's frames (a copy when other emotions share them) and encode."""
    if settings.enhancer is not None and len(pred):
        pred = settings.enhancer.enhance(pred)
    generated = dict(zip(batch.with_face, pred))
    for i, frame in enumerate(batch.frames):
        if i in generated:
            frame = frame.copy() if copy else frame
            paste(frame, generated[i], batch.coords[i], settings.blend, settings.lower_half)
        else:
            out.passed += 1
        out.writer.write(frame)
        out.written += 1


class _Progress:
    """One bar over all outputs' frames, the caller's (stage, done, total) callback per output, and the time the
    first frame reached an encoder."""

    def __init__(
        self, outputs: list[RenderOutput], total: int, settings: RenderSettings, timings: dict, started: float
    ) -> None:
        self.total, self.settings, self.timings, self.started = total, settings, timings, started
        label = outputs[0].emotion if len(outputs) == 1 else f"{len(outputs)} emotions"
        self.bar = tqdm(
            total=total * len(outputs), desc=f"generating {label}", unit="frame", disable=not settings.progress
        )
        self.lock = threading.Lock()

    def advance(self, out: RenderOutput, n: int) -> None:
        """Count ``n`` frames written to ``out``."""
        with self.lock:
            self.timings.setdefault("first frame", time.perf_counter() - self.started)
            self.bar.update(n)
            if self.settings.on_progress:
                self.settings.on_progress(f"generating {out.emotion}", out.written, self.total)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put unless ``stop`` is set first (the consumer is gone); True if the item was queued."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _reader(batches: Iterator[Batch], inbox: queue.Queue, stop: threading.Event) -> None:
    try:
        for batch in batches:
            if not _put(inbox, batch, stop):
                return
        _put(inbox, None, stop)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        _put(inbox, exc, stop)
    finally:
        # The decoder behind the batches is released in this thread, now, not by the collector at interpreter
        # exit, where native code tearing down under it can abort the process.
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def _writer(out: RenderOutput, copy: bool, progress: _Progress) -> None:
    try:
        while True:
            item = out.inbox.get()
            if item is None:
                return
            batch, pred = item
            write_batch(out, batch, pred, copy, progress.settings)
            progress.advance(out, len(batch.frames))
    except BaseException as exc:
        out.error = exc
        while out.inbox.get() is not None:  # keep draining so the producer never blocks on a dead writer
            pass


def _hand_over(out: RenderOutput, item) -> None:
    while True:
        if out.error is not None:
            raise out.error
        try:
            out.inbox.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def render(
    model: Generator,
    batches: Iterator[Batch],
    outputs: list[RenderOutput],
    total: int,
    settings: RenderSettings,
    timings: dict,
    started: float,
) -> None:
    """Generate every output from the same batches; ``timings['first frame']`` is when the first frame reached
    an encoder, in seconds after ``started``."""
    copy = len(outputs) > 1
    progress = _Progress(outputs, total, settings, timings, started)
    try:
        if settings.pipelined:
            _render_pipelined(model, batches, outputs, settings, progress, copy)
        else:
            for batch in batches:
                for out in outputs:
                    write_batch(out, batch, generate(model, batch, out.emotion, settings), copy, settings)
                    progress.advance(out, len(batch.frames))
    finally:
        progress.close()


def _render_pipelined(
    model: Generator,
    batches: Iterator[Batch],
    outputs: list[RenderOutput],
    settings: RenderSettings,
    progress: _Progress,
    copy: bool,
) -> None:
    inbox: queue.Queue = queue.Queue(QUEUE_BATCHES)
    stop = threading.Event()
    reader = threading.Thread(target=_reader, args=(batches, inbox, stop), name="emogen-decode", daemon=True)
    writers = [
        threading.Thread(target=_writer, args=(out, copy, progress), name=f"emogen-encode-{out.emotion}", daemon=True)
        for out in outputs
    ]
    try:
        # Started inside the try: an interrupt (Ctrl-C, SIGTERM) can land between two starts, and the finally must
        # still stop and join every thread that runs, or native code would still be running at exit.
        reader.start()
        for w in writers:
            w.start()
        while True:
            item = inbox.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            for out in outputs:
                _hand_over(out, (item, generate(model, item, out.emotion, settings)))
    finally:
        stop.set()
        for out, w in zip(outputs, writers):
            if w.ident is not None:
                out.inbox.put(None)
                w.join()
        if reader.ident is not None:
            # It stops after the batch it is making; the bound only guards against a decoder that never returns.
            reader.join(timeout=60)
    for out in outputs:
        if out.error is not None:
            raise out.error
