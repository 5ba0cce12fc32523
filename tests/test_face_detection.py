import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from shared_data import REPO_ROOT, load_script, manifest, seeded_state_dict, seeded_weights

import face_detection
from emogen.common.errors import UserError
from emogen.common.media import iter_frames
from emogen.common.reference_data import ANNOTATION_SLACK, MOUTH_CHIN
from face_detection import S3FD, DetectionSettings, FaceAlignment, LandmarksType, create_detector, detect_video_boxes
from face_detection.detection.core import FaceDetector
from face_detection.detection.dlib import HogDetector
from face_detection.detection.opencv import HaarDetector
from face_detection.detection.s3fd.postprocess import boxes_from_maps, nms


def read_frames(path, step=1):
    cap = cv2.VideoCapture(str(path))
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % step == 0:
            yield frame
        index += 1
    cap.release()


@pytest.fixture(scope="module")
def seeded_s3fd_file(shared, tmp_path_factory):
    path = tmp_path_factory.mktemp("s3fd") / "s3fd.pth"
    torch.save({"module." + k: v for k, v in seeded_state_dict("s3fd").items()}, path)
    return path


def test_s3fd_manifest_and_parity(shared, parity):
    model = S3FD()
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == [
        (k, m["shape"]) for k, m in manifest()["s3fd"].items()
    ]
    model.load_state_dict(seeded_state_dict("s3fd"))
    image = seeded_weights().seeded_inputs("s3fd", 11)["image"]
    with torch.inference_mode():
        maps = model.eval()(image)
    assert len(maps) == 12
    for i, m in enumerate(maps):
        np.testing.assert_allclose(m.numpy(), parity[f"s3fd.olist{i}"], atol=1e-4, err_msg=f"olist{i}")


def test_s3fd_on_openvino_matches_the_parity_maps_and_the_torch_boxes(shared, parity, seeded_s3fd_file):
    """The converted S3FD (any frame size, float32) gives the original's maps, and the same boxes on real frames."""
    ov_det = create_detector("s3fd", device="cpu", weights_path=str(seeded_s3fd_file), backend="openvino")
    torch_det = create_detector("s3fd", device="cpu", weights_path=str(seeded_s3fd_file))
    assert ov_det.backend == "openvino" and torch_det.backend == "torch"
    image = seeded_weights().seeded_inputs("s3fd", 11)["image"]
    maps = ov_det.face_detector(image)
    assert len(maps) == 12
    for i, m in enumerate(maps):
        np.testing.assert_allclose(m.numpy(), parity[f"s3fd.olist{i}"], atol=1e-3, err_msg=f"olist{i}")
    frames = [f[:300, :360] for f in iter_frames(str(shared / "data/video/face3.mp4"), limit=3)]
    for ours, theirs in zip(ov_det.detect_from_batch(frames), torch_det.detect_from_batch(frames)):
        assert ours.shape == theirs.shape and len(ours) > 0
        # The same set of boxes: rows whose scores differ by a rounding may come out in either order (oneDNN's
        # float32 kernels differ between instruction sets), so each row is matched to its nearest in the other.
        for a, b in ((ours, theirs), (theirs, ours)):
            nearest = np.abs(a[:, None, :] - b[None, :, :]).max(axis=2).min(axis=1)
            assert nearest.max() < 0.05, nearest.max()


def test_postprocess_matches_original_boxes(shared):
    data = np.load(shared / "spec/s3fd_postprocess_seed11.npz")
    maps = [torch.from_numpy(data[f"olist{i}"]) for i in range(12)]
    kept = boxes_from_maps(maps)
    for b in range(2):
        ref = data[f"boxes{b}"]
        ours = kept[b]
        assert ours.shape == ref.shape
        assert np.all(np.diff(ours[:, 4]) <= 0)  # best first
        # Same set of boxes: match each reference row to its nearest row of ours.
        for row in ref:
            nearest = np.abs(ours - row).max(axis=1).min()
            assert nearest < 1e-3, row


