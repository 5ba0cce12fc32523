import csv
import json

import numpy as np
import pytest
import torch

from emogen.errors import UserError, run_cli
from evaluation import score_lse
from evaluation.face_tracks import TrackSettings, build_tracks, crop_face
from evaluation.lse import mfcc, score_embeddings
from evaluation.sync_scoring import score_video
from evaluation.syncnet_eval import SyncNetEval, load_syncnet_eval
from shared_data import manifest, seeded_state_dict, seeded_weights


@pytest.fixture(scope="module")
def syncnet_file(shared, tmp_path_factory):
    path = tmp_path_factory.mktemp("syncnet") / "syncnet_v2.model"
    torch.save(seeded_state_dict("syncnet_eval"), path)
    return path


def test_syncnet_eval_manifest_and_parity(shared, parity):
    model = SyncNetEval()
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == \
        [(k, m["shape"]) for k, m in manifest()["syncnet_eval"].items()]
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
    aud = base[vshift:vshift + windows]
    lip = torch.stack([base[vshift + i + shift] for i in range(windows)])
    score = score_embeddings(lip, aud, vshift)
    assert score.offset == -shift
    assert score.conf > 1.0 and score.windows == windows


def test_tracks_link_interpolate_and_filter():
    face = (100, 100, 300, 320)
    boxes = [face if i not in (10, 11, 12) else None for i in range(40)] + [None] * 30 + \
        [(400, 50, 600, 260)] * 20
    tracks = build_tracks(boxes, TrackSettings(min_track=25))
    assert len(tracks) == 1  # the 20-frame face is too short
    assert list(tracks[0].frames) == list(range(40))
    assert np.allclose(tracks[0].boxes[11], face)  # gap filled
    assert len(build_tracks(boxes, TrackSettings(min_track=10))) == 2
    assert build_tracks([(0, 0, 50, 50)] * 40) == []  # faces below 100 px are dropped
    crop = crop_face(np.zeros((480, 640, 3), np.uint8), 80, 200, 300)
    assert crop.shape == (224, 224, 3)


def test_score_lse_script_with_tracking(shared, syncnet_file, tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "face2.mp4").write_bytes((shared / "data/video/face2.mp4").read_bytes())
    out = tmp_path / "out"
    code = run_cli(score_lse.main, ["--videos_dir", str(videos), "--syncnet_path", str(syncnet_file), "--out_dir",
                                    str(out), "--face_detector", "opencv", "--no_progress"])
    assert code == 0
    lines = (out / "all_scores.txt").read_text().splitlines()
    assert lines[1].startswith("face2.mp4 ") and lines[-1].startswith("# mean LSE-D")
    rows = list(csv.DictReader(open(out / "lse_scores.csv")))
    assert len(rows) == 1 and int(rows[0]["windows"]) == 120 and -15 <= int(rows[0]["offset"]) <= 15
    assert "mean" in capsys.readouterr().out


def test_missing_syncnet_weights(tmp_path, capsys):
    with pytest.raises(UserError, match="syncnet_v2.model.*syncnet_python"):
        load_syncnet_eval(str(tmp_path / "none.model"))
    code = run_cli(score_lse.main, ["--videos_dir", str(tmp_path), "--syncnet_path", str(tmp_path / "x")])
    assert code == 2
