"""Live generation: speech arriving in chunks of any size becomes output frames, each as soon as its 16-step mel
window is complete, with the offline path's geometry (the same mel steps, windows, boxes, crops and paste).

    face = LiveFace.from_options(opts)                 # boxes from the detection cache, as inference.py
    live = LiveSession(generator, face, "HAP", LiveSettings(device))
    live.push(pcm_16k)                                 # any number of times, from any thread
    for frame in live.frames(): ...                    # LiveFrame, in order
    live.set_emotion("SAD"); live.finish(); live.close()

A worker thread turns ready windows into frames in small batches. When it falls behind, the oldest waiting
windows are dropped (and counted) so the delay stays bounded instead of growing.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Optional

import numpy as np

from emogen.common.contract import MEL_STEP_SIZE, Coords, mel_index, parse_emotions
from emogen.common.errors import UserError
from emogen.common.generator_kind import LIPSYNC
from emogen.common.media import iter_frames
from hparams import hparams

from .face_boxes import face_coords
from .face_source import FaceSource
from .geometry import generator_inputs, mel_chunk_starts, paste
from .options import InferenceOptions
from .plan import FacePlan, plan_faces, resolve_runtime
from .references import ReferenceCrops, resolve_reference
from .renderer import Batch, generate
from .streaming_mel import StreamingMel

if TYPE_CHECKING:
    import torch

SAMPLE_RATE = hparams.sample_rate  # the live input, as the offline path resamples every voice


@dataclass
class LiveSettings:
    """How a live session runs: the device and autocast dtype of the generator, the largest batch, and the
    longest queue of ready windows (in frames) before the oldest are dropped."""

    device: torch.device  # or a Device name (emogen.common.device)
    dtype: Optional[str] = None  # autocast dtype's name; None: float32
    max_batch: int = 8
    max_waiting: int = 10  # about 0.4 s at 25 fps
    max_ready: int = 50  # generated frames the consumer has not taken yet (oldest dropped beyond)
    blend: str = "hard"  # how faces go back into frames (emogen.inference.blending); hard = the original


@dataclass
class LiveFrame:
    """One output frame and its timing (time.perf_counter seconds)."""

    index: int
    image: np.ndarray  # the whole BGR frame with the generated face pasted
    emotion: str
    speech_arrived: float  # when the speech at this frame's time (index / fps) arrived
    window_ready: float  # when the last sample of its mel window arrived
    generated: float  # when it was pasted


class LiveFace:
    """The face of a live session: a still, or a video looped from its start, with the offline crop boxes.
    Shared by sessions (nothing in it changes); each session reads frames through its own ``reader()``."""

    def __init__(
        self,
        path: str,
        transform,
        static: bool,
        first: np.ndarray,
        fps: float,
        coords: list[Optional[Coords]],
        reference: str = "frame",
        references: Optional[ReferenceCrops] = None,
    ) -> None:
        self.path, self.transform, self.static, self.first, self.fps = path, transform, static, first, fps
        self.coords = coords
        self.reference, self.references = reference, references  # what the generator sees as the reference
        self.height, self.width = first.shape[:2]

    @classmethod
    def from_options(cls, opts: InferenceOptions, faces: Optional[FacePlan] = None) -> LiveFace:
        """Read the face and its boxes as inference.py does (detection cached; box, pads, static...); ``faces``
        is the run's face plan (planned here from ``opts`` when not given)."""
        faces = faces or plan_faces(opts, resolve_runtime(opts))
        source = FaceSource(opts)
        coords, _, _ = face_coords(opts, faces, source, 10**9, {})
        reference = resolve_reference(opts.reference, source.static)
        picked = None
        if reference == "closed_mouth":
            picked = ReferenceCrops(lambda: source.frames(len(coords)), coords)
        args = (source.path, source.transform, source.static, source.first, source.fps, coords)
        return cls(*args, reference=reference, references=picked)

    def reader(self) -> FaceReader:
        """A cursor over this face's frames for one session."""
        return FaceReader(self)


class FaceReader:
    """Input frames in output order for one session: decodes the video as it goes, from the start again when
    it ends (a still needs no decoding)."""

    def __init__(self, face: LiveFace) -> None:
        self.face = face
        self._frames: Optional[Iterator[np.ndarray]] = None
        self._position = -1
        self._current = face.first

    def frame(self, index: int) -> tuple[np.ndarray, Optional[Coords]]:
        """A copy of the input frame and crop box for output frame ``index`` (indices must not go back)."""
        face = self.face
        if face.static:
            return face.first.copy(), face.coords[0]
        wanted = index % len(face.coords)
        if wanted < self._position:
            self._frames, self._position = None, -1
        while self._position < wanted:
            if self._frames is None:
                self._frames = iter_frames(face.path, face.transform, limit=len(face.coords))
            self._current = next(self._frames)
            self._position += 1
        return self._current.copy(), face.coords[wanted]


