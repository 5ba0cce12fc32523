"""Flask app of the web interface: upload or pick a face and a voice, choose emotions, watch them as they render.

No path from a request reaches the file system: uploads are saved under fixed names in a private per-job
folder, examples are chosen by key, results are looked up by job id and emotion name. Each emotion's video is
written as fragmented MP4, streamed to the page while it grows (Media Source Extensions play it), and kept for
download when complete.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import time
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request, send_file, send_from_directory
from flask_sock import Sock
from simple_websocket import ConnectionClosed
from werkzeug.exceptions import RequestEntityTooLarge

from emogen.common.checkpoint_io import CheckpointError
from emogen.common.contract import EMOTION_WORDS, EMOTIONS, parse_emotions
from emogen.common.device import choose_device
from emogen.common.errors import UserError
from emogen.common.examples import EXAMPLE_FACE, EXAMPLE_SPEECH
from emogen.common.media import count_packets, probe
from emogen.inference.options import InferenceOptions
from emogen.inference.pipeline import generator_for, run_inference

from .jobs import Job, JobQueue, QueueFull
from .live import MAX_AUDIO_MESSAGE, LiveLimits, LiveRefused, LiveRegistry, open_live, refuse_live, run_live_socket

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
FACE_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".jpg", ".jpeg", ".png"}
AUDIO_EXTENSIONS = {".wav", ".mp3", ".m4a", ".ogg", ".oga", ".webm", ".flac", ".aac", ".mp4"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png"}
EXAMPLES = {
    "face": {"example face (video)": EXAMPLE_FACE},
    "audio": {"example speech (English)": EXAMPLE_SPEECH},
}
LIVE_CHUNK = 64 * 1024
LIVE_PATH = "/api/live"


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
    backend: str = "auto"
    max_pixels: int = 3840 * 2160   # largest face frame (width x height), checked before decoding
    max_queued: int = 20            # jobs waiting in all
    max_per_client: int = 3         # jobs waiting or running per client address
    allowed_hosts: tuple = ()       # extra Host names accepted (besides the address it listens on)
    notice: str = ""                # a line the page shows above everything (e.g. which generator this is)
    live: LiveLimits = field(default_factory=LiveLimits)


class RejectedUpload(Exception):
    """An upload refused with a message for the page; ``field`` says which input it concerns."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _check_media(path: str, kind: str, cfg: WebConfig) -> None:
    """Probe headers only (nothing is decoded in full): a media file of the right kind, duration and size."""
    try:
        info = probe(path)
    except UserError:
        raise RejectedUpload(f"the {kind} file is not a media file ffmpeg can read", kind) from None
    streams = info.get("streams", [])
    needed = "video" if kind == "face" else "audio"
    if not any(s.get("codec_type") == needed for s in streams):
        raise RejectedUpload(f"the {kind} file has no {needed} stream", kind)
    if kind == "face":
        video = next(s for s in streams if s.get("codec_type") == "video")
        pixels = int(video.get("width") or 0) * int(video.get("height") or 0)
        if pixels > cfg.max_pixels:
            raise RejectedUpload(f"the face is {video.get('width')}x{video.get('height')} pixels; the limit is "
                                 f"{cfg.max_pixels / 1e6:.1f} megapixels (resize it first)", kind)
        if os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS:
            return
    try:
        duration = float(info.get("format", {}).get("duration", "nan"))
    except ValueError:
        duration = float("nan")
    # An unknown duration passes here (the decoded length is checked again while generating), unless the stream
    # has no data at all: a header with no samples is refused now, next to its input.
    empty = duration <= 0 if duration == duration else count_packets(path, "a:0" if kind == "audio" else "v:0") == 0
    if empty:
        raise RejectedUpload(f"the {kind} file holds no {'sound' if kind == 'audio' else 'frames'}", kind)
    if duration == duration and duration > cfg.max_seconds:
        raise RejectedUpload(f"the {kind} file lasts {duration:.1f} s; the limit is {cfg.max_seconds:g} s", kind)


def _take_input(kind: str, folder: str, cfg: WebConfig, form, files) -> str:
    """Path of the chosen example or of the uploaded file saved under a fixed name in the job folder."""
    example = form.get(f"{kind}_example", "")
    upload = files.get(kind)
    if upload is not None and upload.filename:
        ext = os.path.splitext(upload.filename)[1].lower()
        allowed = FACE_EXTENSIONS if kind == "face" else AUDIO_EXTENSIONS
        if ext not in allowed:
            raise RejectedUpload(f"{kind} files must be one of {', '.join(sorted(allowed))}", kind)
        path = os.path.join(folder, f"{kind}{ext}")
        upload.save(path)
        if os.path.getsize(path) == 0:
            raise RejectedUpload(f"the {kind} file is empty", kind)
        _check_media(path, kind, cfg)
        return path
    if example:
        if example not in cfg.examples[kind]:
            raise RejectedUpload(f"unknown {kind} example", kind)
        return cfg.examples[kind][example]
    raise RejectedUpload(f"choose an example {kind} or upload one", kind)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _allowed_hosts(app: Flask, cfg: WebConfig) -> Optional[set]:
    """Host headers accepted (None: any, when listening on all interfaces without --allowed_hosts)."""
    host, port = app.config.get("EMOGEN_HOST", "127.0.0.1"), app.config.get("EMOGEN_PORT")
    names = {host}
    if _is_loopback(host):
        names |= {"localhost", "127.0.0.1", "[::1]"}
    elif host in ("0.0.0.0", "::", "") and not cfg.allowed_hosts:
        return None
    names |= set(cfg.allowed_hosts)
    # With or without the port: a rebinding page's own name never matches these.
    return {f"{n}:{port}" for n in names} | names


