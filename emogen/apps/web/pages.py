"""Blueprint of the page itself: its files, its configuration and the bundled example media."""

from __future__ import annotations

import os

from flask import Blueprint, jsonify, send_file, send_from_directory

from emogen.common.contract import EMOTION_WORDS, EMOTIONS
from emogen.common.generator_kind import LIPSYNC

from .state import current_state

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

LIPSYNC_NOTICE = (
    "This server runs a Wav2Lip generator: it lip-syncs the face to the voice, with no emotion to choose. "
    "For emotions, it needs an EmoGen generator (checkpoints/README.md)."
)

pages = Blueprint("pages", __name__)


@pages.get("/")
def index():
    return send_from_directory(STATIC, "index.html")


@pages.get("/static/<path:name>")
def static_file(name: str):
    return send_from_directory(STATIC, name)  # refuses paths outside the folder


@pages.get("/api/config")
def config():
    state = current_state()
    cfg = state.cfg
    notice = cfg.notice
    if state.lipsync_only:
        notice = " ".join(filter(None, [notice, LIPSYNC_NOTICE]))
    return jsonify(
        ready=state.model is not None,
        missing=state.missing,
        notice=notice,
        lipsync_only=state.lipsync_only,
        emotions=[] if state.lipsync_only else list(EMOTIONS),
        emotion_words={**EMOTION_WORDS, LIPSYNC: "Lip sync"},
        examples={k: sorted(v) for k, v in cfg.examples.items()},
        max_upload_mb=cfg.max_upload_mb,
        max_seconds=cfg.max_seconds,
    )


@pages.get("/api/examples/<kind>/<int:index>")
def example_file(kind: str, index: int):
    """The bundled example media, by kind and index (for the page's previews)."""
    examples = current_state().cfg.examples
    names = sorted(examples.get(kind, {}))
    if index >= len(names):
        return jsonify(error="no such example"), 404
    return send_file(examples[kind][names[index]])