def test_nms_uses_plus_one_areas():
    dets = np.array([[0, 0, 10, 10, 0.9], [0, 1, 10, 11, 0.8], [0, 0, 9, 9, 0.7], [5, 0, 14, 9, 0.6]], float)
    assert list(nms(dets[[0, 1]], 0.3)) == [0]
    # +1 areas give IoU 50/150 = 0.333 (suppressed at 0.3); plain areas would give 36/126 = 0.286 (kept).
    assert list(nms(dets[[2, 3]], 0.3)) == [0]
    assert list(nms(dets[[2, 3]], 0.34)) == [0, 1]


def test_s3fd_detector_loads_official_file_and_auto_prefers_it(shared, seeded_s3fd_file, monkeypatch):
    monkeypatch.setenv("EMOGEN_S3FD_PATH", str(seeded_s3fd_file))
    det = create_detector("auto", device="cpu")
    assert det.name == "s3fd"
    frames = np.random.default_rng(0).integers(0, 255, (2, 128, 160, 3), dtype=np.uint8)
    fa = FaceAlignment(LandmarksType._2D, flip_input=False, device="cpu")
    result = fa.get_detections_for_batch(frames)
    assert len(result) == 2
    for box in result:
        assert box is None or (len(box) == 4 and all(isinstance(v, int) and v >= 0 for v in box))


