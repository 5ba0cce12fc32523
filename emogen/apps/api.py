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
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import numpy as np

from emogen.common.atomic import atomic_path, ensure_writable_dir, owned_temp_prefix, sweep_orphaned_temp_dirs
from emogen.common.checkpoint_io import check_checkpoint_path
from emogen.common.contract import EMOTIONS
from emogen.common.errors import UserError, require_file
from emogen.common.generator_kind import WAV2LIP, generator_kind
from emogen.common.media import iter_frames
from emogen.common.paths import refuse_overwriting_inputs
from emogen.common.weights import WEIGHTS
from emogen.inference.blending import DEFAULT_BLEND
from emogen.inference.generator import Generator
from emogen.inference.options import FACE_EXPECTED, MAX_PIXELS, InferenceOptions, check_outfile, emotions_for
from emogen.inference.pipeline import generator_for, run_inference
from emogen.inference.plan import plan_faces, prepare, resolve_runtime
from emogen.inference.streaming import LiveFace, LiveSession, LiveSettings

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class GeneratedVideo:
    """One generated video: an MP4 (H.264 + AAC) at ``path``, in a private temporary folder until saved."""

    path: str
    emotion: str
    frames: int
    fps: float
    seconds: float
    settings: dict = field(default_factory=dict)  # the precision, runtime and encoder that ran
    inputs: dict = field(default_factory=dict)  # {"face": path, "audio": path}: save() never replaces them
    _cleanup: Optional[weakref.finalize] = field(default=None, repr=False, compare=False)

    def save(self, path: PathLike) -> str:
        """Copy the video to ``path`` (an .mp4 file name; written under a temporary name, then renamed); the
        face and audio the video was made from are never replaced."""
        path = _path_text(path, "path")
        check_outfile(path)
        refuse_overwriting_inputs("path", path, self.inputs)
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise UserError.about("path", f"{path}: {folder} is a file, not a folder")
        ensure_writable_dir(folder, f"path {path}")
        with atomic_path(path, suffix=".mp4") as tmp:
            shutil.copyfile(self.path, tmp)
        return path

    def iter_frames(self) -> Iterator[np.ndarray]:
        """The video's frames as BGR uint8 arrays (H, W, 3), one at a time, as decoded from the file."""
        return iter_frames(self.path)

    def to_array(self) -> np.ndarray:
        """All frames at once, (T, H, W, 3) BGR uint8: mind the memory for long videos."""
        return np.stack(list(self.iter_frames()))


def _path_text(value: Any, name: str) -> str:
    """A str or os.PathLike as text, or a UserError naming the argument."""
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise UserError.about(name, f"must be a file path (str or pathlib.Path), got {type(value).__name__}")


