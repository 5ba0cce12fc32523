import io
import os
import subprocess
import sys
import threading
import time
import urllib.request

import cv2
import numpy as np
import pytest
import torch
from shared_data import REPO_ROOT, seeded_state_dict
from werkzeug.serving import make_server

from emogen.apps.web.jobs import Job, JobQueue
from emogen.apps.web.server import WebConfig, create_app
from emogen.common.contract import parse_emotions
from emogen.common.errors import UserError
from emogen.common.media import probe

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def web_media(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("web")
    run = lambda *a: subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *a], check=True)  # noqa: E731
    run("-i", str(shared / "data/video/face3.mp4"), "-t", "1.2", str(d / "face.mp4"))
    run("-i", str(shared / "data/audio/speech_en_16k.wav"), "-t", "1.6", str(d / "speech.wav"))
    run("-i", str(shared / "data/audio/speech_en_16k.wav"), "-t", "0.8", str(d / "speech_short.wav"))
    (d / "notes.mp4").write_text("this is not a video")
    ckpt = d / "emogen.pth"
    # The released checkpoints' form, byte for byte the one test_inference writes: converted models are shared.
    torch.save(
        {
            "state_dict": {"module." + k: v for k, v in seeded_state_dict("emogen_generator").items()},
            "global_step": 0,
            "global_epoch": 0,
        },
        ckpt,
    )
    return d


@pytest.fixture(scope="module")
def server(web_media):
    cfg = WebConfig(
        str(web_media / "emogen.pth"),
        device="cpu",
        face_detector="opencv",
        max_upload_mb=2,
        max_seconds=20,
        cache_dir=str(web_media / "cache"),
        work_root=str(web_media / "work"),
    )
    os.makedirs(cfg.work_root)
    app = create_app(cfg)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    app.config.update(EMOGEN_HOST="127.0.0.1", EMOGEN_PORT=srv.server_port)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", app
    srv.shutdown()


@pytest.fixture(scope="module")
def page(server):
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium package (.ci/run does)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        yield page
        browser.close()


def count_frames(data: bytes, tmp_path) -> tuple[int, set]:
    path = tmp_path / "downloaded.mp4"
    path.write_bytes(data)
    cap = cv2.VideoCapture(str(path))
    frames = 0
    while cap.read()[0]:
        frames += 1
    return frames, {s["codec_type"] for s in probe(str(path))["streams"]}


def choose_emotions(page, *emotions):
    for box in page.query_selector_all("#emotions input"):
        box.set_checked(box.get_attribute("value") in emotions)


@pytest.mark.browser
def test_generate_in_the_browser_then_hit_the_detection_cache(server, page, web_media, tmp_path):
    url, _ = server
    page.goto(url)
    page.set_input_files("#face", str(web_media / "face.mp4"))
    page.set_input_files("#audio", str(web_media / "speech.wav"))
    page.wait_for_function("document.querySelector('#face_info').textContent.includes('590x590')")
    page.wait_for_function("document.querySelector('#audio_info').textContent.includes('1.6 s')")
    assert "Happy" in page.inner_text("#emotions") and "HAP" in page.inner_text("#emotions")
    choose_emotions(page, "HAP")
    page.click("#generate")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('done')", timeout=180_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_result.png"), full_page=True)
    assert "timings:" in page.inner_text("#timings") and "generate HAP" in page.inner_text("#timings")
    link = page.wait_for_selector("figure[data-emotion=HAP] a.download:not([hidden])")
    data = urllib.request.urlopen(url + link.get_attribute("href")).read()
    frames, kinds = count_frames(data, tmp_path)
    assert frames == 37 and kinds == {"video", "audio"}  # 1.6 s of speech -> 37 frames
    assert page.evaluate("document.querySelector('video[data-emotion=HAP]').duration") > 1.4  # the whole stream

    choose_emotions(page, "SAD")
    page.click("#generate")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('done')", timeout=180_000)
    assert "face detection: from cache" in page.inner_text("#status")


