"""Flask app of the web interface: upload or pick a face and a voice, choose emotions, watch the result.

No path from a request reaches the file system: uploads are saved under fixed names in a private per-job
folder, examples are chosen by key, results are looked up by job id and emotion name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

import cv2
from flask import Flask, jsonify, request, send_file, send_from_directory
from werkzeug.exceptions import RequestEntityTooLarge

from emogen import EMOTIONS
from emogen.checkpoints import CheckpointError
from emogen.errors import UserError
from emogen.inference_pipeline import InferenceOptions, load_generator, output_paths, run_inference
from emogen.media import probe
from emogen.device import resolve_device

from .jobs import Job, JobQueue, parse_emotions

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
FACE_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".jpg", ".jpeg", ".png"}
AUDIO_EXTENSIONS = {".wav", ".mp3", ".m4a", ".ogg", ".oga", ".webm", ".flac", ".aac", ".mp4"}
EXAMPLES = {
    "face": {"example face (video)": os.path.join(ROOT, "examples", "face.mp4")},
    "audio": {"example speech (English)": os.path.join(ROOT, "examples", "speech.wav")},
}


@dataclass
class WebConfig:
    """Server settings (all from the command line)."""

    checkpoint_path: str
    device: Optional[str] = None
    face_detector: str = "auto"
    max_upload_mb: float = 50.0
    max_seconds: float = 60.0
    keep_minutes: float = 30.0
    cache_dir: Optional[str] = None
    work_root: Optional[str] = None
    examples: dict = field(default_factory=lambda: EXAMPLES)
    precision: str = "auto"


class RejectedUpload(Exception):
    """An upload that is refused with a message for the page."""


def _check_media(path: str, kind: str, max_seconds: float) -> None:
    ext = os.path.splitext(path)[1].lower()
    if kind == "face" and ext in (".jpg", ".jpeg", ".png"):
        if cv2.imread(path) is None:
            raise RejectedUpload("the face file is not a readable image")
        return
    try:
        info = probe(path)
    except UserError:
        raise RejectedUpload(f"the {kind} file is not a media file ffmpeg can read") from None
    streams = {s.get("codec_type") for s in info.get("streams", [])}
    needed = "video" if kind == "face" else "audio"
    if needed not in streams:
        raise RejectedUpload(f"the {kind} file has no {needed} stream")
    try:
        duration = float(info.get("format", {}).get("duration", "nan"))
    except ValueError:
        duration = float("nan")
    if duration == duration and duration > max_seconds:  # NaN (unknown) passes; the pipeline checks again
        raise RejectedUpload(f"the {kind} file lasts {duration:.1f} s; the limit is {max_seconds:g} s")


def _take_input(kind: str, folder: str, cfg: WebConfig) -> str:
    """Path of the chosen example or of the uploaded file saved under a fixed name in the job folder."""
    example = request.form.get(f"{kind}_example", "")
    upload = request.files.get(kind)
    if upload is not None and upload.filename:
        ext = os.path.splitext(upload.filename)[1].lower()
        allowed = FACE_EXTENSIONS if kind == "face" else AUDIO_EXTENSIONS
        if ext not in allowed:
            raise RejectedUpload(f"{kind} files must be one of {', '.join(sorted(allowed))}")
        path = os.path.join(folder, f"{kind}{ext}")
        upload.save(path)
        _check_media(path, kind, cfg.max_seconds)
        return path
    if example:
        if example not in cfg.examples[kind]:
            raise RejectedUpload(f"unknown {kind} example")
        return cfg.examples[kind][example]
    raise RejectedUpload(f"choose an example {kind} or upload one")


def create_app(cfg: WebConfig) -> Flask:
    """The Flask app; loads the generator once (or reports which file is missing)."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = int(cfg.max_upload_mb * 1024 * 1024)
    device = resolve_device(cfg.device)
    state: dict = {"model": None, "missing": None}
    if not os.path.isfile(cfg.checkpoint_path):
        state["missing"] = (f"Generator checkpoint not found at {cfg.checkpoint_path}. Download the EmoGen "
                            "generator (see checkpoints/README.md), put it at checkpoints/emogen_generator.pth "
                            "and restart, or pass --checkpoint_path.")
    else:
        try:
            state["model"] = load_generator(cfg.checkpoint_path, device)
        except CheckpointError as exc:
            state["missing"] = str(exc)

    def run(job: Job) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            job.stage, job.done, job.total = stage, done, total

        emotion = "all" if len(job.emotions) > 1 else job.emotions[0]
        opts = InferenceOptions(cfg.checkpoint_path, job.face, job.audio, emotion,
                                outfile=os.path.join(job.folder, "result.mp4"), face_detector=cfg.face_detector,
                                device=str(device), cache_dir=cfg.cache_dir, precision=cfg.precision, progress=False,
                                on_progress=progress)
        results = run_inference(opts, model=state["model"])
        job.outputs = output_paths(opts.outfile, job.emotions)
        job.timings = {k: round(v, 2) for k, v in results[-1].timings.items()}
        job.detection_cached = results[0].detection_cached

    queue = JobQueue(run, cfg.work_root, keep_seconds=cfg.keep_minutes * 60)
    app.extensions["emogen_queue"] = queue

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        return jsonify(error=f"upload too large: the limit is {cfg.max_upload_mb:g} MB"), 413

    @app.get("/")
    def index():
        return send_from_directory(STATIC, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name: str):
        return send_from_directory(STATIC, name)  # refuses paths outside the folder

    @app.get("/api/config")
    def config():
        return jsonify(ready=state["model"] is not None, missing=state["missing"], emotions=list(EMOTIONS),
                       examples={k: sorted(v) for k, v in cfg.examples.items()}, max_upload_mb=cfg.max_upload_mb,
                       max_seconds=cfg.max_seconds)

    @app.post("/api/jobs")
    def submit():
        if state["model"] is None:
            return jsonify(error=state["missing"]), 503
        job_id, folder = queue.new_folder()
        try:
            emotions = parse_emotions(request.form.get("emotion", ""))
            face = _take_input("face", folder, cfg)
            audio = _take_input("audio", folder, cfg)
        except (RejectedUpload, ValueError) as exc:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            return jsonify(error=str(exc)), 400
        job = Job(job_id, folder, face, audio, emotions)
        queue.submit(job)
        return jsonify(id=job_id, position=queue.position(job)), 202

    @app.get("/api/jobs/<job_id>")
    def status(job_id: str):
        job = queue.get(job_id)
        if job is None:
            return jsonify(error="unknown or expired job"), 404
        return jsonify(state=job.state, position=queue.position(job), stage=job.stage, done=job.done,
                       total=job.total, error=job.error, timings=job.timings, detection_cached=job.detection_cached,
                       results={e: f"/api/jobs/{job.id}/{e}.mp4" for e in job.outputs})

    @app.get("/api/jobs/<job_id>/<emotion>.mp4")
    def result(job_id: str, emotion: str):
        job = queue.get(job_id)
        if job is None or emotion not in job.outputs or not os.path.isfile(job.outputs[emotion]):
            return jsonify(error="no such result"), 404
        return send_file(job.outputs[emotion], mimetype="video/mp4",
                         as_attachment=request.args.get("download") == "1", download_name=f"emogen_{emotion}.mp4")

    return app