def test_missing_weights_message(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "s3fd.pth"
    with pytest.raises(UserError) as err:
        create_detector("s3fd", weights_path=str(missing))
    text = str(err.value)
    assert str(missing) in text and "face-alignment" in text and "s3fd.pth" in text and "dlib or opencv" in text


def test_auto_falls_back_with_one_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMOGEN_S3FD_PATH", str(tmp_path / "absent.pth"))
    det = create_detector("auto")
    assert isinstance(det, HogDetector)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dlib" in err[0] and "absent.pth" in err[0]
    with pytest.raises(UserError, match="unknown face detector"):
        create_detector("mtcnn")


def test_auto_order_without_dlib_or_cascade(tmp_path, monkeypatch, capsys):
    import face_detection.detection.dlib.hog_detector as hog
    import face_detection.detection.opencv.haar_detector as haar

    monkeypatch.setenv("EMOGEN_S3FD_PATH", str(tmp_path / "absent.pth"))
    monkeypatch.setattr(hog, "hog_available", lambda: False)
    assert isinstance(create_detector("auto"), HaarDetector)
    assert "OpenCV Haar" in capsys.readouterr().err
    monkeypatch.setattr(haar, "haar_available", lambda: False)
    with pytest.raises(UserError) as err:
        create_detector("auto")
    text = str(err.value)
    assert "\n" not in text and "--box" in text and "absent.pth" in text and "dlib-bin" in text
    with pytest.raises(UserError, match="OpenCV .* has no Haar cascade"):
        create_detector("opencv")


DETECTORS = {"opencv": HaarDetector, "dlib": HogDetector}


@pytest.mark.parametrize("detector", sorted(DETECTORS))
@pytest.mark.parametrize("name", sorted(MOUTH_CHIN))
def test_download_free_detectors_cover_mouth_and_chin(shared, name, detector):
    path = shared / "data" / name
    frame = cv2.imread(str(path)) if name.endswith(".jpg") else next(read_frames(path))
    box = DETECTORS[detector]().best_boxes([frame])[0]
    assert box is not None
    x1, y1, x2, y2 = box
    mouth, chin = MOUTH_CHIN[name]
    assert y1 < mouth < y2
    assert y2 >= chin - ANNOTATION_SLACK
    # Not a runaway box: the bottom stays within a face-height fraction below the chin.
    assert y2 - chin < 0.35 * (y2 - y1)
    assert x1 < frame.shape[1] / 2 < x2


@pytest.mark.parametrize("detector", sorted(DETECTORS))
@pytest.mark.parametrize("video", ["face1_30fps", "face2", "face3", "face4_30fps", "face5", "face6", "face7"])
def test_download_free_detectors_find_a_face_in_every_third_frame(shared, video, detector):
    # Every third frame keeps the suite within its time budget; bench/bench_download_free_detectors.py runs
    # both detectors on every frame of every clip.
    instance = DETECTORS[detector]()
    boxes = [instance.best_boxes([f])[0] for f in read_frames(shared / f"data/video/{video}.mp4", step=3)]
    assert len(boxes) >= 41  # the shortest shared clip has 122 frames: 41 samples means it was read to the end
    assert all(b is not None for b in boxes)


class FakeDetector(FaceDetector):
    """Reads the frame index from pixel (0, 0) and returns a box that moves with it."""

    name = "fake"

    def __init__(self, missing=(), max_batch=None):
        super().__init__("cpu")
        self.missing = set(missing)
        self.max_batch = max_batch
        self.seen = []

    def detect_from_batch(self, images):
        if self.max_batch and len(images) > self.max_batch:
            raise RuntimeError("CUDA out of memory. Tried to allocate")
        out = []
        for im in images:
            i = int(im[0, 0, 0])
            self.seen.append(i)
            scale = im.shape[1] / 200
            if i in self.missing:
                out.append(np.zeros((0, 5)))
            else:
                out.append(np.array([[(10 + 2 * i) * scale, 20 * scale, (60 + 2 * i) * scale, 90 * scale, 0.9]]))
        return out


def synthetic_frames(n, side=200):
    for i in range(n):
        frame = np.zeros((side, side, 3), np.uint8)
        frame[:4, :4] = i
        yield frame


def test_stride_detects_key_frames_and_interpolates():
    det = FakeDetector()
    boxes = detect_video_boxes(synthetic_frames(23), det, DetectionSettings(stride=4, batch_size=2))
    assert len(boxes) == 23
    assert sorted(det.seen) == [0, 4, 8, 12, 16, 20, 22]  # every 4th plus the last
    assert boxes == [(10 + 2 * i, 20, 60 + 2 * i, 90) for i in range(23)]


def test_stride_detects_frames_next_to_a_missing_key_frame():
    det = FakeDetector(missing={8})
    boxes = detect_video_boxes(synthetic_frames(13), det, DetectionSettings(stride=4, batch_size=8))
    assert boxes[8] is None
    assert set(det.seen) == {0, 4, 8, 12, 5, 6, 7, 9, 10, 11}
    assert boxes[6] == (22, 20, 72, 90) and boxes[2] == (14, 20, 64, 90)


def test_downscale_maps_boxes_back_and_oom_halves_batch(capsys):
    det = FakeDetector(max_batch=2)
    boxes = detect_video_boxes(synthetic_frames(6, side=400), det, DetectionSettings(max_side=200, batch_size=8))
    # The fake's box scales with the frame, so on the full 400-px frame it is twice the 200-px box.
    assert boxes == [(2 * (10 + 2 * i), 40, 2 * (60 + 2 * i), 180) for i in range(6)]
    assert "retrying with batch size 2" in capsys.readouterr().out


def test_settings_are_validated():
    for kwargs in ({"stride": 0}, {"batch_size": 0}, {"max_side": 10}):
        with pytest.raises(UserError):
            DetectionSettings(**kwargs)


def test_public_names():
    for name in ("S3FD", "FaceAlignment", "LandmarksType", "create_detector", "detect_video_boxes"):
        assert hasattr(face_detection, name)


SITE_OPENCV5 = "import cv2\ndel cv2.CascadeClassifier  # OpenCV 5 has no cascade classifier\n"
SITE_NO_DLIB = """
import sys


class _NoDlib:
    def find_spec(self, name, path=None, target=None):
        if name == "dlib" or name.startswith("dlib."):
            raise ImportError("No module named 'dlib'")


sys.meta_path.insert(0, _NoDlib())
"""


def _opencv5_env(tmp_path, without_dlib):
    site = tmp_path / ("site_nodlib" if without_dlib else "site")
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITE_OPENCV5 + (SITE_NO_DLIB if without_dlib else ""))
    env = dict(os.environ, PYTHONPATH=str(site), EMOGEN_S3FD_PATH=str(tmp_path / "absent.pth"))
    return env


@pytest.fixture(scope="module")
def opencv5_media(shared, tmp_path_factory):
    d = tmp_path_factory.mktemp("cv5")
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(shared / "data/video/face3.mp4"),
            "-t",
            "1.2",
            str(d / "1001_DFA_HAP_XX.mp4"),
        ],
        check=True,
    )
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(shared / "data/audio/speech_en_16k.wav"),
            "-t",
            "0.8",
            str(d / "speech.wav"),
        ],
        check=True,
    )
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, d / "emogen.pth")
    return d