class ArrivalClock:
    """When each sample arrived: (end sample, time) per chunk, forgotten once no frame can still ask."""

    def __init__(self) -> None:
        self._chunks: collections.deque = collections.deque()

    def add(self, end_sample: int, when: float) -> None:
        """Record that samples up to ``end_sample`` (exclusive) were in at ``when``."""
        self._chunks.append((end_sample, when))

    def time_of(self, sample: int) -> float:
        """When ``sample`` arrived (the last chunk's time for samples not yet in)."""
        for end, when in self._chunks:
            if sample < end:
                return when
        return self._chunks[-1][1] if self._chunks else time.perf_counter()

    def forget_before(self, sample: int) -> None:
        """Drop chunks that end at or before ``sample``."""
        while len(self._chunks) > 1 and self._chunks[0][0] <= sample:
            self._chunks.popleft()


@dataclass
class _Window:
    index: int
    mel: np.ndarray
    speech_arrived: float
    window_ready: float


@dataclass
class LiveStats:
    """Counters of a session."""

    produced: int = 0
    dropped_waiting: int = 0  # windows dropped because generation fell behind
    dropped_ready: int = 0  # frames dropped because the consumer fell behind
    samples: int = 0
    delays: list = field(default_factory=list)

    @property
    def dropped(self) -> int:
        """All frames not delivered."""
        return self.dropped_waiting + self.dropped_ready


