"""Blueprint of the Live tab's WebSocket: microphone audio in, JPEG frames out (see emogen.apps.web.live)."""

from __future__ import annotations

from typing import Optional

from flask import Blueprint, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from emogen.common.errors import one_line
from emogen.common.generator_kind import LIPSYNC

from .config import WebConfig
from .jobs import JobQueue
from .live import LiveRefused, open_live, refuse_live, run_live_socket
from .state import current_state

LIVE_PATH = "/api/live"

live = Blueprint("live", __name__)
sock = Sock()


def live_face_path(choice: str, cfg: WebConfig, queue: JobQueue, client: str) -> Optional[str]:
    """The face a live session asked for: an example by its index, or ``job:<id>``, the face of one of this
    client's own requests (uploads are checked when the request is made); None when there is no such face."""
    if choice.startswith("job:"):
        job = queue.get(choice[4:])
        return job.face if job is not None and job.client == client and job.face else None
    names = sorted(cfg.examples.get("face", {}))
    # isdecimal() alone admits other scripts' digits (and isdigit() superscripts), which int() may refuse.
    index = int(choice) if choice.isascii() and choice.isdecimal() and len(choice) < 6 else -1
    return cfg.examples["face"][names[index]] if 0 <= index < len(names) else None


@sock.route(LIVE_PATH, bp=live)
def live_socket(ws):
    """One live session per client address, on the face and emotion the URL names."""
    state = current_state()
    client = request.remote_addr or ""
    try:
        state.registry.claim(client)
    except LiveRefused as exc:
        refuse_live(ws, str(exc))
        return
    try:
        if state.model is None:
            raise LiveRefused(state.missing)
        path = live_face_path(request.args.get("face", "0"), state.cfg, state.queue, client)
        emotion = LIPSYNC if state.lipsync_only else request.args.get("emotion", "NEU")
        face = open_live(state.registry, path, emotion, state.base, state.runtime)
        run_live_socket(ws, face, state.model, emotion, state.base, state.cfg.live, state.runtime)
    except LiveRefused as exc:
        refuse_live(ws, str(exc))
    except ConnectionClosed:
        pass
    except Exception as exc:  # noqa: BLE001 - the upgraded socket can carry no HTTP 500: say it, then close
        refuse_live(ws, f"the live session failed: {one_line(exc, 200)}")
    finally:
        state.registry.release(client)
