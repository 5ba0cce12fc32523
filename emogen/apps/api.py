"""The Python API: one object that holds a generator and turns a face and any speech into an emotional video.

    from emogen import EmoGen

    g = EmoGen.from_checkpoint("checkpoints/emogen_generator.pth")
    video = g.generate(face="face.mp4", audio="speech.wav", emotion="HAP")
    video.save("out.mp4")

The generator is built once and reused by every call. Errors are :class:`emogen.UserError` worded in the
API's own names (``face x.mp4: file not found``); the command lines show the same errors with their flags.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from emogen.common.atomic import atomic_path
from emogen.common.checkpoint_io import check_checkpoint_path
from emogen.common.errors import UserError, require_file
from emogen.common.generator_kind import WAV2LIP, generator_kind
from emogen.common.media import iter_frames
from emogen.common.weights import WEIGHTS
from emogen.inference.generator import Generator
from emogen.inference.options import FACE_EXPECTED, InferenceOptions, check_outfile, emotions_for, resolve_runtime
from emogen.inference.pipeline import generator_for, run_inference
from emogen.inference.streaming import LiveFace, LiveSession, LiveSettings

# The settings a call may pass on to the inference pipeline (the rest are fixed by the object or the call).
_RUN_FIELDS = frozenset(f.name for f in dataclasses.fields(InferenceOptions)) - {
    "checkpoint_path",
    "face",
    "audio",
    "emotion",
    "outfile",
    "device",
    "precision",
    "backend",
    "face_detector",
}


@dataclass
class GeneratedVideo:
    """One generated video: an MP4 (H.264 + AAC) at ``path``, in a private temporary folder until saved."""

    path: str
    emotion: str
    frames: int
    fps: float
    seconds: float
    settings: dict = field(default_factory=dict)  # the precision, runtime and encoder that ran
    _cleanup: Optional[weakref.finalize] = field(default=None, repr=False, compare=False)

    def save(self, path: str) -> str:
        """Copy the video to ``path`` (an .mp4 file name; written under a temporary name, then renamed)."""
        check_outfile(path)
        with atomic_path(path, suffix=".mp4") as tmp:
            shutil.copyfile(self.path, tmp)
        return path

    def iter_frames(self) -> Iterator[np.ndarray]:
        """The video's frames as BGR uint8 arrays (H, W, 3), one at a time, as decoded from the file."""
        return iter_frames(self.path)

    def to_array(self) -> np.ndarray:
        """All frames at once, (T, H, W, 3) BGR uint8: mind the memory for long videos."""
        return np.stack(list(self.iter_frames()))


