"""The Live tab (emogen.apps.web.live): the WebSocket protocol, its limits, and the page in Chromium with a fake
microphone playing real speech."""

import contextlib
import json
import os
import subprocess
import threading
import time

import numpy as np
import pytest
import torch
from shared_data import seeded_state_dict
from simple_websocket import Client, ConnectionClosed
from simple_websocket import ConnectionError as HandshakeRefused
from werkzeug.serving import make_server

from emogen.apps.web.live import MAX_AUDIO_MESSAGE, AudioMeter, LiveRefused, parse_control
from emogen.apps.web.server import WebConfig, create_app
from emogen.inference.geometry import mel_chunk_starts

CHROMIUM = "/usr/bin/chromium"
REGISTRY = []  # the live server's session registry


@pytest.fixture(scope="module")
def live_server(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("liveweb")
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, d / "emogen.pth")
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(shared / "data/audio/speech_en_16k.wav"),
            "-t",
            "6",
            "-ar",
            "48000",
            "-ac",
            "1",
            str(d / "mic.wav"),
        ],
        check=True,
    )
    cfg = WebConfig(
        str(d / "emogen.pth"), device="cpu", face_detector="dlib", cache_dir=str(d / "cache"), work_root=str(d / "work")
    )
    os.makedirs(cfg.work_root)
    app = create_app(cfg)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    app.config.update(EMOGEN_HOST="127.0.0.1", EMOGEN_PORT=srv.server_port)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    REGISTRY[:] = [app.extensions["emogen_live"]]
    yield f"127.0.0.1:{srv.server_port}", d, app
    srv.shutdown()
    app.extensions["emogen_queue"].shutdown()  # a job still running would be cut off at exit otherwise


def connect(host, query="face=0&emotion=HAP", origin=None, wait=True):
    if wait:  # the previous test's session ends on the server a moment after its socket closes
        deadline = time.time() + 30
        while REGISTRY[0].active() and time.time() < deadline:
            time.sleep(0.05)
    return Client.connect(
        f"ws://{host}/api/live?{query}",
        headers={"Origin": origin or f"http://{host}"},
        max_message_size=10 * 1024 * 1024,
    )


def close(ws):
    """Close from this side; the server may have closed first (a refusal, or the end of a session)."""
    with contextlib.suppress(ConnectionClosed, OSError):
        ws.close()


def receive_json(ws, timeout=60):
    """The next JSON message; a refusal's close frame (code 1008, the reason as text) counts as its error."""
    while True:
        try:
            data = ws.receive(timeout=timeout)
        except ConnectionClosed as exc:
            if exc.reason == 1008:
                return {"type": "error", "error": exc.message}
            raise
        if data is None:
            raise AssertionError("nothing received")
        if isinstance(data, str):
            return json.loads(data)


def speech_pcm(shared, seconds):
    import audio

    wav = audio.load_wav(str(shared / "data/audio/speech_en_16k.wav"), 16000)[: int(16000 * seconds)]
    return (wav * 32767).astype("<i2")


def test_a_session_streams_frames_for_speech_and_switches_emotion(live_server, shared):
    host, _, _ = live_server
    ws = connect(host)
    ready = receive_json(ws)
    assert ready["type"] == "ready" and ready["fps"] == 25 and ready["sample_rate"] == 16000
    pcm = speech_pcm(shared, 2.0)
    start = time.perf_counter()
    for k in range(0, len(pcm), 320):  # 20 ms pieces at real-time pace
        time.sleep(max(0.0, start + (k + 320) / 16000 - time.perf_counter()))
        ws.send(pcm[k : k + 320].tobytes())
        if k == 16000:
            ws.send(json.dumps({"type": "emotion", "emotion": "SAD"}))
    ws.send(json.dumps({"type": "stop"}))
    frames, jpegs, end = [], [], None
    while end is None:
        data = ws.receive(timeout=60)
        if isinstance(data, str):
            msg = json.loads(data)
            if msg["type"] == "frame":
                frames.append(msg)
            elif msg["type"] == "end":
                end = msg
            else:
                raise AssertionError(msg)
        else:
            jpegs.append(data)
    close(ws)
    assert len(frames) == len(jpegs) == end["frames"]
    assert len(frames) + end["dropped"] == len(mel_chunk_starts(1 + len(pcm) // 200, 25))  # as offline: 47
    assert [f["index"] for f in frames] == sorted(f["index"] for f in frames)
    assert frames[0]["emotion"] == "HAP" and frames[-1]["emotion"] == "SAD"
    import cv2

    images = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs]
    assert all(img is not None and img.shape[:2] == (ready["height"], ready["width"]) for img in images)
    changes = [np.abs(a.astype(int) - b).mean() for a, b in zip(images, images[1:])]
    assert np.median(changes) > 0.5  # the face changes from frame to frame with the speech


def test_one_session_per_client_and_other_sites_refused(live_server):
    host, _, app = live_server
    first = connect(host)
    assert receive_json(first)["type"] == "ready"
    second = connect(host, wait=False)
    msg = receive_json(second)
    assert msg["type"] == "error" and "already open from this address" in msg["error"]
    first.send(json.dumps({"type": "stop"}))
    assert receive_json(first)["type"] == "end"
    close(first)
    with pytest.raises(HandshakeRefused, match="403"):
        connect(host, origin="http://evil.example")
    client = app.test_client()
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw==",
        "Sec-WebSocket-Version": "13",
    }
    for headers in (
        {"Host": "evil.example", "Origin": "http://evil.example"},  # DNS rebinding
        {"Host": host},  # no Origin: not a browser page
        {"Host": host, "Origin": "null"},
    ):
        assert client.get("/api/live", headers={**upgrade, **headers}).status_code == 403
    again = connect(host)  # the place was freed
    assert receive_json(again)["type"] == "ready"
    close(again)


