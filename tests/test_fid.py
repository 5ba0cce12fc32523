import numpy as np
import pytest

from emogen.errors import UserError, run_cli
from evaluation import calculate_fid
from evaluation.fid import build_inception, frechet_distance, video_features


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
    assert run_cli(calculate_fid.main, ["--real_dir", str(tmp_path / "a"), "--generated_dir", str(tmp_path / "a"),
                                        "--max_frames", "4", "--random_inception", "--no_progress"]) == 0
    out = capsys.readouterr().out
    [line] = [ln for ln in out.splitlines() if ln.startswith("FID ")]
    assert np.isfinite(float(line.split()[1])) and "4 real frames from 1 videos" in line
