"""What the web server holds while it runs: its settings, the generator (or why there is none), the options
every job shares, the job queue and the live-session registry. One object, made by :func:`build_state`, that the
blueprints read through :func:`current_state`."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Optional

from flask import current_app

from emogen.common.checkpoint_io import CheckpointError
from emogen.inference.generator import Generator, has_emotion
from emogen.inference.options import InferenceOptions
from emogen.inference.pipeline import generator_for, run_inference
from emogen.inference.plan import Runtime, prepare, resolve_runtime

from .config import WebConfig
from .jobs import Job, JobQueue
from .live import LiveRegistry

EXTENSION = "emogen"


@dataclass
class WebState:
    """The running server's state; ``model`` is None when the generator is missing (``missing`` says why)."""

    cfg: WebConfig
    runtime: Runtime  # resolved once for the server: device, precision, backend
    base: InferenceOptions  # what every job shares; each job sets its inputs, emotion and output
    model: Optional[Generator]
    missing: Optional[str]
    queue: JobQueue
    registry: LiveRegistry

    @property
    def lipsync_only(self) -> bool:
        """A Wav2Lip generator: lip sync only, no emotion to choose."""
        return self.model is not None and not has_emotion(self.model)


def load_generator(cfg: WebConfig, runtime: Runtime) -> tuple[Optional[Generator], Optional[str]]:
    """The generator once, or None and a line for the page saying which file is missing or wrong."""
    # The page names files, never the server's folders.
    name = os.path.basename(cfg.checkpoint_path)
    if not os.path.isfile(cfg.checkpoint_path):
        return None, (
            f"Generator checkpoint {name} not found. Download the EmoGen "
            "generator (see checkpoints/README.md), put it at checkpoints/emogen_generator.pth "
            "and restart, or pass --checkpoint_path; or run python3 demo.py first, which trains "
            "one on the example face in a few minutes."
        )
    try:
        return generator_for(cfg.checkpoint_path, runtime), None
    except CheckpointError as exc:
        return None, str(exc).replace(cfg.checkpoint_path, name)


def build_state(cfg: WebConfig) -> WebState:
    """The server's state for ``cfg``: the generator loaded, the queue ready to run jobs."""
    base = InferenceOptions(
        cfg.checkpoint_path,
        "",
        "",
        "",
        face_detector=cfg.face_detector,
        detection=cfg.detection,
        device=cfg.device,
        cache_dir=cfg.cache_dir,
        precision=cfg.precision,
        backend=cfg.backend,
        progress=False,
        fragmented_mp4=True,
        save_no_face_frame=False,  # a user's frame stays in no folder of the server's
        max_seconds=cfg.max_seconds,
        blend=cfg.blend,
        max_pixels=cfg.max_pixels,
    )
    runtime = resolve_runtime(base)
    model, missing = load_generator(cfg, runtime)
    holder: dict = {}
    queue = JobQueue(
        lambda job: run_job(holder["state"], job),
        cfg.work_root,
        keep_seconds=cfg.keep_minutes * 60,
        max_queued=cfg.max_queued,
        max_per_client=cfg.max_per_client,
    )
    state = WebState(cfg, runtime, base, model, missing, queue, LiveRegistry(cfg.live.max_sessions))
    holder["state"] = state
    return state


def run_job(state: WebState, job: Job) -> None:
    """Generate a job's emotions one after another, so the first plays at full speed; face detection runs once
    (the detection cache serves the later emotions)."""
    queue = state.queue

    def progress(stage: str, done: int, total: int) -> None:
        queue.check_cancelled()
        job.stage, job.done, job.total = stage, done, total

    def started(emotion: str, path: str) -> None:
        job.partial[emotion] = path
        job.started.append(emotion)

    for emotion in job.emotions:
        queue.check_cancelled()
        opts = dataclasses.replace(
            state.base,
            face=job.face,
            audio=job.audio,
            emotion=emotion,
            outfile=os.path.join(job.folder, f"result_{emotion}.mp4"),
            on_progress=progress,
            on_output=started,
        )
        [result] = run_inference(prepare(opts, state.runtime), model=state.model)
        job.outputs[emotion] = result.outfile
        job.finished.append(emotion)
        job.detection_cached = job.detection_cached or result.detection_cached
        for key, value in result.timings.items():
            name = f"{key} {emotion}" if key in ("generate", "first frame") else key
            job.timings[name] = round(job.timings.get(name, 0.0) + value, 2)


def current_state() -> WebState:
    """The state of the app handling the current request."""
    return current_app.extensions[EXTENSION]
