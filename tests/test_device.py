import torch

from emogen.common import device as device_module
from emogen.common.device import Device, choose_device, gpu_impossible, resolve_device
from emogen.common.errors import UserError


def test_device_names_know_their_type_and_index():
    assert (Device("cpu").type, Device("cpu").index) == ("cpu", None)
    assert (Device("cuda:1").type, Device("cuda:1").index) == ("cuda", 1)
    # torch takes it wherever it takes a device.
    assert torch.zeros(2).to(Device("cpu")).device == torch.device("cpu")
    assert torch.device(Device("cuda:1")) == torch.device("cuda", 1)


def test_auto_on_a_host_without_gpu_nodes_is_the_cpu_without_asking_torch(tmp_path, monkeypatch):
    monkeypatch.setattr(device_module.sys, "platform", "linux")
    monkeypatch.setattr(device_module, "_GPU_NODES", (str(tmp_path / "nvidiactl"),))
    assert gpu_impossible()
    # torch would be asked through torch.cuda.is_available; make any call to it fail the test.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: (_ for _ in ()).throw(AssertionError("asked torch")))
    assert choose_device(None) == "cpu" and choose_device("auto").type == "cpu"
    assert choose_device("cpu") == "cpu" and choose_device(" CPU ") == "cpu"


def test_a_gpu_node_or_another_platform_asks_torch(tmp_path, monkeypatch):
    node = tmp_path / "nvidiactl"
    node.write_text("")
    monkeypatch.setattr(device_module, "_GPU_NODES", (str(node),))
    assert not gpu_impossible()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device(None) == "cuda"
    monkeypatch.setattr(device_module.sys, "platform", "darwin")
    monkeypatch.setattr(device_module, "_GPU_NODES", (str(tmp_path / "none"),))
    assert not gpu_impossible() and choose_device(None) == "cuda"


def test_bad_and_unavailable_devices_are_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name, words in (("gpu0", "not a device name"), ("cuda", "no CUDA GPU is visible")):
        try:
            choose_device(name)
        except UserError as exc:
            assert words in str(exc) and "\n" not in str(exc)
        else:
            raise AssertionError(f"--device {name} was accepted")
    assert resolve_device("cpu") == torch.device("cpu")