@pytest.mark.parametrize(
    "send,expect",
    [
        (lambda ws: ws.send(b"\x00" * (MAX_AUDIO_MESSAGE + 2)), "the limit is"),
        (lambda ws: ws.send(b"\x00" * 3), "even number of bytes"),
        (lambda ws: ws.send("{not json"), "JSON objects"),
        (lambda ws: ws.send(json.dumps({"type": "shell", "cmd": "rm -rf /"})), "control messages are"),
        (lambda ws: ws.send(json.dumps({"type": "emotion", "emotion": "BORED"})), "unknown emotion"),
        (lambda ws: [ws.send(b"\x00" * 32000) for _ in range(5)], "faster than real time"),
    ],
)
@pytest.mark.slow
def test_hostile_messages_get_one_error_and_a_closed_socket(live_server, send, expect):
    host, _, _ = live_server
    ws = connect(host)
    assert receive_json(ws)["type"] == "ready"
    send(ws)
    msg = receive_json(ws)
    assert msg["type"] == "error" and expect in msg["error"]
    with pytest.raises(ConnectionClosed):
        for _ in range(100):
            if ws.receive(timeout=10) is None:
                break
        ws.send(b"\x00\x00")
    after = connect(host)  # the server still serves, and the client's place is free again
    assert receive_json(after)["type"] == "ready"
    close(after)


def test_huge_frames_are_cut_off_by_the_websocket_layer(live_server):
    host, _, _ = live_server
    ws = connect(host)
    assert receive_json(ws)["type"] == "ready"
    with pytest.raises(ConnectionClosed):
        ws.send(b"\x00" * (4 * MAX_AUDIO_MESSAGE))
        for _ in range(100):
            ws.receive(timeout=10)


def test_bad_requests_are_refused(live_server):
    host, _, _ = live_server
    for query, text in [
        ("face=7&emotion=HAP", "unknown face"),
        ("face=0&emotion=XYZ", "unknown emotion"),
        ("face=../../etc/passwd&emotion=HAP", "unknown face"),
        ("face=%C2%B2&emotion=HAP", "unknown face"),  # a superscript two: str.isdigit() says yes, int() no
    ]:
        ws = connect(host, query)
        msg = receive_json(ws)
        assert msg["type"] == "error" and text in msg["error"]
        close(ws)


def test_a_session_on_the_face_of_ones_own_request(live_server, shared):
    """job:<id> uses the face uploaded with one of this client's requests; unknown ids are refused."""
    host, d, app = live_server
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(shared / "data/video/face5.mp4"),
            "-t",
            "1",
            "-vf",
            "scale=320:240",
            str(d / "own.mp4"),
        ],
        check=True,
    )
    client = app.test_client()
    with open(d / "own.mp4", "rb") as face:
        resp = client.post(
            "/api/jobs",
            data={"face": (face, "own.mp4"), "audio_example": "example speech (English)", "emotion": "HAP"},
            headers={"Host": host, "Origin": f"http://{host}"},
        )
    assert resp.status_code == 202, resp.get_json()
    job = resp.get_json()["id"]
    ws = connect(host, f"face=job:{job}&emotion=SAD")
    ready = receive_json(ws)
    assert ready["type"] == "ready" and (ready["width"], ready["height"]) == (320, 240)
    ws.send(json.dumps({"type": "stop"}))
    assert receive_json(ws)["type"] == "end"
    deadline = time.time() + 120
    while client.get(f"/api/jobs/{job}", headers={"Host": host}).get_json()["state"] not in ("done", "error"):
        assert time.time() < deadline
        time.sleep(0.2)
    for bad in ("job:nosuchjob", "job:", "job:" + job[:-1]):
        ws = connect(host, f"face={bad}&emotion=SAD")
        msg = receive_json(ws)
        assert msg["type"] == "error" and "unknown face" in msg["error"]
        close(ws)


