"""The Live tab's server side: a WebSocket per session that takes microphone audio (16 kHz 16-bit PCM) and sends
back JPEG frames from the live core, with limits on message size, rate, length and one session per client.

Protocol (after the handshake on /api/live?face=<example index>&emotion=<label>):
  client -> server  binary: little-endian int16 samples at 16 kHz, at most MAX_AUDIO_MESSAGE bytes each;
                    text: {"type": "emotion", "emotion": "SAD"} or {"type": "stop"}
  server -> client  text {"type": "ready", "fps", "width", "height"} first; then per frame a text
                    {"type": "frame", "index", "emotion", "server_delay_ms", "dropped"} followed by a binary
                    JPEG; {"type": "error", "error"} before closing on a refusal; {"type": "end", ...} when done.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
from simple_websocket import ConnectionClosed

from emogen.common.contract import EMOTIONS
from emogen.common.errors import UserError
from emogen.common.generator_kind import LIPSYNC
from emogen.inference.options import InferenceOptions
from emogen.inference.plan import Runtime, plan_faces
from emogen.inference.streaming import SAMPLE_RATE, LiveFace, LiveSession, LiveSettings

MAX_AUDIO_MESSAGE = 32000  # bytes: one second of 16-bit audio
MAX_TEXT_MESSAGE = 1024
RATE_SLACK_SECONDS = 2.0  # audio may run this far ahead of real time before the session is closed
IDLE_SECONDS = 30.0
JPEG_QUALITY = 85
REFUSAL_GRACE = 2.0  # seconds a refused client has to close before the server does


@dataclass
class LiveLimits:
    """Limits of the Live tab (from app.py's command line)."""

    max_minutes: float = 10.0
    max_batch: int = 4
    max_waiting: int = 8
    max_sessions: int = 2  # open at once from all addresses: each one keeps the generator busy in real time


class LiveRefused(Exception):
    """A message or request the session refuses; the text goes to the client before the socket closes."""


class LiveRegistry:
    """One live session per client address; faces prepared once per example (their boxes, their frames)."""

    def __init__(self, max_sessions: int = LiveLimits.max_sessions) -> None:
        self._lock = threading.Lock()
        self.max_sessions = max_sessions
        self._clients: set[str] = set()
        self._faces: dict[str, LiveFace] = {}

    def claim(self, client: str) -> None:
        """Hold the client's one place, or refuse."""
        with self._lock:
            if client in self._clients:
                raise LiveRefused("a live session is already open from this address; stop it first")
            if len(self._clients) >= self.max_sessions:
                raise LiveRefused(
                    f"{self.max_sessions} live sessions are open, the server's limit; try again when one ends"
                )
            self._clients.add(client)

    def active(self) -> int:
        """Sessions open now."""
        with self._lock:
            return len(self._clients)

    def release(self, client: str) -> None:
        """Free the client's place."""
        with self._lock:
            self._clients.discard(client)

    def face(self, path: str, base: InferenceOptions, runtime: Runtime) -> LiveFace:
        """The prepared face for ``path`` (detection runs once; later sessions reuse it)."""
        with self._lock:
            face = self._faces.get(path)
        if face is None:
            opts = dataclasses.replace(base, face=path, audio=path, emotion="NEU")
            face = LiveFace.from_options(opts, plan_faces(opts, runtime))
            with self._lock:
                self._faces[path] = face
        return face


class AudioMeter:
    """Refuses audio arriving faster than real time (beyond a slack) and oversized or odd-length messages."""

    def __init__(self, max_seconds: float) -> None:
        self.started = time.monotonic()
        self.samples = 0
        self.max_samples = int(max_seconds * SAMPLE_RATE)

    def take(self, data: bytes) -> np.ndarray:
        """The samples of one binary message, or LiveRefused."""
        if len(data) > MAX_AUDIO_MESSAGE:
            raise LiveRefused(f"audio message of {len(data)} bytes; the limit is {MAX_AUDIO_MESSAGE}")
        if len(data) % 2:
            raise LiveRefused("audio must be 16-bit samples (an even number of bytes)")
        pcm = np.frombuffer(data, dtype="<i2")
        self.samples += len(pcm)
        if self.samples > self.max_samples:
            raise LiveRefused(f"live sessions last at most {self.max_samples / SAMPLE_RATE / 60:g} minutes")
        allowed = (time.monotonic() - self.started + RATE_SLACK_SECONDS) * SAMPLE_RATE
        if self.samples > allowed:
            raise LiveRefused("audio is arriving faster than real time; send the microphone as it records")
        return pcm


def parse_control(text: str) -> dict:
    """A control message as a dict with a known type, or LiveRefused."""
    if len(text) > MAX_TEXT_MESSAGE:
        raise LiveRefused(f"control message over {MAX_TEXT_MESSAGE} characters")
    try:
        message = json.loads(text)
    except ValueError:
        raise LiveRefused("control messages are JSON objects") from None
    if not isinstance(message, dict) or message.get("type") not in ("emotion", "stop"):
        raise LiveRefused('control messages are {"type": "emotion", "emotion": ...} or {"type": "stop"}')
    if message["type"] == "emotion" and message.get("emotion") not in EMOTIONS:
        raise LiveRefused(f"unknown emotion; choose one of {', '.join(EMOTIONS)}")
    return message


def encode_jpeg(frame: np.ndarray) -> bytes:
    """A BGR frame as JPEG bytes."""
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


def run_live_socket(
    ws, face: LiveFace, generator, emotion: str, base: InferenceOptions, limits: LiveLimits, runtime: Runtime
) -> None:
    """Serve one live session on ``ws`` (a simple_websocket connection) until stop, close, a refusal or the end."""
    settings = LiveSettings(
        runtime.device,
        runtime.precision.dtype,
        limits.max_batch,
        limits.max_waiting,
        max_ready=limits.max_waiting,
        blend=base.blend,
    )
    session = LiveSession(generator, face, emotion, settings)
    meter = AudioMeter(limits.max_minutes * 60)
    send_lock = threading.Lock()
    errors: list[str] = []

    def send(message) -> None:
        with send_lock:
            ws.send(message)

    def sender() -> None:
        try:
            for frame in session.frames():
                payload = encode_jpeg(frame.image)
                send(
                    json.dumps(
                        {
                            "type": "frame",
                            "index": frame.index,
                            "emotion": frame.emotion,
                            "server_delay_ms": round((time.perf_counter() - frame.speech_arrived) * 1000, 1),
                            "dropped": session.stats.dropped,
                        }
                    )
                )
                send(payload)
        except Exception as exc:  # noqa: BLE001 - a closed socket or a failed generator ends the session
            errors.append(str(exc))

    send(
        json.dumps(
            {"type": "ready", "fps": face.fps, "width": face.width, "height": face.height, "sample_rate": SAMPLE_RATE}
        )
    )
    out = threading.Thread(target=sender, name="emogen-live-send", daemon=True)
    out.start()
    try:
        heard = time.monotonic()
        while True:
            # Short waits: a connection the WebSocket layer dropped (an oversized frame) is noticed within a
            # second, not at the idle limit.
            data = ws.receive(timeout=1.0)
            if data is None:
                if not ws.connected:
                    return
                if time.monotonic() - heard > IDLE_SECONDS:
                    raise LiveRefused(f"no audio for {IDLE_SECONDS:g} s; the session was closed")
                continue
            heard = time.monotonic()
            if isinstance(data, (bytes, bytearray)):
                session.push(meter.take(bytes(data)))
                continue
            message = parse_control(data)
            if message["type"] == "emotion":
                try:
                    session.set_emotion(message["emotion"])
                except UserError as exc:  # e.g. an emotion for a lip-sync-only generator
                    raise LiveRefused(str(exc)) from None
            else:
                break
        session.finish()
        out.join()
        send(json.dumps({"type": "end", "frames": session.stats.produced, "dropped": session.stats.dropped}))
    except LiveRefused as exc:
        with send_lock:
            refuse_live(ws, str(exc))
    finally:
        session.close()
        out.join(timeout=5)


def refuse_live(ws, text: str) -> None:
    """Tell the client why in a JSON error, give it up to REFUSAL_GRACE seconds to close (its close reply then
    reaches a live socket, so no reset can cut off the message), then close with code 1008 and the same text as
    the reason."""
    try:
        ws.send(json.dumps({"type": "error", "error": text}))
        deadline = time.monotonic() + REFUSAL_GRACE
        while time.monotonic() < deadline:
            ws.receive(timeout=max(0.0, deadline - time.monotonic()))  # anything more the client sends is dropped
        ws.close(reason=1008, message=text.encode()[:120].decode(errors="ignore"))
    except ConnectionClosed:
        pass


def open_live(
    registry: LiveRegistry, face_path: Optional[str], emotion: str, base: InferenceOptions, runtime: Runtime
) -> LiveFace:
    """The prepared face of a new session after checking its request, or LiveRefused with the reason."""
    if face_path is None:
        raise LiveRefused("unknown face: pick an example, or the face of one of your requests that has not expired")
    if emotion not in EMOTIONS and emotion != LIPSYNC:
        raise LiveRefused(f"unknown emotion; choose one of {', '.join(EMOTIONS)}")
    try:
        return registry.face(face_path, base, runtime)
    except UserError as exc:
        raise LiveRefused(str(exc)) from None