class LiveSession:
    """Speech in (16 kHz float PCM chunks), frames out; thread-safe push, set_emotion, finish and frames."""

    def __init__(self, generator, face: LiveFace, emotion: str, settings: LiveSettings) -> None:
        self.generator, self.face, self.settings = generator, face, settings
        self._reader = face.reader()
        self.fps = face.fps
        self.emotion = self._check_emotion(emotion)
        self._lower_half = not getattr(generator, "has_emotion", True)  # a Wav2Lip generator's input
        self.stats = LiveStats()
        self._mel = StreamingMel()
        self._mel_steps = np.zeros((hparams.num_mels, 0))
        self._mel_origin = 0  # absolute index of self._mel_steps[:, 0]
        self._next_index = 0  # next output frame whose window is awaited
        self._clock = ArrivalClock()
        self._lock = threading.Condition()
        self._waiting: collections.deque = collections.deque()
        self._ready: collections.deque = collections.deque()
        self._ended = False  # no more speech
        self._done = False  # the worker has generated everything
        self._error: Optional[BaseException] = None
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="emogen-live", daemon=True)
        self._worker.start()

    def _check_emotion(self, emotion: str) -> str:
        if not getattr(self.generator, "has_emotion", True):
            if emotion not in (None, "", LIPSYNC):
                raise UserError.about("emotion", f"{emotion}: a Wav2Lip generator does lip sync only (no emotion)")
            return LIPSYNC
        chosen = parse_emotions(emotion) if isinstance(emotion, str) else []
        if len(chosen) != 1:
            raise UserError("a live session speaks one emotion at a time; switch it with set_emotion")
        return chosen[0]

    def set_emotion(self, emotion: str) -> None:
        """Use ``emotion`` for every frame generated from now on."""
        self.emotion = self._check_emotion(emotion)

    def push(self, pcm: np.ndarray, arrived: Optional[float] = None) -> None:
        """Add speech: float samples in [-1, 1] at 16 kHz (int16 samples are scaled)."""
        pcm = np.asarray(pcm)
        if pcm.ndim != 1 or not (np.issubdtype(pcm.dtype, np.floating) or np.issubdtype(pcm.dtype, np.integer)):
            raise UserError.about(
                "pcm",
                f"must be a 1-D array of 16 kHz mono samples (float in [-1, 1] or int16), got {pcm.dtype} "
                f"with shape {pcm.shape}",
            )
        if pcm.dtype == np.int16:
            pcm = pcm.astype(np.float32) / 32768.0
        arrived = time.perf_counter() if arrived is None else arrived
        with self._lock:
            if self._ended or self._closed:
                raise RuntimeError("push after finish or close")
            self.stats.samples += len(pcm)
            self._clock.add(self.stats.samples, arrived)
            self._add_steps(self._mel.push(pcm), arrived, final=False)

    def finish(self) -> None:
        """The speech has ended: the last windows (over the zero padding, the final one clamped) follow."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._add_steps(self._mel.finish(), time.perf_counter(), final=True)

    def _add_steps(self, steps: np.ndarray, arrived: float, final: bool) -> None:
        """Queue the windows the new mel steps complete (at the end: every window the offline path has left)."""
        self._mel_steps = np.concatenate((self._mel_steps, steps), axis=1)
        available = self._mel_origin + self._mel_steps.shape[1]
        if final:
            starts = mel_chunk_starts(available, self.fps) if available >= MEL_STEP_SIZE else []
            todo = list(zip(range(self._next_index, len(starts)), starts[self._next_index :]))
        else:
            todo = [(i, mel_index(i, self.fps)) for i in self._complete_indices(available)]
        for i, start in todo:
            at = start - self._mel_origin
            speech = self._clock.time_of(int(i * SAMPLE_RATE / self.fps))
            self._waiting.append(
                _Window(i, self._mel_steps[:, at : at + MEL_STEP_SIZE].astype(np.float32), speech, arrived)
            )
            self._next_index = i + 1
        while len(self._waiting) > self.settings.max_waiting:
            self._waiting.popleft()
            self.stats.dropped_waiting += 1
        # Keep only the mel steps a later window can use (the clamped last one may start before the next index's).
        keep_from = max(0, min(mel_index(self._next_index, self.fps), available - MEL_STEP_SIZE) - self._mel_origin)
        self._mel_steps = self._mel_steps[:, keep_from:]
        self._mel_origin += keep_from
        self._clock.forget_before(int(self._next_index * SAMPLE_RATE / self.fps))
        self._lock.notify_all()

    def _complete_indices(self, available: int) -> range:
        end = self._next_index
        while mel_index(end, self.fps) + MEL_STEP_SIZE <= available:
            end += 1
        return range(self._next_index, end)

    def _work(self) -> None:
        try:
            while True:
                with self._lock:
                    while not self._waiting and not self._ended and not self._closed:
                        self._lock.wait(0.5)
                    if self._closed or (self._ended and not self._waiting):
                        break
                    batch = [self._waiting.popleft() for _ in range(min(len(self._waiting), self.settings.max_batch))]
                    emotion = self.emotion
                frames = self._generate(batch, emotion)
                with self._lock:
                    for frame in frames:
                        self._ready.append(frame)
                        self.stats.produced += 1
                    while len(self._ready) > self.settings.max_ready:
                        self._ready.popleft()
                        self.stats.dropped_ready += 1
                    self._lock.notify_all()
        except BaseException as exc:  # handed to the consumer
            self._error = exc
        finally:
            with self._lock:
                self._done = True
                self._lock.notify_all()

    def _generate(self, batch: list[_Window], emotion: str) -> list[LiveFrame]:
        images, coords = zip(*(self._reader.frame(w.index) for w in batch))
        with_face = [k for k, c in enumerate(coords) if c is not None]
        if with_face:
            crops = [images[k][y1:y2, x1:x2] for k in with_face for (y1, y2, x1, x2) in [coords[k]]]
            picked = self.face.references
            refs = [picked.crop(batch[k].index) for k in with_face] if picked else None
            mel, face = generator_inputs(
                crops,
                [batch[k].mel for k in with_face],
                hparams.img_size,
                self._lower_half,
                refs,
                self.face.reference == "masked_mouth",
            )
            pred = generate(
                self.generator, Batch(list(images), list(coords), with_face, mel, face), emotion, self.settings
            )
            for k, face in zip(with_face, pred):
                paste(images[k], face, coords[k], self.settings.blend, self._lower_half)
        now = time.perf_counter()
        return [
            LiveFrame(w.index, img, emotion, w.speech_arrived, w.window_ready, now) for w, img in zip(batch, images)
        ]

    def frames(self, timeout: Optional[float] = None) -> Iterator[LiveFrame]:
        """Frames as they are generated, in order, until the speech has ended and all are out (or ``timeout``
        seconds pass without a frame)."""
        while True:
            with self._lock:
                deadline = None if timeout is None else time.perf_counter() + timeout
                while not self._ready and not self._done:
                    left = None if deadline is None else deadline - time.perf_counter()
                    if left is not None and left <= 0:
                        return
                    self._lock.wait(left if left is not None else 0.5)
                if self._error is not None:
                    raise self._error
                if not self._ready:
                    return
                frame = self._ready.popleft()
            yield frame

    def take_ready(self) -> list[LiveFrame]:
        """The frames generated so far and not yet taken (non-blocking)."""
        with self._lock:
            if self._error is not None:
                raise self._error
            out = list(self._ready)
            self._ready.clear()
            return out

    @property
    def windows(self) -> int:
        """Output frames whose mel window has been complete so far (generated, waiting or dropped)."""
        return self._next_index

    @property
    def done(self) -> bool:
        """True once the speech has ended and every frame has been generated."""
        return self._done

    def close(self) -> None:
        """Stop the worker (frames not yet generated are discarded)."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._worker.join(timeout=10)
