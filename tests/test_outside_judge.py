"""The emotion judge trained elsewhere (evaluation.metrics.outside_judge): the PyTorch port equals the Keras model
fer ships, and on the six real CREMA-D clips it finds most of their own emotions."""

import numpy as np
import pytest
import torch
from shared_data import REPO_ROOT

from emogen.common.contract import EMOTIONS
from evaluation.metrics.outside_judge import JUDGED, OutsideJudgement, judge_clips, load_judge


def test_the_port_gives_the_keras_models_probabilities():
    """tests/data/fer_keras_parity.npz: Keras itself on seeded noise and six real faces
    (scripts/fer_parity_fixture.py)."""
    data = np.load(REPO_ROOT / "tests/data/fer_keras_parity.npz")
    with torch.inference_mode():
        got = torch.softmax(load_judge()(torch.from_numpy(data["x"]).permute(0, 3, 1, 2)), dim=1).numpy()
    assert np.abs(got - data["y"]).max() < 1e-5
    assert list(got[4:].argmax(axis=1)) == list(data["y"][4:].argmax(axis=1))


@pytest.fixture(scope="module")
def real_faces(shared, tmp_path_factory):
    """The face crops of the six real clips, as preprocess_crema-d.py makes them."""
    from emogen.apps.emotion_scores import read_clip_faces
    from emogen.data.fps_conversion import convert_one
    from emogen.data.preprocess import preprocess_video
    from face_detection.detection.dlib import HogDetector

    folder = tmp_path_factory.mktemp("judge")
    detector = HogDetector()
    faces = {}
    for e in EMOTIONS:
        name = f"1001_DFA_{e}_XX"
        video = folder / f"{name}.mp4"
        convert_one(str(shared / f"data/crema-d/{name}.flv"), str(video), 25.0)
        preprocess_video(str(video), str(folder / name), detector)
        faces[e] = read_clip_faces(str(folder / name), 25.0).faces
    return faces


def test_the_real_clips_score_their_own_emotion_highest_in_four_of_five(real_faces):
    """Measured: FEA, HAP, NEU and SAD are their own clip's highest (ANG loses to the DIS clip); the judge never
    says disgust on these faces."""
    judged = judge_clips(real_faces)
    assert judged.own_label_highest(JUDGED) == ["FEA", "HAP", "NEU", "SAD"]
    assert judged.score("HAP", "HAP") > 0.4 > max(judged.score("HAP", e) for e in EMOTIONS if e != "HAP")
    assert all(judged.probabilities[e]["disgust"] < 0.05 for e in EMOTIONS)


def test_resampled_counts_stay_put_when_every_frame_agrees():
    """Each clip's every frame says its own expression: every resample counts all five."""
    from evaluation.metrics.outside_judge import FER_LABELS, FER_NAME

    frames = {}
    for e in EMOTIONS:
        p = np.full((30, len(FER_LABELS)), 0.1)
        p[:, FER_LABELS.index(FER_NAME[e])] = 0.4
        frames[e] = p
    judged = OutsideJudgement(frames)
    assert len(judged.own_label_highest()) == 5
    assert set(judged.resampled_counts(200).tolist()) == {5}


def test_resampled_counts_spread_when_the_frames_disagree():
    """HAP's own render wins on the mean, but by one frame in a few: resamples move its count between 0 and 1."""
    from evaluation.metrics.outside_judge import FER_LABELS

    happy = FER_LABELS.index("happy")
    flat = np.full((20, len(FER_LABELS)), 1.0 / len(FER_LABELS))
    frames = {e: flat.copy() for e in EMOTIONS}
    frames["HAP"][:, happy] = np.where(np.arange(20) < 11, 0.30, 0.0)  # mean 0.165, above the others' 0.143
    judged = OutsideJudgement(frames)
    assert judged.own_label_highest(["HAP"]) == ["HAP"]
    counts = judged.resampled_counts(400, seed=1, emotions=["HAP"])
    assert 0.2 < (counts == 0).mean() < 0.8 and set(counts.tolist()) <= {0, 1}


def test_the_real_clips_count_three_or_more_on_frame_resamples(real_faces):
    """Measured: 4 of 5 on most resamples of the real clips' frames, never fewer than 3."""
    counts = judge_clips(real_faces).resampled_counts(300)
    assert counts.min() >= 3 and np.median(counts) == 4
