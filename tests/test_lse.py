import csv
import json

import cv2
import numpy as np
import pytest
import torch
from shared_data import manifest, seeded_state_dict, seeded_weights

from emogen.common.errors import UserError, run_cli
from evaluation import score_lse
from evaluation.metrics.face_tracks import TrackSettings, build_tracks, crop_face, crop_plan, track_faces
from evaluation.metrics.lse import load_syncnet_eval, mfcc, score_embeddings, score_video
from face_detection.detection.syncnet_s3fd import ReferenceSFDDetector
from face_detection.detection.syncnet_s3fd.postprocess import detect, priors
from models.syncnet_eval import SyncNetEval


@pytest.fixture(scope="module")
def syncnet_file(shared, tmp_path_factory):
    path = tmp_path_factory.mktemp("syncnet") / "syncnet_v2.model"
    torch.save(seeded_state_dict("syncnet_eval"), path)
    return path


def test_syncnet_eval_manifest_and_parity(shared, parity):
    model = SyncNetEval()
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == [
        (k, m["shape"]) for k, m in manifest()["syncnet_eval"].items()
    ]
    model.load_state_dict(seeded_state_dict("syncnet_eval"))
    x = seeded_weights().seeded_inputs("syncnet_eval", 11)
    with torch.inference_mode():
        aud, lip = model.eval()(x["mfcc"], x["lip_video"])
    np.testing.assert_allclose(aud.numpy(), parity["syncnet_eval.audio_embedding"], atol=1e-4)
    np.testing.assert_allclose(lip.numpy(), parity["syncnet_eval.lip_embedding"], atol=1e-4)


def test_lse_matches_the_original_on_face2(shared, syncnet_file):
    ref = json.loads((shared / "spec/lse_face2_seed11.json").read_text())
    model = load_syncnet_eval(str(syncnet_file))
    [result] = score_video(str(shared / ref["video"]), model, whole_frame=True)
    assert result.score.offset == ref["offset"]
    assert result.score.windows == ref["windows"] and result.end_frame + 1 == ref["frames"]
    assert abs(result.score.dist - ref["dist"]) / ref["dist"] < 1e-4
    assert abs(result.score.conf - ref["conf"]) < 0.05