@pytest.mark.slow
@pytest.mark.browser
def test_playback_starts_while_generating(server, page, web_media):
    """With face detection cached, the first emotion plays before the job is done, and each emotion's player
    appears when that emotion starts, before the last one finishes."""
    url, _ = server
    page.goto(url)
    page.set_input_files("#face", str(web_media / "face.mp4"))
    page.set_input_files("#audio", str(web_media / "speech.wav"))
    choose_emotions(page, "ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
    page.screenshot(path=str(ARTIFACTS / "web_start.png"), full_page=True)
    page.click("#generate")
    page.wait_for_function(
        "(() => { const v = document.querySelector('video[data-emotion=ANG]');"
        " return v && v.currentTime > 0 && !document.querySelector('#status').textContent.startsWith('done'); })()",
        timeout=180_000,
    )
    page.screenshot(path=str(ARTIFACTS / "web_during.png"), full_page=True)
    order = page.eval_on_selector_all("#results figure", "figs => figs.map(f => f.dataset.emotion)")
    assert order == ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"][: len(order)]
    page.wait_for_function(
        "(() => { const figs = document.querySelectorAll('#results figure');"
        " return figs.length === 6 && figs[5].classList.contains('generating'); })()",
        timeout=300_000,
    )
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('done')", timeout=300_000)
    page.screenshot(path=str(ARTIFACTS / "web_after.png"), full_page=True)
    assert page.eval_on_selector_all("a.download:not([hidden])", "links => links.length") == 6
    assert page.evaluate("document.querySelectorAll('figure.generating').length") == 0


@pytest.mark.browser
def test_rejected_uploads_show_a_message(server, page, shared, web_media):
    url, _ = server
    page.goto(url)
    page.set_input_files("#face", str(shared / "data/video/face6.mp4"))  # 3.5 MB > 2 MB limit
    page.set_input_files("#audio", str(web_media / "speech.wav"))
    page.click("#generate")
    page.wait_for_selector("#message:not([hidden])", timeout=30_000)
    assert "upload too large: the limit is 2 MB" in page.inner_text("#message")
    page.set_input_files("#face", str(web_media / "notes.mp4"))
    page.wait_for_selector("#face_error:not([hidden])", timeout=30_000)  # the preview already fails
    page.click("#generate")
    page.wait_for_function(
        "document.querySelector('#face_error').textContent.includes('not a media file')", timeout=30_000
    )
    page.screenshot(path=str(ARTIFACTS / "web_rejected.png"))


@pytest.mark.browser
def test_missing_checkpoint_is_explained(tmp_path, page):
    app = create_app(WebConfig(str(tmp_path / "nope.pth"), device="cpu", work_root=str(tmp_path)))
    client = app.test_client()
    cfg = client.get("/api/config").get_json()
    assert not cfg["ready"] and "nope.pth" in cfg["missing"] and "checkpoints/README.md" in cfg["missing"]
    resp = client.post("/api/jobs", data={"emotion": "HAP"})
    assert resp.status_code == 503


def test_examples_all_emotions_and_no_path_from_the_user(server, web_media):
    _, app = server
    client = app.test_client()
    bad = client.post(
        "/api/jobs",
        data={"emotion": "HAP", "face_example": "../../etc/passwd", "audio_example": "example speech (English)"},
    )
    assert bad.status_code == 400 and "unknown face example" in bad.get_json()["error"]
    assert client.get("/static/../app.py").status_code == 404
    with open(web_media / "speech_short.wav", "rb") as audio:
        resp = client.post(
            "/api/jobs",
            data={
                "emotion": "all",
                "face_example": "example face (video)",
                "audio": (io.BytesIO(audio.read()), "my voice.wav"),
            },
        )
    assert resp.status_code == 202
    assert resp.status_code == 202
    job_id = resp.get_json()["id"]
    for _ in range(600):
        status = client.get(f"/api/jobs/{job_id}").get_json()
        if status["state"] in ("done", "error"):
            break
        time.sleep(0.5)
    assert status["state"] == "done", status
    assert sorted(status["results"]) == ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
    assert client.get(status["results"]["NEU"]).status_code == 200
    assert status["started"] == status["finished"] == ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
    live = client.get(status["live"]["SAD"])
    assert live.status_code == 200 and live.data == client.get(status["results"]["SAD"]).data  # whole stream
    assert client.get(f"/api/jobs/{job_id}/XYZ.mp4").status_code == 404


def test_queue_positions_and_cleanup(tmp_path):
    gate = threading.Event()
    queue = JobQueue(lambda job: gate.wait(10), str(tmp_path), keep_seconds=60)
    jobs = []
    for _ in range(3):
        job_id, folder = queue.new_folder()
        jobs.append(Job(job_id, folder, "f", "a", ["HAP"]))
        queue.submit(jobs[-1])
    time.sleep(0.2)
    assert [queue.position(j) for j in jobs] == [0, 1, 2]
    gate.set()
    for _ in range(100):
        if all(j.state == "done" for j in jobs):
            break
        time.sleep(0.05)
    queue.cleanup(now=time.time() + 61)
    assert queue.get(jobs[0].id) is None and not os.path.exists(jobs[0].folder)
    assert parse_emotions("all") == ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
    assert parse_emotions(["SAD", "hap"]) == ["HAP", "SAD"] and parse_emotions("SAD,ANG") == ["ANG", "SAD"]
    for bad in ("JOY", [], ["../x"]):
        with pytest.raises(UserError):
            parse_emotions(bad)


def wait_done(client, job_id, limit=600):
    for _ in range(limit):
        status = client.get(f"/api/jobs/{job_id}").get_json()
        if status["state"] in ("done", "error"):
            return status
        time.sleep(0.2)
    raise AssertionError(status)


def job_folders(root):
    return sorted(p for p in os.listdir(root) if not p.startswith("."))


def test_limits_hold(server, web_media, shared, tmp_path):
    url, app = server
    client = app.test_client()
    root = str(web_media / "work")
    before = job_folders(root)
    # (a) a voice whose container declares no duration (as browser recordings do: simulated by hiding the
    # header's duration from the upload check) is measured on the decoded audio.
    import emogen.apps.web.uploads as web_uploads

    stream = tmp_path / "long.webm"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-stream_loop",
            "3",
            "-i",
            str(shared / "data/audio/speech_en_16k.wav"),
            "-t",
            "30",
            "-c:a",
            "libopus",
            str(stream),
        ],
        check=True,
    )

    def no_duration(path):
        info = probe(path)
        info["format"].pop("duration", None)
        return info

    web_uploads.probe, real_probe = no_duration, web_uploads.probe
    try:
        resp = client.post(
            "/api/jobs",
            data={"emotion": "HAP", "face_example": "example face (video)", "audio": (open(stream, "rb"), "long.webm")},
        )
    finally:
        web_uploads.probe = real_probe
    assert resp.status_code == 202
    status = wait_done(client, resp.get_json()["id"])
    assert status["state"] == "error" and "the voice lasts 30.0 s; the limit is 20 s" in status["error"]
    # (b) a huge image is refused from its header, before it is decoded.
    big = tmp_path / "big.jpg"
    cv2.imwrite(str(big), np.zeros((4000, 4000, 3), np.uint8))
    resp = client.post(
        "/api/jobs",
        data={"emotion": "HAP", "face": (open(big, "rb"), "big.jpg"), "audio_example": "example speech (English)"},
    )
    assert resp.status_code == 400 and resp.get_json()["field"] == "face"
    assert "4000x4000 pixels; the limit is 8.3 megapixels" in resp.get_json()["error"]
    # (c) a voice with a header and no samples is refused at once, next to its input.
    import soundfile

    silent = tmp_path / "empty.wav"
    soundfile.write(str(silent), np.zeros(0, np.float32), 16000)
    resp = client.post(
        "/api/jobs",
        data={"emotion": "HAP", "face_example": "example face (video)", "audio": (open(silent, "rb"), "empty.wav")},
    )
    assert resp.status_code == 400 and resp.get_json()["field"] == "audio"
    assert resp.get_json()["error"] == "the audio file holds no sound"
    # (d) a refused oversized upload leaves no folder; an oversized form field is named as such.
    resp = client.post("/api/jobs", data={"emotion": "HAP", "face": (io.BytesIO(b"0" * 3_000_000), "f.mp4")})
    assert resp.status_code == 413 and "upload too large: the limit is 2 MB" in resp.get_json()["error"]
    resp = client.post("/api/jobs", data={"emotion": "HAP", "note": "x" * 600_000})
    assert resp.status_code == 413 and resp.get_json()["error"] == "a form field is too large"
    # Empty, non-media and hostile-named uploads: refused next to their input, nothing written outside.
    for name, payload, text in (
        ("$(touch PWNED).wav", b"", "empty"),
        ("../../evil.wav", b"RIFF junk", "not a media"),
        ("voice.exe", b"MZ", "must be one of"),
    ):
        resp = client.post(
            "/api/jobs",
            data={"emotion": "HAP", "face_example": "example face (video)", "audio": (io.BytesIO(payload), name)},
        )
        assert resp.status_code == 400 and resp.get_json()["field"] == "audio" and text in resp.get_json()["error"]
    assert len(job_folders(root)) == len(before) + 1  # only the accepted job (a) has a folder
    assert not (web_media / "evil.wav").exists() and not list(web_media.rglob("PWNED"))


