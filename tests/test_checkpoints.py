import os

import pytest
import torch
from shared_data import seeded_state_dict

from emogen.common.checkpoint_io import (
    CheckpointError,
    identify_state_dict,
    load_weights,
    read_checkpoint,
    save_checkpoint,
    strip_module_prefix,
)
from models import DISCEMO, SyncNet_color, Wav2Lip, Wav2Lip_disc_qual

OFFICIAL = [
    ("emogen_generator", Wav2Lip),
    ("syncnet_color", SyncNet_color),
    ("emotion_disc", DISCEMO),
    ("wav2lip_disc_qual", Wav2Lip_disc_qual),
]


@pytest.mark.parametrize("name,cls", OFFICIAL)
def test_official_format_with_module_prefix_loads(shared, tmp_path, name, cls):
    weights = seeded_state_dict(name)
    path = tmp_path / f"{name}.pth"
    torch.save(
        {
            "state_dict": {"module." + k: v for k, v in weights.items()},
            "optimizer": None,
            "global_step": 1234,
            "global_epoch": 7,
        },
        path,
    )
    model = cls()
    ckpt = load_weights(model, str(path), name)
    assert ckpt["global_step"] == 1234 and ckpt["global_epoch"] == 7
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, weights[key].reshape(tensor.shape)), key


def test_bare_state_dict_loads(shared, tmp_path):
    weights = seeded_state_dict("emotion_disc")
    path = tmp_path / "bare.pth"
    torch.save(weights, path)
    model = DISCEMO()
    load_weights(model, str(path), "emotion discriminator")
    assert torch.equal(model.cls[0].weight, weights["cls.0.weight"])


def test_wrong_model_is_named(shared, tmp_path):
    path = tmp_path / "sync.pth"
    torch.save({"state_dict": seeded_state_dict("syncnet_color")}, path)
    with pytest.raises(CheckpointError) as err:
        load_weights(Wav2Lip(), str(path), "EmoGen generator")
    message = str(err.value)
    assert "EmoGen generator" in message and str(path) in message
    assert "lip-sync expert" in message and "missing" in message and "unexpected" in message


def test_plain_wav2lip_is_recognised(shared):
    weights = seeded_state_dict("wav2lip_generator")
    assert identify_state_dict(weights) == "a Wav2Lip generator (lip sync only, no emotion)"


def test_misshaped_keys_are_listed(tmp_path):
    weights = DISCEMO().state_dict()
    weights["cls.0.weight"] = torch.zeros(7, 512)
    path = tmp_path / "shape.pth"
    torch.save(weights, path)
    with pytest.raises(CheckpointError, match=r"mis-shaped.*cls\.0\.weight \(7, 512\) vs \(6, 512\)"):
        load_weights(DISCEMO(), str(path), "emotion discriminator")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_running_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _Evil(marker)}, path)
    with pytest.raises(CheckpointError, match="could run code"):
        read_checkpoint(str(path))
    assert not marker.exists()


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(str(tmp_path / "nope.pth"))
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        read_checkpoint(str(bad))
    tiny = tmp_path / "tiny.pth"
    tiny.write_bytes(b"hello\n!")  # 7 bytes of text: a broken download, not a pickle that could run code
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint") as err:
        read_checkpoint(str(tiny))
    assert "could run code" not in str(err.value) and "7 bytes" in str(err.value)
    text = tmp_path / "list.pth"
    torch.save([1, 2, 3], text)
    with pytest.raises(CheckpointError, match="no state_dict"):
        load_weights(DISCEMO(), str(text), "emotion discriminator")


def test_save_roundtrip_with_optimizer(tmp_path):
    torch.manual_seed(0)
    model = DISCEMO()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.rand(1, 3, 5, 96, 96)).sum().backward()
    opt.step()
    path = tmp_path / "sub" / "ckpt.pth"
    save_checkpoint(str(path), torch.nn.DataParallel(model), opt, global_step=5, global_epoch=2)
    assert os.listdir(path.parent) == ["ckpt.pth"]
    ckpt = read_checkpoint(str(path))
    assert not any(k.startswith("module.") for k in ckpt["state_dict"])
    fresh = DISCEMO()
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=1e-3)
    loaded = load_weights(fresh, str(path), "emotion discriminator")
    fresh_opt.load_state_dict(loaded["optimizer"])
    assert loaded["global_step"] == 5 and loaded["global_epoch"] == 2
    state = fresh_opt.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(state, opt.state_dict()["state"][0]["exp_avg"])


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    model = DISCEMO()
    path = tmp_path / "ckpt.pth"
    save_checkpoint(str(path), model, global_step=1)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        save_checkpoint(str(path), model, global_step=2)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.pth"]


def test_strip_module_prefix():
    assert list(strip_module_prefix({"module.a.b": 1, "c": 2, "module.module.d": 3})) == ["a.b", "c", "d"]


def test_saved_files_follow_the_umask(tmp_path):
    import os

    from emogen.common.checkpoint_io import save_checkpoint
    from emogen.inference.detection_cache import DetectionCache
    from models import SyncNet_color

    face = tmp_path / "face.bin"
    face.write_bytes(b"face")
    old = os.umask(0o027)
    try:
        save_checkpoint(str(tmp_path / "ck.pth"), SyncNet_color())
        DetectionCache(str(tmp_path / "cache")).store(str(face), {"k": 1}, [(1, 2, 3, 4)], complete=True)
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "ck.pth").st_mode & 0o777 == 0o640
    (cached,) = (tmp_path / "cache").iterdir()
    assert cached.stat().st_mode & 0o777 == 0o640


def _zip_bomb(path, unpacked_mib: int) -> None:
    """A torch-style zip whose data.pkl is ``unpacked_mib`` MiB of zeros, deflated to a few MB."""
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("archive/data.pkl", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(unpacked_mib):
                member.write(block)


def test_a_zip_bomb_is_refused_from_its_declared_sizes_in_little_memory(tmp_path):
    """A 1 GiB data.pkl deflated to about a megabyte: refused before anything is inflated, as a zip bomb (not as
    code), by read_checkpoint and by --enhance, with the process's peak memory under 1 GB."""
    import subprocess
    import sys

    from shared_data import REPO_ROOT

    bomb = tmp_path / "bomb.pth"
    _zip_bomb(bomb, 1024)
    assert os.path.getsize(bomb) < 8 << 20
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from emogen.common.errors import UserError\n"
        "from emogen.common.checkpoint_io import read_checkpoint\n"
        "from emogen.inference.enhance import load_enhancer\n"
        "for load in (read_checkpoint, lambda p: load_enhancer(p, 'cpu')):\n"
        "    try:\n"
        f"        load({str(bomb)!r})\n"
        "    except UserError as exc:\n"
        "        print('refused:', exc)\n"
        # VmHWM belongs to this program's own memory map; ru_maxrss would also count the forked pytest process
        "peak = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')][0]\n"
        "print('peak_mib', int(peak.split()[1]) // 1024)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 3 and all("zip bomb" in line and "1024 MB" in line for line in lines[:2]), lines
    assert int(lines[2].split()[1]) < 1000