@pytest.mark.parametrize("without_dlib", [False, True])
def test_opencv5_without_cascade(opencv5_media, tmp_path, without_dlib):
    d = opencv5_media
    env = _opencv5_env(tmp_path, without_dlib)
    check = subprocess.run(
        [sys.executable, "-c", "import cv2; print(hasattr(cv2, 'CascadeClassifier'))"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.stdout.strip() == "False"
    infer = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "inference.py"),
            "--checkpoint_path",
            str(d / "emogen.pth"),
            "--face",
            str(d / "1001_DFA_HAP_XX.mp4"),
            "--audio",
            str(d / "speech.wav"),
            "--emotion",
            "HAP",
            "--outfile",
            str(tmp_path / "out.mp4"),
            "--no_progress",
            "--no_detection_cache",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    prep = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "preprocess_crema-d.py"),
            "--data_root",
            str(d),
            "--preprocessed_root",
            str(tmp_path / "pre"),
            "--filelist_dir",
            str(tmp_path / "fl"),
            "--no_progress",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    if not without_dlib:  # the default download-free detector works on OpenCV 5
        assert infer.returncode == 0, infer.stderr
        assert "dlib HOG" in infer.stderr and (tmp_path / "out.mp4").exists()
        assert prep.returncode == 0, prep.stderr
        assert "processed 1" in prep.stdout
    else:  # nothing can detect: one line with every fix, no traceback
        for proc in (infer, prep):
            assert proc.returncode == 2
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
            assert "--box" in lines[0] and "dlib-bin" in lines[0] and "s3fd.pth" in lines[0]
        assert not (tmp_path / "out.mp4").exists()


def test_registry_folders_match_names_and_classes_load():
    from face_detection.registry import DETECTORS

    folders = {p.name for p in (REPO_ROOT / "face_detection" / "detection").iterdir() if (p / "__init__.py").exists()}
    assert folders == set(DETECTORS)
    for name, entry in DETECTORS.items():
        assert entry.module.split(".")[0] == name
        cls = entry.load_class()
        assert issubclass(cls, FaceDetector) and cls.name == name


def test_every_face_detector_option_reads_the_registry():
    import importlib
    import importlib.util

    from face_detection.registry import DETECTOR_NAMES, choices

    assert set(DETECTOR_NAMES) <= set(choices()) and "reference" in choices(lse=True)
    for script in (
        "inference.py",
        "preprocess_crema-d.py",
        "app.py",
        "evaluation/calculate_fid.py",
        "evaluation/emotion_accuracy.py",
        "evaluation/gen_videos_from_filelist.py",
        "evaluation/score_lse.py",
    ):
        if script.startswith("evaluation/"):
            module = importlib.import_module(script[:-3].replace("/", "."))
        else:
            module = load_script(script)
        action = next(a for a in module.get_args_parser()._actions if a.dest == "face_detector")
        assert tuple(action.choices) == choices(lse=script.endswith("score_lse.py")), script


