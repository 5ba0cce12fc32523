"""Flask app of the web interface: upload or pick a face and a voice, choose emotions, watch them as they render.

No path from a request reaches the file system: uploads are saved under fixed names in a private per-job
folder, examples are chosen by key, results are looked up by job id and emotion name. Each emotion's video is
written as fragmented MP4, streamed to the page while it grows (Media Source Extensions play it), and kept for
download when complete. The routes are blueprints (``pages``, ``jobs``, ``live``) over one :class:`WebState`;
this module composes them and guards every request (Host, Origin, size).
"""

from __future__ import annotations

import ipaddress
from typing import Optional
from urllib.parse import urlsplit

from flask import Flask, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from .config import EXAMPLES, WebConfig
from .job_routes import jobs
from .live import MAX_AUDIO_MESSAGE
from .live_routes import LIVE_PATH, live, sock
from .pages import pages
from .state import EXTENSION, build_state

__all__ = ["EXAMPLES", "WebConfig", "create_app"]


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


def create_app(cfg: WebConfig) -> Flask:
    """The Flask app; loads the generator once (or reports which file is missing)."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = int(cfg.max_upload_mb * 1024 * 1024)
    # Frames larger than this are refused by the WebSocket layer itself, before they are buffered.
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": 2 * MAX_AUDIO_MESSAGE, "ping_interval": 25}
    state = build_state(cfg)
    app.extensions[EXTENSION] = state
    app.extensions["emogen_queue"] = state.queue
    app.extensions["emogen_live"] = state.registry

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

    app.register_blueprint(pages)
    app.register_blueprint(jobs)
    app.register_blueprint(live)
    sock.init_app(app)
    return app
