"""The weight-file table: where each file is looked for, and recognising a file by its state_dict."""

import os

import pytest
import torch
from shared_data import manifest

from emogen.common.weights import CHECKOUT, WEIGHTS, identify_state_dict, weight_path


def test_fingerprints_match_the_official_layouts(shared):
    for name in ("emogen_generator", "syncnet_color", "wav2lip_disc_qual", "emotion_disc", "s3fd", "syncnet_eval"):
        layout = dict.fromkeys(manifest()[name])
        assert WEIGHTS[name].matches(layout), name
        assert identify_state_dict(layout) == WEIGHTS[name].description
        assert sum(WEIGHTS[other].matches(layout) for other in WEIGHTS) == 1


def test_syncnet_python_detector_fingerprint():
    from face_detection.detection.syncnet_s3fd.net import SyncnetS3FDNet

    assert WEIGHTS["sfd_face"].matches(SyncnetS3FDNet().state_dict())


def test_foreign_state_dicts_are_described(shared):
    plain = {k: None for k in manifest()["wav2lip_generator"]}
    assert identify_state_dict(plain) == "a Wav2Lip generator (lip sync only, no emotion)"
    assert identify_state_dict({"a.weight": torch.zeros(1)}).startswith("an unknown network (1 tensors")


def test_lookup_order_argument_environment_default_legacy(tmp_path, monkeypatch):
    s3fd = WEIGHTS["s3fd"]
    assert s3fd.default == os.path.join(CHECKOUT, "checkpoints", "s3fd.pth")
    assert all(os.path.isabs(w.default) for w in WEIGHTS.values())
    monkeypatch.setenv("EMOGEN_S3FD_PATH", str(tmp_path / "env.pth"))
    assert weight_path("s3fd", str(tmp_path / "arg.pth")) == str(tmp_path / "arg.pth")
    assert weight_path("s3fd") == str(tmp_path / "env.pth")
    monkeypatch.delenv("EMOGEN_S3FD_PATH")
    if not os.path.isfile(s3fd.default) and not any(os.path.isfile(p) for p in s3fd.legacy):
        assert weight_path("s3fd") == s3fd.default  # missing: the message names where it should go
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert weight_path("vgg19") == str(tmp_path / "th" / "hub" / "checkpoints" / "vgg19-dcbfe244.pth")


def test_missing_message_names_file_place_source_and_overrides():
    line = WEIGHTS["syncnet_eval"].missing_message("/nowhere/x.model", "--syncnet_path")
    assert "\n" not in line
    for part in (
        "/nowhere/x.model",
        "syncnet_v2.model",
        "github.com/joonson/syncnet_python",
        os.path.join(CHECKOUT, "checkpoints", "syncnet_v2.model"),
        "--syncnet_path",
        "EMOGEN_SYNCNET_PATH",
    ):
        assert part in line


@pytest.mark.parametrize("name", ["emogen_generator", "syncnet_eval", "sfd_face", "s3fd"])
def test_defaults_do_not_depend_on_the_working_directory(name, tmp_path, monkeypatch):
    before = WEIGHTS[name].default
    monkeypatch.chdir(tmp_path)
    assert WEIGHTS[name].default == before
