import math

import cv2
import numpy as np
import pytest

from emogen.common.errors import run_cli
from evaluation import img_eval
from evaluation.metrics.cpbd import cpbd, edge_widths, sobel_edges
from evaluation.metrics.image_quality import PairMetrics, psnr, ssim


def test_psnr_known_values():
    a = np.zeros((32, 32), np.uint8)
    b = np.full((32, 32), 10, np.uint8)
    assert psnr(a, b) == pytest.approx(20 * math.log10(255 / 10))
    # The original subtracts uint8 arrays: 0 - 10 wraps to 246.
    assert psnr(a, b, uint8_wraparound=True) == pytest.approx(20 * math.log10(255 / 246))
    assert psnr(a, a) == math.inf


def test_ssim_known_values():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    assert ssim(img, img) == pytest.approx(1.0)
    assert ssim(img, 255 - img) < 0
    noisy = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    assert 0 < ssim(img, noisy) < 1


@pytest.fixture(scope="module")
def gray_face(shared):
    cap = cv2.VideoCapture(str(shared / "data/video/face3.mp4"))
    frame = cap.read()[1]
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[100:420, 140:460]


def test_cpbd_matches_the_reference_package(gray_face, monkeypatch):
    import scipy.ndimage

    # The cpbd package imports scipy.ndimage.imread, gone from SciPy; give it a stand-in to compare against.
    monkeypatch.setattr(scipy.ndimage, "imread", None, raising=False)
    reference = pytest.importorskip("cpbd")
    for image in (gray_face, cv2.GaussianBlur(gray_face, (7, 7), 2), cv2.resize(gray_face, (96, 96))):
        assert cpbd(image) == pytest.approx(reference.compute(image), abs=1e-12)


def test_edge_widths_equal_the_reference_walks(gray_face, monkeypatch):
    """The vectorised widths equal the package's pixel-by-pixel walks, including walks cut at the border and at
    the 101-pixel cap (long ramps) and plateaus (zero steps)."""
    import sys

    import scipy.ndimage

    monkeypatch.setattr(scipy.ndimage, "imread", None, raising=False)
    pytest.importorskip("cpbd")
    reference = sys.modules["cpbd.compute"].marziliano_method
    rng = np.random.default_rng(3)
    # Long ramps on both sides of a jump (up), then a plateau and a jump down near the right border.
    row = np.concatenate([np.linspace(0, 100, 150), np.linspace(200, 260, 150), np.full(20, 260.0), [20.0, 10.0]])
    ramp = np.tile(row, (40, 1))
    blobs = cv2.GaussianBlur(rng.normal(128, 60, (64, 80)), (0, 0), 2)
    images = [gray_face.astype(np.float64), ramp, blobs, np.round(blobs / 40)]  # plateaus: many zero steps
    for image in images:
        edges = sobel_edges(image)
        expected = reference(edges, image)
        assert np.array_equal(edge_widths(edges, image), expected)
        assert np.count_nonzero(expected) > 0
    assert edge_widths(sobel_edges(images[1]), images[1]).max() > 101  # the cap was reached on both sides


def test_cpbd_orders_sharp_above_blurred(gray_face):
    assert cpbd(gray_face) > cpbd(cv2.GaussianBlur(gray_face, (9, 9), 3)) + 0.03


def test_img_eval_script(shared, tmp_path, capsys):
    (tmp_path / "real").mkdir()
    (tmp_path / "gen").mkdir()
    src = (shared / "data/video/face5.mp4").read_bytes()
    (tmp_path / "real" / "a.mp4").write_bytes(src)
    (tmp_path / "gen" / "a.mp4").write_bytes(src)
    assert (
        run_cli(
            img_eval.main,
            [
                "--real_dir",
                str(tmp_path / "real"),
                "--generated_dir",
                str(tmp_path / "gen"),
                "--max_frames",
                "2",
                "--no_progress",
            ],
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "a.mp4" in out and " inf  1.0000" in out
    m = PairMetrics()
    frame = cv2.imread(str(shared / "data/image/face3.jpg"))
    m.add(frame, cv2.GaussianBlur(frame, (5, 5), 2))
    assert 25 < m.means()["PSNR"] < 60 and 0.5 < m.means()["SSIM"] < 1


def test_merged_video_sums_equal_one_run_over_all_frames(shared):
    frames = [cv2.resize(cv2.imread(str(shared / "data/image/face3.jpg")), (160, 120))]
    frames.append(cv2.GaussianBlur(frames[0], (5, 5), 1))
    pairs = [(frames[0], frames[1]), (frames[1], cv2.GaussianBlur(frames[1], (9, 9), 3)), (frames[0], frames[0])]
    together, first, second = PairMetrics(), PairMetrics(), PairMetrics()
    for i, (a, b) in enumerate(pairs):
        together.add(a, b)
        (first if i == 0 else second).add(a, b)
    first.merge(second)
    assert first.frames == 3 and first.infinite_psnr == 1
    assert first.means() == pytest.approx(together.means(), abs=1e-12)
