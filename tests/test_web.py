import io
import os
import subprocess
import threading
import time
import urllib.request

import cv2
import pytest
import torch
from werkzeug.serving import make_server

from emogen.media import probe
from emogen.web.jobs import Job, JobQueue, parse_emotions
from emogen.web.server import WebConfig, create_app
from shared_data import REPO_ROOT, seeded_state_dict

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def web_media(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("web")
    run = lambda *a: subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *a], check=True)  # noqa: E731
    run("-i", str(shared / "data/video/face3.mp4"), "-t", "1.2", str(d / "face.mp4"))
    run("-i", str(shared / "data/audio/speech_en_16k.wav"), "-t", "1.6", str(d / "speech.wav"))
    (d / "notes.mp4").write_text("this is not a video")
    ckpt = d / "emogen.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in seeded_state_dict("emogen_generator").items()}}, ckpt)
    return d


@pytest.fixture(scope="module")
def server(web_media):
    cfg = WebConfig(str(web_media / "emogen.pth"), device="cpu", face_detector="opencv", max_upload_mb=2,
                    max_seconds=20, cache_dir=str(web_media / "cache"), work_root=str(web_media / "work"))
    os.makedirs(cfg.work_root)
    app = create_app(cfg)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
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
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
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


def test_generate_in_the_browser_then_hit_the_detection_cache(server, page, web_media, tmp_path):
    url, _ = server
    page.goto(url)
    page.set_input_files("#face", str(web_media / "face.mp4"))
    page.set_input_files("#audio", str(web_media / "speech.wav"))
    page.select_option("#emotion", "HAP")
    page.click("#generate")
    video = page.wait_for_selector("video[data-emotion=HAP]", timeout=180_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_result.png"), full_page=True)
    assert "timings:" in page.inner_text("#timings") and "generate HAP" in page.inner_text("#timings")
    data = urllib.request.urlopen(url + video.get_attribute("src")).read()
    frames, kinds = count_frames(data, tmp_path)
    assert frames == 37 and kinds == {"video", "audio"}  # 1.6 s of speech -> 37 frames

    page.select_option("#emotion", "SAD")
    page.click("#generate")
    page.wait_for_selector("video[data-emotion=SAD]", timeout=180_000)
    assert "face detection: from cache" in page.inner_text("#status")


def test_rejected_uploads_show_a_message(server, page, shared, web_media):
    url, _ = server
    page.goto(url)
    page.set_input_files("#face", str(shared / "data/video/face6.mp4"))  # 3.5 MB > 2 MB limit
    page.set_input_files("#audio", str(web_media / "speech.wav"))
    page.click("#generate")
    page.wait_for_selector("#message:not([hidden])", timeout=30_000)
    assert "upload too large: the limit is 2 MB" in page.inner_text("#message")
    page.set_input_files("#face", str(web_media / "notes.mp4"))
    page.click("#generate")
    page.wait_for_function("document.querySelector('#message').textContent.includes('not a media file')",
                           timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "web_rejected.png"))


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
    bad = client.post("/api/jobs", data={"emotion": "HAP", "face_example": "../../etc/passwd",
                                         "audio_example": "example speech (English)"})
    assert bad.status_code == 400 and "unknown face example" in bad.get_json()["error"]
    assert client.get("/static/../app.py").status_code == 404
    with open(web_media / "speech.wav", "rb") as audio:
        resp = client.post("/api/jobs", data={"emotion": "all", "face_example": "example face (video)",
                                              "audio": (io.BytesIO(audio.read()), "my voice.wav")})
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
    with pytest.raises(ValueError):
        parse_emotions("JOY")