def test_hostile_requests(server, web_media):
    url, app = server
    client = app.test_client()
    host = url.split("//")[1]
    ok = client.post(
        "/api/jobs",
        data={
            "emotion": "HAP",
            "face_example": "example face (video)",
            "audio": (io.BytesIO((web_media / "speech_short.wav").read_bytes()), "v.wav"),
        },
        headers={"Host": host},
    )
    job_id = ok.get_json()["id"]
    assert len(job_id) >= 16  # 96 random bits, not guessable
    # (f) another Host (DNS rebinding) or a cross-site post is refused.
    assert client.get("/", headers={"Host": "evil.example:80"}).status_code == 403
    assert (
        client.post(
            "/api/jobs", data={"emotion": "HAP"}, headers={"Host": host, "Origin": "http://evil.example"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/jobs", data={"emotion": "HAP"}, headers={"Host": host, "Sec-Fetch-Site": "cross-site"}
        ).status_code
        == 403
    )
    # Path traversal in every URL part that names a job, an emotion, a file or an example.
    for path in (
        "/api/jobs/..%2F..%2Fetc%2Fpasswd",
        f"/api/jobs/{job_id}/..%2Fface.mp4",
        f"/api/jobs/{job_id}/../../app.py",
        f"/api/jobs/{job_id}/HAP%2F..%2F..%2Fx/live",
        "/api/jobs/..%2F/HAP.mp4",
        "/static/..%2Fserver.py",
        "/api/examples/face/-1",
        "/api/examples/..%2F..%2Fapp.py/0",
        "/api/examples/face/7",
    ):
        assert client.get(path, headers={"Host": host}, follow_redirects=True).status_code in (403, 404), path
    assert client.get("/api/jobs/", headers={"Host": host}).status_code == 404  # no listing of others' jobs
    # Methods other than the ones the page uses.
    assert client.put("/api/jobs", headers={"Host": host}).status_code == 405
    assert client.delete(f"/api/jobs/{job_id}", headers={"Host": host}).status_code == 405
    assert client.post("/", headers={"Host": host}).status_code == 405
    wait_done(client, job_id)


def test_burst_is_queued_with_caps_and_the_page_stays_fast(web_media, tmp_path):
    cfg = WebConfig(
        str(web_media / "emogen.pth"),
        device="cpu",
        face_detector="opencv",
        max_seconds=20,
        cache_dir=str(web_media / "cache"),
        work_root=str(tmp_path / "work"),
        max_queued=20,
        max_per_client=25,
    )
    app = create_app(cfg)
    client = app.test_client()
    queue = app.extensions["emogen_queue"]
    gate = threading.Event()
    queue.run = lambda job: gate.wait(30)  # hold the worker so the burst stays queued
    codes = []
    for _ in range(22):
        codes.append(
            client.post(
                "/api/jobs",
                data={
                    "emotion": "HAP",
                    "face_example": "example face (video)",
                    "audio_example": "example speech (English)",
                },
            ).status_code
        )
    assert codes[:21] == [202] * 21 and codes[21] == 429  # one running + 20 waiting, then refused
    start = time.perf_counter()
    assert client.get("/").status_code == 200
    print(f"GET / with 21 jobs queued: {1000 * (time.perf_counter() - start):.1f} ms")
    gate.set()
    queue.shutdown()
    assert job_folders(tmp_path / "work") == []  # shutdown removes every job's files


def test_per_client_cap_timer_cleanup_and_shutdown(tmp_path):
    gate = threading.Event()
    queue = JobQueue(
        lambda job: gate.wait(10), str(tmp_path), keep_seconds=0.2, max_queued=5, max_per_client=2, clean_every=0.1
    )
    first = Job(*queue.new_folder(), "f", "a", ["HAP"], client="1.2.3.4")
    queue.submit(first)
    queue.check_room("1.2.3.4")
    queue.submit(Job(*queue.new_folder(), "f", "a", ["HAP"], client="1.2.3.4"))
    with pytest.raises(Exception, match="already have 2 requests"):
        queue.check_room("1.2.3.4")
    queue.check_room("5.6.7.8")
    gate.set()
    for _ in range(100):  # finished jobs are cleaned on the timer, not only when the worker is idle
        if not os.path.exists(first.folder):
            break
        time.sleep(0.05)
    assert queue.get(first.id) is None and not os.path.exists(first.folder)
    queue.shutdown()


def test_concurrent_posts_cannot_pass_the_limits(web_media, tmp_path):
    """Admission is one atomic step: ten simultaneous posts from one client with a cap of 3 get 3 places."""
    from concurrent.futures import ThreadPoolExecutor

    # per client 3: exactly 3 places (waiting or running); 2 waiting in all: 2, or 3 when the worker took the first
    # before the others came (1 running + 2 waiting)
    for per_client, queued, expected in ((3, 20, (3,)), (25, 2, (2, 3))):
        cfg = WebConfig(
            str(web_media / "emogen.pth"),
            device="cpu",
            face_detector="opencv",
            max_seconds=20,
            cache_dir=str(web_media / "cache"),
            work_root=str(tmp_path / f"w{queued}"),
            max_queued=queued,
            max_per_client=per_client,
        )
        app = create_app(cfg)
        queue = app.extensions["emogen_queue"]
        gate = threading.Event()
        queue.run = lambda job, gate=gate: gate.wait(30)
        voice = (web_media / "speech.wav").read_bytes()

        def post(_, app=app, voice=voice):
            # An uploaded voice is saved and probed before the job is queued: the window the old check left open.
            return (
                app.test_client()
                .post(
                    "/api/jobs",
                    data={
                        "emotion": "HAP",
                        "face_example": "example face (video)",
                        "audio": (io.BytesIO(voice), "v.wav"),
                    },
                    content_type="multipart/form-data",
                )
                .status_code
            )

        with ThreadPoolExecutor(10) as pool:
            codes = list(pool.map(post, range(10)))
        assert set(codes) == {202, 429}, codes
        assert codes.count(202) in expected, codes
        assert sum(1 for j in queue.jobs.values() if j.state == "queued") <= queued
        gate.set()
        queue.shutdown()
        assert job_folders(tmp_path / f"w{queued}") == []


@pytest.mark.parametrize("signals", [("SIGTERM",), ("SIGHUP",), ("SIGINT", "SIGINT"), ("SIGTERM", "SIGTERM")])
def test_sigterm_removes_every_job_folder(web_media, tmp_path, signals):
    import signal
    import socket

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO_ROOT / "app.py"),
            "--checkpoint_path",
            str(web_media / "emogen.pth"),
            "--port",
            str(port),
            "--device",
            "cpu",
            "--face_detector",
            "opencv",
            "--detection_cache_dir",
            str(tmp_path / "cache"),
        ],
        env=dict(os.environ, TMPDIR=str(tmp)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/config", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        boundary = "b0undary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="emotion"\r\n\r\nall\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="face_example"\r\n\r\n'
                f'example face (video)\r\n--{boundary}\r\nContent-Disposition: form-data; name="audio"; '
                f'filename="v.wav"\r\nContent-Type: audio/wav\r\n\r\n'
            ).encode()
            + (web_media / "speech.wav").read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/jobs",
            data=body,
            method="POST",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert urllib.request.urlopen(req).status == 202
        [root] = [p for p in tmp.iterdir() if p.name.startswith("emogen-web-")]
        assert any(root.iterdir())  # the upload is there while the job runs
        time.sleep(1.0)
        for name in signals:  # a second signal 0.2 s later must not abort the cleanup the first one started
            proc.send_signal(getattr(signal, name))
            time.sleep(0.2)
        assert proc.wait(timeout=60) == 130, proc.stderr.read()
    finally:
        proc.kill()
    assert not root.exists()
    assert list(tmp.iterdir()) == []  # nor the running job's temporary files (the decoded voice)