def test_mfcc_shape_and_framing():
    samples = (np.random.default_rng(0).normal(0, 3000, 16000)).astype(np.int16)
    feats = mfcc(samples)
    assert feats.shape == (13, 99)  # 25 ms windows every 10 ms over 1 s
    # 4 MFCC steps per video frame: window v spans columns 4v..4v+19 (0.2 s = 5 frames).
    assert 4 * (16000 // 640 - 5 - 1) + 20 <= feats.shape[1]


@pytest.mark.parametrize("shift", [-15, -6, 0, 7, 15])
def test_scoring_recovers_a_known_shift(shift):
    rng = np.random.default_rng(1)
    windows, vshift = 60, 15
    base = torch.from_numpy(rng.normal(size=(windows + 2 * vshift, 64)).astype(np.float32))
    aud = base[vshift : vshift + windows]
    lip = torch.stack([base[vshift + i + shift] for i in range(windows)])
    score = score_embeddings(lip, aud, vshift)
    assert score.offset == -shift
    assert score.conf > 1.0 and score.windows == windows


def test_tracks_link_interpolate_and_filter():
    face = (100, 100, 300, 320)
    boxes = [face if i not in (10, 11, 12) else None for i in range(40)] + [None] * 30 + [(400, 50, 600, 260)] * 20
    tracks = build_tracks(boxes, TrackSettings(min_track=25))
    assert len(tracks) == 1  # the 20-frame face is too short
    assert list(tracks[0].frames) == list(range(40))
    assert np.allclose(tracks[0].boxes[11], face)  # gap filled
    assert len(build_tracks(boxes, TrackSettings(min_track=10))) == 2
    assert build_tracks([(0, 0, 50, 50)] * 40) == []  # faces below 100 px are dropped
    crop = crop_face(np.zeros((480, 640, 3), np.uint8), 80, 200, 300)
    assert crop.shape == (224, 224, 3)


def test_tracks_follow_the_reference_rules_on_several_faces():
    left, right = (10, 10, 210, 230), (400, 20, 610, 240)
    # Two faces side by side for 60 frames, the right one missing for 20 frames (<= 25: one track, interpolated)
    # and drifting 2 px per frame (IoU stays above 0.5).
    frames = []
    for i in range(60):
        faces = [left]
        if not 20 <= i < 40:
            faces.append((400 + 2 * i, 20, 610 + 2 * i, 240))
        frames.append(faces)
    tracks = track_faces(frames, TrackSettings(min_track=25))
    assert len(tracks) == 2
    assert [list(t.frames) for t in tracks] == [list(range(60))] * 2
    moving = tracks[1]
    assert np.allclose(moving.boxes[30], (460, 20, 670, 240))  # interpolated across the 20-frame gap
    # A gap of 26 frames ends a track: the face after it starts another one.
    split = [[right] if not 10 <= i < 36 else [] for i in range(80)]
    assert [(t.frames[0], t.frames[-1]) for t in track_faces(split, TrackSettings(min_track=5))] == [(0, 9), (36, 79)]
    # The reference removes a taken face from the list it iterates, so the face after it in the same frame is
    # skipped in that pass: two nearly identical boxes per frame give two tracks, not one track of both.
    twins = [[left, (12, 10, 212, 230)] for _ in range(30)]
    assert len(track_faces(twins, TrackSettings(min_track=25))) == 2
    # Crops as syncnet_python: median filter 13 on size and centre, square of side 2 * size * 1.4, grey 110 pad.
    plan = crop_plan(tracks[0])
    assert np.allclose(plan[0], (110, 120, 110))
    crop = crop_face(np.zeros((250, 700, 3), np.uint8), *plan[0])
    assert crop.shape == (224, 224, 3) and crop[0, 0, 0] == 110


def test_reference_detector_postprocessing():
    sizes = [(4, 4)]  # one head of a 16x16 input: 16 anchors of size 16 at stride 4
    prior = priors((16, 16), sizes)
    assert prior.shape == (16, 4) and np.allclose(prior[0], (2 / 16, 2 / 16, 1, 1))
    loc = np.zeros((16, 4), np.float32)
    prob = np.full(16, 0.01, np.float32)
    prob[[0, 1, 5, 15]] = [0.95, 0.93, 0.5, 0.91]  # 0 and 1 overlap; 5 is under 0.9
    faces = detect(loc, prob, prior, frame_wh=(64, 64))
    # Boxes are the anchors (zero offsets) scaled to the 64x64 frame; NMS 0.3 suppresses anchor 1
    # (IoU 0.6 with anchor 0), confidence 0.9 drops anchor 5, NMS 0.1 keeps 0 and 15 (no overlap).
    assert np.allclose(faces[:, 4], [0.95, 0.91])
    assert np.allclose(faces[0, :4], [-24, -24, 40, 40]) and np.allclose(faces[1, :4], [24, 24, 88, 88])


def test_reference_detector_weights(shared, tmp_path, monkeypatch):
    monkeypatch.delenv("EMOGEN_SFD_FACE_PATH", raising=False)
    with pytest.raises(UserError) as err:
        ReferenceSFDDetector("cpu", str(tmp_path / "sfd_face.pth"))
    assert "sfd_face.pth" in str(err.value) and "checkpoints/sfd_face.pth" in str(err.value)
    # face-alignment's s3fd.pth layout is accepted (same tensors, renamed).
    torch.save(seeded_state_dict("s3fd"), tmp_path / "s3fd.pth")
    det = ReferenceSFDDetector("cpu", str(tmp_path / "s3fd.pth"))
    frame = cv2.imread(str(shared / "data/image/face3.jpg"))
    faces = det.detect_from_image(frame)
    assert faces.ndim == 2 and faces.shape[1] == 5
    torch.save({"state_dict": det.net.state_dict()}, tmp_path / "sfd_face.pth")  # syncnet_python's own layout
    assert (
        ReferenceSFDDetector("cpu", str(tmp_path / "sfd_face.pth")).net.state_dict().keys()
        == det.net.state_dict().keys()
    )


@pytest.mark.slow
def test_score_lse_script_with_tracking(shared, syncnet_file, tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "face2.mp4").write_bytes((shared / "data/video/face2.mp4").read_bytes())
    out = tmp_path / "out"
    code = run_cli(
        score_lse.main,
        [
            "--videos_dir",
            str(videos),
            "--syncnet_path",
            str(syncnet_file),
            "--out_dir",
            str(out),
            "--face_detector",
            "opencv",
            "--no_progress",
        ],
    )
    assert code == 0
    lines = (out / "all_scores.txt").read_text().splitlines()
    rows = list(csv.DictReader(open(out / "lse_scores.csv")))
    assert len(rows) == 1 and int(rows[0]["windows"]) == 120 and -15 <= int(rows[0]["offset"]) <= 15
    assert len(lines) == 1 and [float(v) for v in lines[0].split()] == pytest.approx(
        [float(rows[0]["lse_d"]), float(rows[0]["lse_c"])], abs=1e-5
    )
    text = capsys.readouterr().out
    assert "mean over 1 face tracks of 1 videos (reference averaging); min_track 25 frames" in text
    assert "opencv (non-standard" in text


@pytest.mark.slow
def test_two_faces_side_by_side_give_two_tracks_averaged(shared, syncnet_file, tmp_path, capsys):
    import subprocess

    videos = tmp_path / "videos"
    videos.mkdir()
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(shared / "data/video/face6.mp4"),
            "-i",
            str(shared / "data/video/face7.mp4"),
            "-filter_complex",
            "[0:v][1:v]hstack=inputs=2[v]",
            "-map",
            "[v]",
            "-map",
            "0:a",
            "-t",
            "1.6",
            str(videos / "pair.mp4"),
        ],
        check=True,
    )
    out = tmp_path / "out"
    argv = [
        "--videos_dir",
        str(videos),
        "--syncnet_path",
        str(syncnet_file),
        "--out_dir",
        str(out),
        "--face_detector",
        "dlib",
        "--no_progress",
    ]
    assert run_cli(score_lse.main, argv) == 0
    rows = list(csv.DictReader(open(out / "lse_scores.csv")))
    assert len(rows) == 2 and {r["track"] for r in rows} == {"0", "1"}
    scores = [[float(v) for v in ln.split()] for ln in (out / "all_scores.txt").read_text().splitlines()]
    assert len(scores) == 2
    mean_d = sum(s[0] for s in scores) / 2
    text = capsys.readouterr().out
    assert f"LSE-D {mean_d:.3f}" in text and "2 face tracks of 1 videos" in text
    assert run_cli(score_lse.main, argv + ["--average", "videos", "--out_dir", str(tmp_path / "v")]) == 0
    assert len((tmp_path / "v" / "all_scores.txt").read_text().splitlines()) == 1
    assert "1 videos, longest track each" in capsys.readouterr().out


def test_missing_syncnet_weights(tmp_path, capsys):
    with pytest.raises(UserError, match="syncnet_v2.model.*syncnet_python"):
        load_syncnet_eval(str(tmp_path / "none.model"))
    code = run_cli(score_lse.main, ["--videos_dir", str(tmp_path), "--syncnet_path", str(tmp_path / "x")])
    assert code == 2
