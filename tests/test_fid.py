import numpy as np
import pytest

from emogen.common.errors import UserError, run_cli
from evaluation import calculate_fid
from evaluation.metrics.fid import build_inception, face_crops, frechet_distance, video_features
from face_detection import create_detector


def test_frechet_distance_of_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (4000, 8))
    b = rng.normal(0.5, 1.2, (4000, 8))
    # ||mu1 - mu2||^2 + tr(S1 + S2 - 2 sqrt(S1 S2)) = 8 * 0.25 + 8 * (1 + 1.44 - 2 * 1.2) = 2.32
    assert frechet_distance(a, b) == pytest.approx(2.32, abs=0.1)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_missing_inception_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("EMOGEN_INCEPTION_PATH", raising=False)
    with pytest.raises(UserError, match="pt_inception-2015-12-05-6726825d.pth"):
        build_inception()


def test_another_models_weights_are_one_line(shared, tmp_path, capsys):
    import torch
    from shared_data import seeded_state_dict

    wrong = tmp_path / "syncnet.pth"
    torch.save({"state_dict": seeded_state_dict("syncnet_color")}, wrong)
    import shutil

    videos = tmp_path / "v"
    videos.mkdir()
    shutil.copy(shared / "data/video/face5.mp4", videos / "a.mp4")
    argv = ["--real_dir", str(videos), "--generated_dir", str(videos), "--inception_path", str(wrong), "--no_progress"]
    assert run_cli(calculate_fid.main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and len(err[0]) < 400, err
    assert "is not pytorch-fid's Inception weights" in err[0] and "a Wav2Lip lip-sync expert" in err[0]


@pytest.mark.slow
def test_random_inception_features_and_script(shared, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    model = build_inception(allow_random=True)
    feats = video_features(model, [str(shared / "data/video/face5.mp4")], max_frames=6, progress=False)
    assert feats.shape == (6, 2048) and np.isfinite(feats).all()
    # Random Inception weights give huge activations; judge the distance relative to the features' spread.
    scale = 2 * np.trace(np.cov(feats, rowvar=False)) + 1e-12
    assert abs(frechet_distance(feats, feats)) / scale < 1e-3
    assert frechet_distance(feats, feats * 1.5) / scale > 0.05
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "v.mp4").write_bytes((shared / "data/video/face5.mp4").read_bytes())
    (tmp_path / "a" / "w.mp4").write_bytes((shared / "data/video/face6.mp4").read_bytes())
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "v_HAP.mp4").write_bytes((shared / "data/video/face5.mp4").read_bytes())
    (tmp_path / "test.txt").write_text("v\n")
    base = [
        "--real_dir",
        str(tmp_path / "a"),
        "--generated_dir",
        str(tmp_path / "g"),
        "--max_frames",
        "4",
        "--random_inception",
        "--face_detector",
        "dlib",
        "--no_progress",
    ]
    results = {}
    for name, extra in (
        ("crops", []),
        ("whole", ["--whole_frame"]),
        ("listed", ["--filelist", str(tmp_path / "test.txt")]),
    ):
        assert run_cli(calculate_fid.main, base + extra) == 0
        [line] = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("FID ")]
        results[name] = line
    assert "8 real face crops from 2 videos, 4 generated face crops from 1 videos" in results["crops"]
    assert "8 real frames from 2 videos" in results["whole"]
    # The real set restricted to the filelist is the generated clip's own source: a (near) zero distance,
    # where the whole folder (another speaker too) is not; crops and whole frames differ.
    fid = {k: float(v.split()[1]) for k, v in results.items()}
    assert "4 real face crops from 1 videos" in results["listed"]
    assert abs(fid["listed"]) < 1e-3 * abs(fid["crops"]) and fid["crops"] != fid["whole"]
    crop = next(face_crops(str(shared / "data/video/face5.mp4"), create_detector("dlib"), 1))
    assert crop.shape == (299, 299, 3)