def test_files_are_kept_after_a_job_ends_and_errors_hide_server_paths(tmp_path):
    def run(job):
        raise UserError(f"cannot read {os.path.join(job.folder, 'face.mp4')} (root {os.path.dirname(job.folder)})")

    queue = JobQueue(run, str(tmp_path / "root"), keep_seconds=60, clean_every=3600)
    job = queue.reserve("1.2.3.4")
    job.created -= 1000  # it waited in the queue for a long time before it ran
    queue.submit(job)
    for _ in range(100):
        if job.state == "error":
            break
        time.sleep(0.05)
    assert job.state == "error" and str(tmp_path) not in job.error
    assert job.error == "cannot read face.mp4 (root the server)"
    queue.cleanup(now=time.time() + 30)  # 1030 s after submission, 30 s after it ended: kept
    assert queue.get(job.id) is job and os.path.isdir(job.folder)
    queue.cleanup(now=time.time() + 61)
    assert queue.get(job.id) is None and not os.path.exists(job.folder)
    queue.shutdown()


def test_an_upload_above_the_frame_rate_bound_is_refused(server, web_media, tmp_path):
    """A face video at 1000 frames/s would make 1000 frames per second of speech per emotion: the job ends with
    the command line's one-line reason, before any frame is generated."""
    _, app = server
    fast = tmp_path / "fast.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=128x128:rate=1000", "-t", "1"]
        + ["-c:v", "libx264", str(fast)],
        check=True,
    )
    client = app.test_client()
    with open(web_media / "speech_short.wav", "rb") as audio, open(fast, "rb") as face:
        resp = client.post(
            "/api/jobs",
            data={"emotion": "all", "face": (io.BytesIO(face.read()), "fast.mp4"), "audio": (audio, "v.wav")},
        )
    assert resp.status_code == 202
    status = wait_done(client, resp.get_json()["id"])
    assert status["state"] == "error" and "1000 frames per second; the limit is 240" in status["error"], status
    assert not status.get("results")


