import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "tests")):
    if p not in sys.path:
        sys.path.insert(0, p)

torch.set_num_threads(max(1, torch.get_num_threads()))

# One OpenVINO model cache for the whole session (scripts run as subprocesses inherit it): each seeded weight
# file is converted once, and nothing lands in the user's ~/.cache.
if "EMOGEN_MODEL_CACHE_DIR" not in os.environ:
    _models = tempfile.mkdtemp(prefix="emogen-test-models-")
    os.environ["EMOGEN_MODEL_CACHE_DIR"] = _models
    atexit.register(shutil.rmtree, _models, True)


@pytest.fixture(scope="session")
def shared():
    from shared_data import require_shared

    return require_shared()


@pytest.fixture(scope="session")
def parity(shared):
    return np.load(shared / "spec" / "parity_seed11.npz")


TINY_CLIPS = {
    "1001_DFA_ANG_XX": "face2",
    "1001_IEO_HAP_HI": "face3",
    "1002_TIE_SAD_LO": "face5",
    "1003_DFA_NEU_XX": "face6",
}


@pytest.fixture(scope="session")
def tiny_dataset(shared, tmp_path_factory):
    """A preprocessed CREMA-D-style set made from real shared clips (1.6 s each), with filelists."""
    import subprocess

    from emogen.data.filelists import write_filelists
    from emogen.data.preprocess import preprocess_video
    from face_detection.detection.opencv import HaarDetector

    root = tmp_path_factory.mktemp("tiny")
    detector = HaarDetector()
    for name, src in TINY_CLIPS.items():
        video = root / f"{name}.mp4"
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(shared / f"data/video/{src}.mp4"),
                "-t",
                "1.6",
                str(video),
            ],
            check=True,
        )
        report = preprocess_video(str(video), str(root / "pre" / name), detector)
        assert report.status == "done" and report.faces == 40
    write_filelists(
        str(root / "filelists"),
        {"train": ["1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_TIE_SAD_LO"], "val": ["1003_DFA_NEU_XX"], "test": []},
    )
    return root


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` run only where CUDA is present; elsewhere they are skipped, saying why."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (marker gpu)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