def _emotion_text(value: Any) -> Optional[str]:
    """An emotion argument as text (a label, a comma list or 'all'), or a UserError."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Sequence) and all(isinstance(e, str) for e in value):
        return ",".join(value)
    raise UserError.about("emotion", f"must be one of {', '.join(EMOTIONS)} (a str), got {value!r}")


def _number(value: Any, name: str) -> float:
    """A real number argument, or a UserError naming it (a str such as "25" is refused, not converted)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise UserError.about(name, f"must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class FaceSettings:
    """How the face is read, found and pasted back, with the command line's defaults; generate(),
    generate_each() and live() take one as ``settings`` (box, pads, static and fps also as keywords)."""

    box: Optional[Sequence[int]] = None
    pads: Sequence[int] = (0, 10, 0, 0)
    static: bool = False
    fps: float = 25.0
    resize_factor: int = 1
    crop: Sequence[int] = (0, -1, 0, -1)
    rotate: bool = False
    nosmooth: bool = False
    missing_face: str = "interpolate"
    detection: str = "auto"
    blend: str = DEFAULT_BLEND
    reference: str = "auto"  # the generator's reference face: auto, frame (the original), closed_mouth, masked_mouth


class EmoGen:
    """A generator ready to run: build it with :meth:`from_checkpoint`, then :meth:`generate` or :meth:`live`."""

    def __init__(
        self,
        checkpoint_path: PathLike,
        device: str = "auto",
        precision: str = "auto",
        backend: str = "auto",
        face_detector: str = "auto",
        max_pixels: Optional[int] = MAX_PIXELS,
    ) -> None:
        path = _path_text(checkpoint_path, "checkpoint_path")
        if not os.path.isfile(path):
            raise UserError.about("checkpoint_path", WEIGHTS["emogen_generator"].missing_message(path))
        check_checkpoint_path(path)
        sweep_orphaned_temp_dirs("api")  # the videos of a process that was killed before it could remove them
        self.checkpoint_path = path
        self._base = InferenceOptions(
            path,
            face="",
            audio="",
            emotion="NEU",
            device=None if device == "auto" else device,
            precision=precision,
            backend=backend,
            face_detector=face_detector,
            progress=False,
            max_pixels=max_pixels,
            save_no_face_frame=False,  # the API's output folder is private and temporary: nothing to look at
        )
        self.runtime = resolve_runtime(self._base)
        self._generator: Optional[Generator] = None
        self._building = threading.Lock()

    @classmethod
    def from_checkpoint(
        cls,
        path: Optional[PathLike] = None,
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
        return cls(path or WEIGHTS["emogen_generator"].resolve(None), device, precision, backend, face_detector)

    @property
    def generator(self) -> Generator:
        """The network, built on first use (once, whichever thread asks first) and kept for every later call."""
        with self._building:
            if self._generator is None:
                self._generator = generator_for(self.checkpoint_path, self.runtime)
        return self._generator

    def _options(self, face: Any, audio: Any, emotion: Optional[str], settings: FaceSettings, **run: Any):
        opts = dataclasses.replace(
            self._base,
            face=_path_text(face, "face"),
            audio=_path_text(audio, "audio"),
            emotion=emotion,
            **dataclasses.asdict(settings),
            **run,
        )
        opts.fps = _number(opts.fps, "fps")
        return opts

    def generate(
        self,
        face: PathLike,
        audio: PathLike,
        emotion: Optional[str] = None,
        *,
        settings: FaceSettings = FaceSettings(),
        box: Optional[Sequence[int]] = None,
        pads: Optional[Sequence[int]] = None,
        static: Optional[bool] = None,
        fps: Optional[float] = None,
        batch_size: Optional[int] = None,
        enhance: Optional[PathLike] = None,
        max_seconds: Optional[float] = None,
        progress: bool = False,
        on_progress: Optional[Callable[[str, int, int], None]] = None,
    ) -> GeneratedVideo:
        """``face`` (a video or an image) speaking ``audio`` (any file ffmpeg reads) with ``emotion`` (needed by
        an EmoGen generator; left out with a Wav2Lip one, which does lip sync only).

        ``box`` (top, bottom, left, right) skips face detection; ``pads``, ``static`` and ``fps`` are the
        command line's; ``settings`` holds the rest of how the face is read and pasted (FaceSettings);
        ``batch_size`` frames per generator batch; ``enhance`` a face restoration weight file; ``max_seconds``
        refuses longer speech; ``on_progress(stage, done, total)`` is called as the run goes.
        """
        emotion = _emotion_text(emotion)
        emotions = emotions_for(self.checkpoint_path, emotion)
        if len(emotions) != 1:
            raise UserError.about("emotion", f"{emotion}: generate() makes one video; use generate_each() for several")
        return self.generate_each(
            face,
            audio,
            emotions,
            settings=settings,
            box=box,
            pads=pads,
            static=static,
            fps=fps,
            batch_size=batch_size,
            enhance=enhance,
            max_seconds=max_seconds,
            progress=progress,
            on_progress=on_progress,
        )[emotions[0]]

    def generate_each(
        self,
        face: PathLike,
        audio: PathLike,
        emotions: Optional[Sequence[str]] = None,
        *,
        settings: FaceSettings = FaceSettings(),
        box: Optional[Sequence[int]] = None,
        pads: Optional[Sequence[int]] = None,
        static: Optional[bool] = None,
        fps: Optional[float] = None,
        batch_size: Optional[int] = None,
        enhance: Optional[PathLike] = None,
        max_seconds: Optional[float] = None,
        progress: bool = False,
        on_progress: Optional[Callable[[str, int, int], None]] = None,
    ) -> dict[str, GeneratedVideo]:
        """One video per emotion (default all six; a Wav2Lip generator's one lip-synced video), sharing one pass
        over the face: {emotion: video}. The keywords are :meth:`generate`'s."""
        if emotions is None:
            requested = None if generator_kind(self.checkpoint_path) == WAV2LIP else "all"
        else:
            requested = _emotion_text(emotions)
        wanted = emotions_for(self.checkpoint_path, requested)
        settings = _with(settings, box=box, pads=pads, static=static, fps=fps)
        run = {
            "wav2lip_batch_size": batch_size,
            "enhance": None if enhance is None else _path_text(enhance, "enhance"),
            "max_seconds": max_seconds,
            "progress": progress,
            "on_progress": on_progress,
        }
        folder = tempfile.mkdtemp(prefix=owned_temp_prefix("api"))
        try:
            opts = self._options(face, audio, ",".join(wanted), settings, **run)
            opts.outfile = os.path.join(folder, "video.mp4")
            plan = prepare(opts, self.runtime)  # every input checked before the network is built
            results = run_inference(plan, self.generator)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        inputs = {"face": opts.face, "audio": opts.audio}
        videos = {
            r.emotion: GeneratedVideo(r.outfile, r.emotion, r.frames, r.fps, r.seconds, dict(r.settings), inputs)
            for r in results
        }
        _share_folder(list(videos.values()), folder)
        return videos

    def live(
        self,
        face: PathLike,
        emotion: Optional[str] = None,
        max_batch: int = 8,
        max_waiting: int = 10,
        max_ready: int = 50,
        *,
        settings: FaceSettings = FaceSettings(),
        box: Optional[Sequence[int]] = None,
        pads: Optional[Sequence[int]] = None,
        static: Optional[bool] = None,
        fps: Optional[float] = None,
    ) -> LiveSession:
        """A live session on ``face``: push 16 kHz mono float32 speech as it arrives (``session.push(pcm)``), read
        frames as they are ready (``session.frames()``), switch ``session.set_emotion(...)``, then ``close()``.

        Speech windows waiting beyond ``max_waiting`` frames, and ready frames beyond ``max_ready``, are dropped
        oldest first, so a live picture never falls behind; raise both to keep every frame of a file.
        """
        emotions = emotions_for(self.checkpoint_path, _emotion_text(emotion))
        if len(emotions) != 1:
            raise UserError.about("emotion", f"{emotion}: a live session speaks one emotion at a time")
        opts = self._options(face, face, emotions[0], _with(settings, box=box, pads=pads, static=static, fps=fps))
        require_file(opts.face, "face", FACE_EXPECTED)
        face_plan = plan_faces(opts, self.runtime)
        source = LiveFace.from_options(opts, face_plan)
        live = LiveSettings(
            self.runtime.device, self.runtime.precision.dtype, max_batch, max_waiting, max_ready, opts.blend
        )
        return LiveSession(self.generator, source, opts.emotion, live)


def _with(settings: FaceSettings, **given: Any) -> FaceSettings:
    """``settings`` with the keywords that were given (not None) put in."""
    if not isinstance(settings, FaceSettings):
        raise UserError.about("settings", f"must be an emogen.FaceSettings, got {type(settings).__name__}")
    return dataclasses.replace(settings, **{k: v for k, v in given.items() if v is not None})


def _share_folder(videos: list[GeneratedVideo], folder: str) -> None:
    """Remove ``folder`` once every one of ``videos`` is gone (or at interpreter exit)."""
    remaining = {"count": len(videos)}

    def release() -> None:
        remaining["count"] -= 1
        if remaining["count"] <= 0:
            shutil.rmtree(folder, ignore_errors=True)

    for video in videos:
        video._cleanup = weakref.finalize(video, release)