def _png_bomb(path, side: int, rows: int) -> None:
    """A PNG declaring side x side grey pixels, its first ``rows`` rows of zeros compressed (all of them: a
    valid image of about a megabyte for 20000 px; a few: a header that promises far more than the file holds)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # filter byte + one grey byte per pixel
    body = b"".join(packer.compress(row) for _ in range(rows)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side, rows", [(20000, 20000), (60000, 10)])
def test_a_png_bomb_is_refused_from_its_header_before_decoding(server, web_media, tmp_path, side, rows):
    """ffprobe says 0x0 above about 268 megapixels; the PNG's own header is read instead, and the upload is
    refused with the size in one line (400), in little memory."""
    _, app = server
    bomb = tmp_path / "bomb.png"
    _png_bomb(bomb, side, rows)
    before = _reset_peak_rss_kib()
    client = app.test_client()
    with open(web_media / "speech_short.wav", "rb") as audio, open(bomb, "rb") as face:
        resp = client.post(
            "/api/jobs",
            data={"emotion": "HAP", "face": (io.BytesIO(face.read()), "bomb.png"), "audio": (audio, "v.wav")},
        )
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert f"the face is {side}x{side} pixels" in resp.get_json()["error"]
    grown_mib = (_status_kib("VmHWM") - before) / 1024
    assert grown_mib < 500


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def _reset_peak_rss_kib() -> int:
    """Resets this process's peak RSS to its current RSS (so an earlier test's peak cannot hide this one's) and
    returns it."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return _status_kib("VmRSS")


def test_a_restarted_server_sweeps_the_uploads_a_killed_one_left(tmp_path, monkeypatch):
    import tempfile

    from emogen.apps.web.jobs import JobQueue

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = tmp_path / f"emogen-web-{dead.pid}-abc"
    (left / "job1").mkdir(parents=True)
    (left / "job1" / "face.mp4").write_bytes(b"a user's upload")
    alive = tmp_path / f"emogen-web-{os.getpid()}-mine"
    alive.mkdir()
    queue = JobQueue(lambda job: None)
    try:
        assert not left.exists() and alive.exists()
        assert os.path.basename(queue.root).startswith(f"emogen-web-{os.getpid()}-")
    finally:
        queue.shutdown()