def _live_face_path(choice: str, cfg: WebConfig, queue: JobQueue, client: str) -> Optional[str]:
    """The face a live session asked for: an example by its index, or ``job:<id>``, the face of one of this
    client's own requests (uploads are checked when the request is made); None when there is no such face."""
    if choice.startswith("job:"):
        job = queue.get(choice[4:])
        return job.face if job is not None and job.client == client and job.face else None
    names = sorted(cfg.examples.get("face", {}))
    return cfg.examples["face"][names[int(choice)]] if choice.isdigit() and int(choice) < len(names) else None


def _refuse(ws, exc: Exception) -> None:
    refuse_live(ws, str(exc))


def create_app(cfg: WebConfig) -> Flask:
    """The Flask app; loads the generator once (or reports which file is missing)."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = int(cfg.max_upload_mb * 1024 * 1024)
    device = choose_device(cfg.device)
    state: dict = {"model": None, "missing": None}
    # What every job shares; each job sets its inputs, emotion and output.
    base = InferenceOptions(cfg.checkpoint_path, "", "", "", face_detector=cfg.face_detector, device=str(device),
                            cache_dir=cfg.cache_dir, precision=cfg.precision, backend=cfg.backend, progress=False,
                            live=True, max_seconds=cfg.max_seconds)
    if not os.path.isfile(cfg.checkpoint_path):
        state["missing"] = (f"Generator checkpoint not found at {cfg.checkpoint_path}. Download the EmoGen "
                            "generator (see checkpoints/README.md), put it at checkpoints/emogen_generator.pth "
                            "and restart, or pass --checkpoint_path; or run python3 demo.py first, which trains "
                            "one on the example face in a few minutes.")
    else:
        try:
            state["model"] = generator_for(base)
        except CheckpointError as exc:
            state["missing"] = str(exc)

    def run(job: Job) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            queue.check_cancelled()
            job.stage, job.done, job.total = stage, done, total

        def started(emotion: str, path: str) -> None:
            job.live[emotion] = path
            job.started.append(emotion)

        # One emotion after another, so the first plays at full speed; face detection runs once (cache).
        for emotion in job.emotions:
            queue.check_cancelled()
            opts = dataclasses.replace(base, face=job.face, audio=job.audio, emotion=emotion,
                                       outfile=os.path.join(job.folder, f"result_{emotion}.mp4"),
                                       on_progress=progress, on_output=started)
            [result] = run_inference(opts, model=state["model"])
            job.outputs[emotion] = result.outfile
            job.finished.append(emotion)
            job.detection_cached = job.detection_cached or result.detection_cached
            for key, value in result.timings.items():
                name = f"{key} {emotion}" if key in ("generate", "first frame") else key
                job.timings[name] = round(job.timings.get(name, 0.0) + value, 2)

    queue = JobQueue(run, cfg.work_root, keep_seconds=cfg.keep_minutes * 60, max_queued=cfg.max_queued,
                     max_per_client=cfg.max_per_client)
    app.extensions["emogen_queue"] = queue

    @app.before_request
    def same_site_only():
        """Refuse other Host names (DNS rebinding) and cross-site posts."""
        allowed = _allowed_hosts(app, cfg)
        if allowed is not None and request.host not in allowed:
            return jsonify(error=f"unknown host {request.host!r}"), 403
        if request.path == LIVE_PATH:  # browsers send Origin on every WebSocket handshake: refuse other sites
            origin = urlsplit(request.headers.get("Origin") or "").netloc
            if not origin or (origin != request.host and (allowed is None or origin not in allowed)):
                return jsonify(error="cross-site WebSocket refused"), 403
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc != request.host:
                return jsonify(error="cross-site request refused"), 403
            if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
                return jsonify(error="cross-site request refused"), 403
        return None

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        if (request.content_length or 0) > app.config["MAX_CONTENT_LENGTH"]:
            return jsonify(error=f"upload too large: the limit is {cfg.max_upload_mb:g} MB"), 413
        return jsonify(error="a form field is too large"), 413

    @app.get("/")
    def index():
        return send_from_directory(STATIC, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name: str):
        return send_from_directory(STATIC, name)  # refuses paths outside the folder

    @app.get("/api/config")
    def config():
        return jsonify(ready=state["model"] is not None, missing=state["missing"], notice=cfg.notice,
                       emotions=list(EMOTIONS),
                       emotion_words=EMOTION_WORDS, examples={k: sorted(v) for k, v in cfg.examples.items()},
                       max_upload_mb=cfg.max_upload_mb, max_seconds=cfg.max_seconds)

    @app.get("/api/examples/<kind>/<int:index>")
    def example_file(kind: str, index: int):
        """The bundled example media, by kind and index (for the page's previews)."""
        names = sorted(cfg.examples.get(kind, {}))
        if index >= len(names):
            return jsonify(error="no such example"), 404
        return send_file(cfg.examples[kind][names[index]])

    @app.post("/api/jobs")
    def submit():
        if state["model"] is None:
            return jsonify(error=state["missing"]), 503
        client = request.remote_addr or ""
        form, files = request.form, request.files  # parsed (and size-checked) before any place is held
        try:
            emotions = parse_emotions(form.getlist("emotion"))
        except UserError as exc:
            return jsonify(error=str(exc), field="emotion"), 400
        try:
            job = queue.reserve(client)
        except QueueFull as exc:
            return jsonify(error=str(exc)), 429
        try:
            job.face = _take_input("face", job.folder, cfg, form, files)
            job.audio = _take_input("audio", job.folder, cfg, form, files)
        except RejectedUpload as exc:
            queue.discard(job)
            return jsonify(error=str(exc), field=exc.field), 400
        except BaseException:
            queue.discard(job)
            raise
        job.emotions = emotions
        queue.submit(job)
        job_id = job.id
        return jsonify(id=job_id, position=queue.position(job)), 202

    @app.get("/api/jobs/<job_id>")
    def status(job_id: str):
        job = queue.get(job_id)
        if job is None:
            return jsonify(error="unknown or expired job"), 404
        current = next((e for e in job.started if e not in job.finished), None)
        return jsonify(state=job.state, position=queue.position(job), stage=job.stage, done=job.done,
                       total=job.total, error=job.error, timings=job.timings, detection_cached=job.detection_cached,
                       emotions=job.emotions, started=job.started, finished=job.finished, current=current,
                       live={e: f"/api/jobs/{job.id}/{e}/live" for e in job.started},
                       results={e: f"/api/jobs/{job.id}/{e}.mp4" for e in job.finished})

    @app.get("/api/jobs/<job_id>/<emotion>/live")
    def live(job_id: str, emotion: str):
        """The emotion's fragmented MP4 as it is written, streamed until it is complete."""
        job = queue.get(job_id)
        if job is None or emotion not in job.live:
            return jsonify(error="no such video"), 404
        path = job.outputs.get(emotion) or job.live[emotion]
        try:
            handle = open(path, "rb")  # an open file survives the rename that completes it
        except OSError:
            path = job.outputs.get(emotion, "")
            if not path:
                return jsonify(error="no such video"), 404
            handle = open(path, "rb")

        def stream():
            idle = time.time()
            with handle:
                while True:
                    chunk = handle.read(LIVE_CHUNK)
                    if chunk:
                        idle = time.time()
                        yield chunk
                        continue
                    if emotion in job.finished or job.state == "error" or time.time() - idle > 300:
                        rest = handle.read()
                        if rest:
                            yield rest
                        return
                    time.sleep(0.1)

        return Response(stream(), mimetype="video/mp4", headers={"Cache-Control": "no-store"})

    # Frames larger than this are refused by the WebSocket layer itself, before they are buffered.
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": 2 * MAX_AUDIO_MESSAGE, "ping_interval": 25}
    sock = Sock(app)
    registry = LiveRegistry()
    app.extensions["emogen_live"] = registry

    @sock.route(LIVE_PATH)
    def live_socket(ws):
        """A live session: microphone audio in, JPEG frames out (see emogen.apps.web.live)."""
        client = request.remote_addr or ""
        try:
            registry.claim(client)
        except LiveRefused as exc:
            _refuse(ws, exc)
            return
        try:
            if state["model"] is None:
                raise LiveRefused(state["missing"])
            path = _live_face_path(request.args.get("face", "0"), cfg, queue, client)
            emotion = request.args.get("emotion", "NEU")
            face = open_live(registry, path, emotion, base)
            run_live_socket(ws, face, state["model"], emotion, base, cfg.live, device)
        except LiveRefused as exc:
            _refuse(ws, exc)
        except ConnectionClosed:
            pass
        finally:
            registry.release(client)

    @app.get("/api/jobs/<job_id>/<emotion>.mp4")
    def result(job_id: str, emotion: str):
        job = queue.get(job_id)
        if job is None or emotion not in job.outputs or not os.path.isfile(job.outputs[emotion]):
            return jsonify(error="no such result"), 404
        return send_file(job.outputs[emotion], mimetype="video/mp4",
                         as_attachment=request.args.get("download") == "1", download_name=f"emogen_{emotion}.mp4")

    return app
