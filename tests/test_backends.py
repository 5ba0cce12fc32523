"""The backend rule (emogen.common.backends) and the OpenVINO conversion cache (emogen.common.openvino_runtime)."""

import os

import pytest
import torch

from emogen.common import backends, openvino_runtime
from emogen.common.backends import resolve_backend
from emogen.common.errors import UserError
from emogen.common.openvino_runtime import OpenVINONetwork, cached_model, convert_module

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def installed(monkeypatch):
    def set_installed(value: bool):
        monkeypatch.setattr(backends, "openvino_installed", lambda: value)

    return set_installed


def test_auto_takes_openvino_on_a_cpu_except_for_the_exact_path(installed):
    installed(True)
    assert resolve_backend("auto", CPU, "bf16") == "openvino"
    assert resolve_backend("auto", CPU, "fp32-cl") == "openvino"
    assert resolve_backend("auto", CPU, "int8") == "openvino"
    assert resolve_backend("auto", CPU, "fp32") == "torch"  # bit-exact with the original
    assert resolve_backend("auto", CUDA, "bf16") == "torch"
    assert resolve_backend("torch", CPU, "bf16") == "torch"
    assert resolve_backend("openvino", CPU, "fp32") == "openvino"
    installed(False)
    assert resolve_backend("auto", CPU, "bf16") == "torch"


def test_impossible_backends_are_one_line(installed):
    installed(True)
    with pytest.raises(UserError, match="runs on a CPU; with --device cuda"):
        resolve_backend("openvino", CUDA, "bf16")
    with pytest.raises(UserError, match="int8 runs on OpenVINO only"):
        resolve_backend("torch", CPU, "int8")
    with pytest.raises(UserError, match="choose one of auto, torch, openvino"):
        resolve_backend("tensorrt", CPU, "bf16")
    installed(False)
    with pytest.raises(UserError, match="pip install openvino"):
        resolve_backend("openvino", CPU, "bf16")
    with pytest.raises(UserError, match="pip install openvino"):
        resolve_backend("auto", CPU, "int8")


class TwoHeads(torch.nn.Module):
    """A small network with two outputs and a free spatial size, like S3FD."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.head = torch.nn.Conv2d(8, 2, 1)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return self.head(y), y.mean(dim=(2, 3))


def build_counter():
    calls = []

    def build():
        calls.append(1)
        return convert_module(TwoHeads(), [torch.zeros(1, 3, 16, 16)], [(-1, 3, -1, -1)])

    return build, calls


def test_converted_network_matches_torch_at_any_size(tmp_path):
    build, _ = build_counter()
    net = OpenVINONetwork(cached_model("twoheads", "ab" * 32, "f32", build, str(tmp_path)))
    for shape in [(1, 3, 16, 16), (3, 3, 40, 24)]:
        x = torch.rand(shape) * 50
        with torch.no_grad():
            want = TwoHeads()(x)
        got = net(x.contiguous(memory_format=torch.channels_last))  # strides other than the default are fine
        assert isinstance(got, list) and len(got) == 2
        for a, b in zip(got, want):
            assert a.shape == b.shape and torch.allclose(a, b, atol=1e-4)


def test_cache_converts_once_per_weights_and_recovers(tmp_path, capsys):
    build, calls = build_counter()
    first = cached_model("twoheads", "ab" * 32, "f32", build, str(tmp_path))
    again = cached_model("twoheads", "ab" * 32, "f32", build, str(tmp_path))
    assert first == again and len(calls) == 1
    assert "converting twoheads for OpenVINO (f32)" in capsys.readouterr().err
    other = cached_model("twoheads", "cd" * 32, "f32", build, str(tmp_path))  # other weights, other folder
    assert other != first and len(calls) == 2
    assert openvino_runtime.openvino_version() in os.path.basename(os.path.dirname(first))
    # A damaged entry (e.g. a disk filled up while another tool wrote it) is converted again, not trusted.
    with open(first, "w") as handle:
        handle.write("<not xml")
    repaired = cached_model("twoheads", "ab" * 32, "f32", build, str(tmp_path))
    assert repaired == first and len(calls) == 3
    assert OpenVINONetwork(repaired)(torch.rand(1, 3, 8, 8))[0].shape == (1, 2, 8, 8)
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".")]
    assert leftovers == []  # work folders are renamed into place or removed


def test_unwritable_cache_warns_and_still_runs(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    build, calls = build_counter()
    xml = cached_model("twoheads", "ab" * 32, "f32", build, str(blocker / "models"))
    assert os.path.isfile(xml) and len(calls) == 1
    err = capsys.readouterr().err
    assert "warning: cannot write the model cache" in err and "EMOGEN_MODEL_CACHE_DIR" in err


def test_failed_conversion_leaves_nothing(tmp_path):
    def broken():
        raise RuntimeError("conversion failed")

    with pytest.raises(RuntimeError):
        cached_model("twoheads", "ab" * 32, "f32", broken, str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("EMOGEN_MODEL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert openvino_runtime.model_cache_dir() == os.path.join(str(tmp_path), "emogen", "models")
    monkeypatch.setenv("EMOGEN_MODEL_CACHE_DIR", str(tmp_path / "m"))
    assert openvino_runtime.model_cache_dir() == str(tmp_path / "m")