def test_meter_and_control_parsing():
    meter = AudioMeter(max_seconds=60.0)
    assert len(meter.take(b"\x01\x00" * 8000)) == 8000
    with pytest.raises(LiveRefused, match="faster than real time"):
        for _ in range(10):
            meter.take(b"\x00\x00" * 16000)
    short = AudioMeter(max_seconds=0.5)
    with pytest.raises(LiveRefused, match="at most 0.00833333 minutes"):
        short.take(b"\x00\x00" * 9000)
    assert parse_control('{"type": "emotion", "emotion": "ANG"}')["emotion"] == "ANG"
    with pytest.raises(LiveRefused, match="over 1024 characters"):
        parse_control(json.dumps({"type": "stop", "pad": "x" * 2000}))


@pytest.mark.slow
@pytest.mark.browser
def test_live_tab_in_chromium_with_a_fake_microphone(live_server):
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium package (.ci/run does)")
    host, d, _ = live_server
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={d / 'mic.wav'}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        page = browser.new_page()
        page.goto(f"http://{host}/")
        page.click("#tab_live_button")
        assert page.is_visible("#live_canvas") and not page.is_visible("#form")
        page.click("#live_start")
        page.wait_for_function("window.emogenLive.frames >= 40", timeout=90000)
        page.click("input[name=live_emotion][value=SAD]")
        page.wait_for_function("window.emogenLive.frames >= 60", timeout=90000)
        live = page.evaluate("window.emogenLive")
        stats = page.inner_text("#live_stats")
        page.click("#live_stop")
        browser.close()
    assert live["error"] == ""
    assert np.median(live["changes"]) > 0.5  # the frames change with the speech
    delays = live["delays"]
    assert len(delays) >= 60 and 150 < np.median(delays) < 5000  # the 0.2 s window is the floor
    assert "delay" in stats and "ms" in stats and "frames/s" in stats


def test_any_failure_in_a_session_reaches_the_client_as_a_message(live_server, monkeypatch):
    """Whatever goes wrong after the upgrade is said in an error message and a clean close (1008), never an HTTP
    500 written into the socket."""
    import emogen.apps.web.live_routes as routes

    def broken(*args, **kwargs):
        raise RuntimeError("the detector crashed")

    host, _, _ = live_server
    monkeypatch.setattr(routes, "open_live", broken)
    ws = connect(host)
    msg = receive_json(ws)
    assert msg == {"type": "error", "error": "the live session failed: the detector crashed"}
    close(ws)


def test_an_emotion_a_lip_sync_generator_cannot_take_is_refused_in_the_session(monkeypatch):
    """An emotion message to a server running a Wav2Lip generator: an error message and a clean close."""
    import emogen.apps.web.live as live
    from emogen.common.errors import UserError

    class Session:
        def __init__(self, *args):
            self.stats = type("Stats", (), {"produced": 0, "dropped": 0})()

        def set_emotion(self, emotion):
            raise UserError.about("emotion", f"{emotion}: a Wav2Lip generator does lip sync only (no emotion)")

        def frames(self):
            return iter(())

        def finish(self):
            pass

        def close(self):
            pass

    class Socket:
        connected = True

        def __init__(self):
            self.sent, self.inbox, self.closed = [], ['{"type": "emotion", "emotion": "SAD"}'], None

        def send(self, message):
            self.sent.append(message)

        def receive(self, timeout=None):
            return self.inbox.pop(0) if self.inbox else None

        def close(self, reason=None, message=None):
            self.closed = reason

    monkeypatch.setattr(live, "LiveSession", Session)
    monkeypatch.setattr(live, "REFUSAL_GRACE", 0.1)
    face = type("Face", (), {"fps": 25.0, "width": 64, "height": 64})()
    runtime = type("Runtime", (), {"device": "cpu", "precision": type("P", (), {"dtype": None})()})()
    ws = Socket()
    base = type("Options", (), {"blend": "hard"})()
    live.run_live_socket(ws, face, object(), "lipsync", base, live.LiveLimits(), runtime)
    errors = [json.loads(m) for m in ws.sent if isinstance(m, str) and '"error"' in m]
    assert errors and "does lip sync only" in errors[-1]["error"] and ws.closed == 1008
