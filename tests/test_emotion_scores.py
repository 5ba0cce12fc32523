import os

import numpy as np
import pytest
import torch

from emogen.apps.emotion_scores import (
    Judgement,
    LabelScores,
    classify,
    read_clip_faces,
    render_faces,
    score_labels,
    upper_face_distance,
)
from emogen.common.contract import EMOTIONS
from models import Wav2Lip
from models.emo_disc import DISCEMO


def test_upper_face_distance_sees_the_brows_only():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (7, 96, 96, 3), dtype=np.uint8)
    lower = base.copy()
    lower[:, 48:] = 255 - lower[:, 48:]  # a changed mouth and chin: not the upper face
    assert upper_face_distance([base, base.copy(), lower]) == 0.0
    brows = base.astype(np.int16)
    brows[:, 10:20] += 30
    brows = np.clip(brows, 0, 255).astype(np.uint8)
    expected = np.abs(brows[:, :48].astype(np.float32) - base[:, :48]).mean()
    # Three renders, two identical: pairs (base, base) 0, (base, brows) and (base, brows) the difference.
    assert upper_face_distance([base, base, brows]) == pytest.approx(2 * expected / 3, rel=1e-6)


def test_judgement_picks_the_most_probable_emotion():
    j = Judgement("HAP", dict(zip(EMOTIONS, [0.1, 0.1, 0.1, 0.5, 0.1, 0.1])))
    assert j.predicted == "HAP" and j.correct
    wrong = Judgement("SAD", dict(zip(EMOTIONS, [0.6, 0.1, 0.1, 0.1, 0.0, 0.1])))
    assert wrong.predicted == "ANG" and not wrong.correct
    scores = LabelScores([j, wrong])
    assert scores.correct == 1 and scores.accuracy == 0.5


def test_classify_averages_every_window(tiny_dataset):
    torch.manual_seed(0)
    classifier = DISCEMO().eval()
    clip = read_clip_faces(str(tiny_dataset / "pre" / "1001_DFA_ANG_XX"), 25.0)
    faces = clip.faces[:9]
    probs = classify(classifier, faces)
    assert list(probs) == list(EMOTIONS) and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    # By hand: the five windows of nine frames, each (3, 5, 96, 96) BGR in [0, 1], softmax then mean.
    windows = [torch.from_numpy(faces[s : s + 5].astype(np.float32) / 255).permute(3, 0, 1, 2) for s in range(5)]
    with torch.no_grad():
        manual = torch.softmax(classifier(torch.stack(windows)), dim=1).mean(0)
    np.testing.assert_allclose([probs[e] for e in EMOTIONS], manual.numpy(), rtol=1e-5)


def test_clip_faces_carry_inference_mel_windows(tiny_dataset):
    folder = tiny_dataset / "pre" / "1001_DFA_ANG_XX"
    clip = read_clip_faces(str(folder), 25.0)
    mel = np.load(folder / "mel.npy")
    assert clip.faces.shape[1:] == (96, 96, 3) and len(clip.frames) == len(clip.mels) == len(clip.faces)
    for k in (0, 7, len(clip.frames) - 1):
        n = clip.frames[k]
        np.testing.assert_array_equal(clip.mels[k], mel[:, int(80 * n / 25) : int(80 * n / 25) + 16])
    # Every crop whose 16 mel steps fit, in frame order (the speech may end a step before the last picture).
    fits = [
        n
        for n in sorted(int(f[:-4]) for f in os.listdir(folder) if f.endswith(".jpg"))
        if int(80 * n / 25) + 16 <= mel.shape[1]
    ]
    assert clip.frames == fits and len(fits) >= 30


def test_labels_change_an_untrained_generator_and_the_scores_follow(tiny_dataset):
    torch.manual_seed(0)
    model = Wav2Lip().eval()
    clip = read_clip_faces(str(tiny_dataset / "pre" / "1001_DFA_ANG_XX"), 25.0)
    clip.faces, clip.mels, clip.frames = clip.faces[:6], clip.mels[:6], clip.frames[:6]
    renders = {e: render_faces(model, clip, e, batch=4) for e in EMOTIONS}
    assert all(r.shape == (6, 96, 96, 3) and r.dtype == np.uint8 for r in renders.values())
    assert not np.array_equal(renders["ANG"], renders["HAP"])  # the one-hot reaches the decoder
    torch.manual_seed(1)
    scores = score_labels(DISCEMO().eval(), renders)
    assert [j.requested for j in scores.judgements] == list(EMOTIONS)
    assert scores.upper_face_distance == pytest.approx(upper_face_distance(list(renders.values())))
    assert scores.upper_face_distance > 0