class EmoGen:
    """A generator ready to run: build it with :meth:`from_checkpoint`, then :meth:`generate` or :meth:`live`."""

    def __init__(
        self,
        checkpoint_path: str,
        device: str = "auto",
        precision: str = "auto",
        backend: str = "auto",
        face_detector: str = "auto",
    ) -> None:
        self.checkpoint_path = checkpoint_path
        self._base = InferenceOptions(
            checkpoint_path,
            face="",
            audio="",
            emotion="NEU",
            device=None if device == "auto" else device,
            precision=precision,
            backend=backend,
            face_detector=face_detector,
            progress=False,
        )
        self.runtime = resolve_runtime(self._base)
        self._generator: Optional[Generator] = None

    @classmethod
    def from_checkpoint(
        cls,
        path: Optional[str] = None,
        device: str = "auto",
        precision: str = "auto",
        backend: str = "auto",
        face_detector: str = "auto",
    ) -> EmoGen:
        """An EmoGen over the generator checkpoint at ``path`` (default: checkpoints/emogen_generator.pth).

        ``device``: auto (CUDA when present), cpu, cuda, cuda:N. ``precision``: auto, fp32 (the original's exact
        arithmetic), fp32-cl, bf16, fp16, int8. ``backend``: auto, torch, openvino. ``face_detector``: auto (S3FD
        when its weights exist, else a download-free one), s3fd, dlib, opencv. The checkpoint is checked now; the
        network is built on the first call that needs it.
        """
        path = path or WEIGHTS["emogen_generator"].resolve(None)
        if not os.path.isfile(path):
            raise UserError.about("checkpoint_path", WEIGHTS["emogen_generator"].missing_message(path))
        check_checkpoint_path(path)
        return cls(path, device, precision, backend, face_detector)

    @property
    def generator(self) -> Generator:
        """The network, built on first use and kept for every later call."""
        if self._generator is None:
            self._generator = generator_for(self._base)
        return self._generator

    def _options(self, face: str, audio: str, emotion: str, outfile: Optional[str], settings: dict) -> InferenceOptions:
        unknown = sorted(set(settings) - _RUN_FIELDS)
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(_RUN_FIELDS))}")
        return dataclasses.replace(
            self._base, face=str(face), audio=str(audio), emotion=emotion, outfile=outfile, **settings
        )

    def generate(self, face: str, audio: str, emotion: Optional[str] = None, **settings: Any) -> GeneratedVideo:
        """``face`` (a video or an image) speaking ``audio`` (any file ffmpeg reads) with ``emotion`` (needed by
        an EmoGen generator; left out with a Wav2Lip one, which does lip sync only).

        ``settings`` are the inference options by name, e.g. ``box=(top, bottom, left, right)``, ``pads``,
        ``static``, ``fps``, ``nosmooth``, ``missing_face``, ``progress=True``, ``on_progress=callback``.
        """
        emotions = emotions_for(self.checkpoint_path, emotion)
        if len(emotions) != 1:
            raise UserError.about("emotion", f"{emotion}: generate() makes one video; use generate_each() for several")
        return self.generate_each(face, audio, emotions, **settings)[emotions[0]]

    def generate_each(
        self, face: str, audio: str, emotions: Optional[Sequence[str]] = None, **settings: Any
    ) -> dict[str, GeneratedVideo]:
        """One video per emotion (default all six; a Wav2Lip generator's one lip-synced video), sharing one pass
        over the face: {emotion: video}."""
        if emotions is None:
            requested = None if generator_kind(self.checkpoint_path) == WAV2LIP else "all"
        else:
            requested = emotions if isinstance(emotions, str) else ",".join(emotions)
        wanted = emotions_for(self.checkpoint_path, requested)
        folder = tempfile.mkdtemp(prefix="emogen-api-")
        try:
            outfile = os.path.join(folder, "video.mp4")
            results = run_inference(self._options(face, audio, ",".join(wanted), outfile, settings), self.generator)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        videos = {
            r.emotion: GeneratedVideo(r.outfile, r.emotion, r.frames, r.fps, r.seconds, dict(r.settings))
            for r in results
        }
        _share_folder(list(videos.values()), folder)
        return videos

    def live(
        self,
        face: str,
        emotion: Optional[str] = None,
        max_batch: int = 8,
        max_waiting: int = 10,
        max_ready: int = 50,
        **face_settings: Any,
    ) -> LiveSession:
        """A live session on ``face``: push 16 kHz mono float32 speech as it arrives (``session.push(pcm)``), read
        frames as they are ready (``session.frames()``), switch ``session.set_emotion(...)``, then ``close()``.

        Speech windows waiting beyond ``max_waiting`` frames, and ready frames beyond ``max_ready``, are dropped
        oldest first, so a live picture never falls behind; raise both to keep every frame of a file.
        """
        opts = self._options(face, face, emotions_for(self.checkpoint_path, emotion)[0], None, face_settings)
        require_file(opts.face, "face", FACE_EXPECTED)
        settings = LiveSettings(
            self.runtime.device, self.runtime.precision.dtype, max_batch, max_waiting, max_ready, opts.blend
        )
        return LiveSession(self.generator, LiveFace.from_options(opts), opts.emotion, settings)


def _share_folder(videos: list[GeneratedVideo], folder: str) -> None:
    """Remove ``folder`` once every one of ``videos`` is gone (or at interpreter exit)."""
    remaining = {"count": len(videos)}

    def release() -> None:
        remaining["count"] -= 1
        if remaining["count"] <= 0:
            shutil.rmtree(folder, ignore_errors=True)

    for video in videos:
        video._cleanup = weakref.finalize(video, release)
