"""Blueprint of "Make a video": submit a request, follow it, stream each emotion's video while it is written,
and download it when complete. Results are looked up by job id and emotion name, never by a path."""

from __future__ import annotations

import os
import time

from flask import Blueprint, Response, jsonify, request, send_file

from emogen.common.contract import parse_emotions
from emogen.common.errors import UserError
from emogen.common.generator_kind import LIPSYNC

from .jobs import QueueFull
from .state import current_state
from .uploads import RejectedUpload, take_input

LIVE_CHUNK = 64 * 1024

jobs = Blueprint("jobs", __name__, url_prefix="/api/jobs")


@jobs.post("")
def submit():
    state = current_state()
    if state.model is None:
        return jsonify(error=state.missing), 503
    client = request.remote_addr or ""
    form, files = request.form, request.files  # parsed (and size-checked) before any place is held
    try:
        if state.lipsync_only:
            if form.getlist("emotion"):
                raise UserError("this server's Wav2Lip generator does lip sync only: send no emotion")
            emotions = [LIPSYNC]
        else:
            emotions = parse_emotions(form.getlist("emotion"))
    except UserError as exc:
        return jsonify(error=str(exc), field="emotion"), 400
    try:
        job = state.queue.reserve(client)
    except QueueFull as exc:
        return jsonify(error=str(exc)), 429
    try:
        job.face = take_input("face", job.folder, state.cfg, form, files)
        job.audio = take_input("audio", job.folder, state.cfg, form, files)
    except RejectedUpload as exc:
        state.queue.discard(job)
        return jsonify(error=str(exc), field=exc.field), 400
    except BaseException:
        state.queue.discard(job)
        raise
    job.emotions = emotions
    state.queue.submit(job)
    return jsonify(id=job.id, position=state.queue.position(job)), 202


@jobs.get("/<job_id>")
def status(job_id: str):
    queue = current_state().queue
    job = queue.get(job_id)
    if job is None:
        return jsonify(error="unknown or expired job"), 404
    current = next((e for e in job.started if e not in job.finished), None)
    return jsonify(
        state=job.state,
        position=queue.position(job),
        stage=job.stage,
        done=job.done,
        total=job.total,
        error=job.error,
        timings=job.timings,
        detection_cached=job.detection_cached,
        emotions=job.emotions,
        started=job.started,
        finished=job.finished,
        current=current,
        live={e: f"/api/jobs/{job.id}/{e}/live" for e in job.started},
        results={e: f"/api/jobs/{job.id}/{e}.mp4" for e in job.finished},
    )


@jobs.get("/<job_id>/<emotion>/live")
def live(job_id: str, emotion: str):
    """The emotion's fragmented MP4 as it is written, streamed until it is complete."""
    job = current_state().queue.get(job_id)
    if job is None or emotion not in job.partial:
        return jsonify(error="no such video"), 404
    path = job.outputs.get(emotion) or job.partial[emotion]
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


@jobs.get("/<job_id>/<emotion>.mp4")
def result(job_id: str, emotion: str):
    job = current_state().queue.get(job_id)
    if job is None or emotion not in job.outputs or not os.path.isfile(job.outputs[emotion]):
        return jsonify(error="no such result"), 404
    return send_file(
        job.outputs[emotion],
        mimetype="video/mp4",
        as_attachment=request.args.get("download") == "1",
        download_name=f"emogen_{emotion}.mp4",
    )