def opencv5_dir():
    """OpenCV 5 as pip installs it today, in a folder of its own (scripts/setup --dev puts it there)."""
    folder = Path(os.environ.get("EMOGEN_OPENCV5_DIR") or REPO_ROOT / ".test-opencv5")
    if not (folder / "cv2").is_dir():
        message = f"OpenCV 5 not installed at {folder} (bash scripts/setup --dev installs it)"
        if os.environ.get("EMOGEN_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.mark.slow
def test_haar_on_real_opencv5_is_one_line_in_every_script(opencv5_media, tmp_path):
    d = opencv5_media
    env = dict(os.environ, PYTHONPATH=str(opencv5_dir()), EMOGEN_S3FD_PATH=str(tmp_path / "absent.pth"))
    version = subprocess.run(
        [sys.executable, "-c", "import cv2; print(cv2.__version__, hasattr(cv2, 'CascadeClassifier'))"],
        env=env,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert version[0].startswith("5.") and version[1] == "False"
    torch.save(seeded_state_dict("syncnet_eval"), d / "syncnet_v2.model")
    torch.save(seeded_state_dict("emotion_disc"), d / "disc.pth")
    (d / "list.txt").write_text("1001_DFA_HAP_XX\n")
    face, videos = str(d / "1001_DFA_HAP_XX.mp4"), str(d)
    commands = {
        "inference": [
            "inference.py",
            "--checkpoint_path",
            str(d / "emogen.pth"),
            "--face",
            face,
            "--audio",
            str(d / "speech.wav"),
            "--emotion",
            "HAP",
            "--outfile",
            str(tmp_path / "o.mp4"),
            "--no_progress",
            "--no_detection_cache",
        ],
        "preprocess": [
            "preprocess_crema-d.py",
            "--data_root",
            videos,
            "--preprocessed_root",
            str(tmp_path / "p1"),
            "--filelist_dir",
            str(tmp_path / "f1"),
            "--no_progress",
        ],
        "preprocess workers": [
            "preprocess_crema-d.py",
            "--data_root",
            videos,
            "--preprocessed_root",
            str(tmp_path / "p2"),
            "--filelist_dir",
            str(tmp_path / "f2"),
            "--workers",
            "2",
            "--no_progress",
        ],
        "calculate_fid": [
            "evaluation/calculate_fid.py",
            "--real_dir",
            videos,
            "--generated_dir",
            videos,
            "--random_inception",
            "--no_progress",
        ],
        "emotion_accuracy": [
            "evaluation/emotion_accuracy.py",
            "--videos_dir",
            videos,
            "--emotion_disc_path",
            str(d / "disc.pth"),
            "--no_progress",
        ],
        "score_lse": [
            "evaluation/score_lse.py",
            "--videos_dir",
            videos,
            "--syncnet_path",
            str(d / "syncnet_v2.model"),
            "--out_dir",
            str(tmp_path / "lse"),
            "--no_progress",
        ],
        "gen_videos": [
            "evaluation/gen_videos_from_filelist.py",
            "--filelist",
            str(d / "list.txt"),
            "--video_root",
            videos,
            "--checkpoint_path",
            str(d / "emogen.pth"),
            "--out_dir",
            str(tmp_path / "gen"),
            "--emotions",
            "HAP",
            "--no_progress",
            "--detection_cache_dir",
            str(tmp_path / "cache"),
        ],
    }
    for name, argv in commands.items():
        proc = subprocess.run(
            [sys.executable, *argv, "--face_detector", "opencv"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert "Traceback" not in proc.stderr and "AttributeError" not in proc.stderr + proc.stdout, (name, proc.stderr)
        said = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "has no Haar cascade" in ln]
        assert proc.returncode != 0 and len(said) == 1, (name, proc.returncode, proc.stdout, proc.stderr)
        assert "--face_detector dlib" in said[0] and "opencv-python-headless<5" in said[0]
    # A web job with the Haar detector fails with the same line on the page, not an AttributeError.
    web = (
        f"import sys, time; sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from emogen.apps.web.server import WebConfig, create_app\n"
        f"app = create_app(WebConfig({str(d / 'emogen.pth')!r}, device='cpu', face_detector='opencv', "
        f"cache_dir=None, work_root={str(tmp_path / 'web')!r}))\n"
        "c = app.test_client()\n"
        "r = c.post('/api/jobs', data={'emotion': 'HAP', 'face_example': 'example face (video)', "
        "'audio_example': 'example speech (English)'})\n"
        "for _ in range(600):\n"
        "    s = c.get('/api/jobs/' + r.get_json()['id']).get_json()\n"
        "    if s['state'] in ('done', 'error'): break\n"
        "    time.sleep(0.1)\n"
        "print(s['state'], '|', s['error'])\n"
        "app.extensions['emogen_queue'].shutdown()\n"
    )
    proc = subprocess.run([sys.executable, "-c", web], env=env, capture_output=True, text=True, timeout=300)
    state, error = proc.stdout.strip().splitlines()[-1].split(" | ", 1)
    assert state == "error" and "has no Haar cascade" in error and "AttributeError" not in error, proc.stdout
