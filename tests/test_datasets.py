import os
import shutil

import cv2
import numpy as np
import pytest
import torch

from emogen.common.errors import UserError
from emogen.data.datasets import EmotionDataset, GeneratorDataset, SyncDataset, index_clips

NAMES = ["1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_TIE_SAD_LO"]


def test_sample_shapes_and_labels(tiny_dataset):
    root = str(tiny_dataset / "pre")
    x, mel, y = SyncDataset(root, NAMES, seed=0)[0]
    assert x.shape == (15, 48, 96) and mel.shape == (1, 80, 16) and y.item() in (0.0, 1.0)
    video, emo = EmotionDataset(root, NAMES, seed=0)[0]
    assert video.shape == (3, 5, 96, 96) and emo.sum() == 1 and 0 <= video.min() and video.max() <= 1
    x, mels, mel, gt, emo = GeneratorDataset(root, NAMES, seed=0)[0]
    assert x.shape == (6, 5, 96, 96) and mels.shape == (5, 1, 80, 16) and gt.shape == (3, 5, 96, 96)
    assert torch.count_nonzero(x[:3]) == 0 and x[3:].max() > 0  # whole target face masked


def test_mel_windows_read_from_cache_with_original_offsets(tiny_dataset):
    root = str(tiny_dataset / "pre")
    ds = GeneratorDataset(root, NAMES, seed=0, augment=False)
    clip = ds.clips[0]
    cached = np.load(os.path.join(clip.folder, "mel.npy"))
    start = 10
    np.testing.assert_array_equal(ds.mel_window(ds.mel(clip), start), cached[:, 32:48])  # int(80 * 10 / 25) = 32
    frames = ds.frame_mels(ds.mel(clip), start)
    for k in range(5):
        begin = int(80 * (start + k - 1) / 25)  # one frame earlier than at inference
        np.testing.assert_array_equal(frames[k], cached[:, begin : begin + 16])


def test_emotion_labels_follow_the_name(tiny_dataset):
    ds = EmotionDataset(str(tiny_dataset / "pre"), NAMES, seed=0)
    assert [c.emotion for c in ds.clips] == [0, 3, 5]


def test_bad_samples_are_skipped_and_counted(tiny_dataset, tmp_path):
    root = tmp_path / "pre"
    shutil.copytree(tiny_dataset / "pre" / "1001_DFA_ANG_XX", root / "1001_DFA_ANG_XX")
    clip = root / "1001_DFA_ANG_XX"
    for i in (3, 20, 31):  # unreadable frames: windows over them break only when read
        (clip / f"{i}.jpg").write_bytes(b"not a jpeg")
    ds = EmotionDataset(str(root), ["1001_DFA_ANG_XX"], seed=0)
    for i in range(10):
        video, _ = ds[i]
        assert video.shape == (3, 5, 96, 96)
    assert ds.skipped > 0


def test_nothing_usable_is_a_clear_error(tiny_dataset, tmp_path):
    root = tmp_path / "pre"
    shutil.copytree(tiny_dataset / "pre" / "1002_TIE_SAD_LO", root / "1002_TIE_SAD_LO")
    for i in range(5, 40):
        (root / "1002_TIE_SAD_LO" / f"{i}.jpg").unlink()
    with pytest.raises(UserError, match="none of the 2 clips"):
        SyncDataset(str(root), ["1002_TIE_SAD_LO", "missing_clip_ANG_XX"])
    clips, left_out = index_clips(str(root), ["1002_TIE_SAD_LO"])
    assert clips == [] and left_out == ["1002_TIE_SAD_LO"]


def windows_of(ds, clip) -> list:
    from emogen.data.datasets import to_tensor_video

    return [to_tensor_video(ds.read_window(clip, s)) for s in clip.starts]


@pytest.mark.parametrize("reference", ["same_clip", "other_emotion"])
def test_reference_window_source(tiny_dataset, reference):
    ds = GeneratorDataset(str(tiny_dataset / "pre"), NAMES, seed=0, augment=False, reference=reference)
    by_name = {c.name: c for c in ds.clips}
    # 1001 says ANG and HAP; 1002 has SAD only, so its reference stays in its own clip either way.
    assert ds.clips_without_partner == (["1002_TIE_SAD_LO"] if reference == "other_emotion" else NAMES)
    for name in NAMES:
        clip = by_name[name]
        x, _, _, gt, emo = ds.build(clip)
        ref = x[3:]
        source = name
        if reference == "other_emotion" and name.startswith("1001"):
            source = next(n for n in NAMES if n.startswith("1001") and n != name)
        assert any(torch.equal(ref, w) for w in windows_of(ds, by_name[source])), (name, source)
        if source != name:  # and not from the target's own clip
            assert not any(torch.equal(ref, w) for w in windows_of(ds, clip))
        assert int(emo.argmax()) == clip.emotion  # the label is always the target's
    assert ds.same_clip_fallbacks == (1 if reference == "other_emotion" else 0)


def test_neutral_references_come_from_the_actors_neu_clip(tiny_dataset, tmp_path):
    root = tmp_path / "pre"
    shutil.copytree(tiny_dataset / "pre", root)
    # a NEU clip for actor 1001: another clip's frames mirrored, so its windows differ from every other clip's
    neu = root / "1001_DFA_NEU_XX"
    shutil.copytree(root / "1002_TIE_SAD_LO", neu)
    for jpg in neu.glob("*.jpg"):
        cv2.imwrite(str(jpg), cv2.flip(cv2.imread(str(jpg)), 1))
    names = [*NAMES, "1001_DFA_NEU_XX"]
    ds = GeneratorDataset(str(root), names, seed=0, augment=False, reference="neutral")
    by_name = {c.name: c for c in ds.clips}
    # the NEU clip is 1001's only one, and 1002 has none: both keep references in their own clip
    assert sorted(ds.clips_without_partner) == ["1001_DFA_NEU_XX", "1002_TIE_SAD_LO"]
    neutral_windows = windows_of(ds, by_name["1001_DFA_NEU_XX"])
    for name in names:
        x, _, _, _, emo = ds.build(by_name[name])
        from_neu = any(torch.equal(x[3:], w) for w in neutral_windows)
        assert from_neu == name.startswith("1001"), name  # 1002 has no NEU clip: its own windows
        if name.startswith("1001") and name != "1001_DFA_NEU_XX":
            assert not any(torch.equal(x[3:], w) for w in windows_of(ds, by_name[name]))
        assert int(emo.argmax()) == by_name[name].emotion
    assert ds.same_clip_fallbacks == 2


def test_unknown_reference_mode_is_refused(tiny_dataset):
    with pytest.raises(UserError, match="same_clip, other_emotion, neutral"):
        GeneratorDataset(str(tiny_dataset / "pre"), NAMES, reference="elsewhere")


def test_the_scripts_offer_every_reference_mode():
    from emogen.cli import demo, train
    from emogen.data.datasets import REFERENCE_MODES

    for parser in (train.get_args_parser(), demo.get_args_parser()):
        (action,) = [a for a in parser._actions if a.dest == "reference"]
        assert tuple(action.choices) == REFERENCE_MODES
