"""--enhance: restoration networks built with seeded weights in their published layouts, read from files the way a
user's download is read (weights only), and run on real generated-face crops."""

import subprocess

import cv2
import numpy as np
import pytest
import torch
from shared_data import FACE3_BOX as BOX
from shared_data import seeded_state_dict

import inference
from emogen.common.errors import UserError, run_cli
from emogen.inference.enhance import load_enhancer


def seeded(module: torch.nn.Module, seed: int = 3) -> dict:
    """The module's state_dict with deterministic values (small, so the outputs stay in range)."""
    g = torch.Generator().manual_seed(seed)
    return {
        k: (torch.randn(v.shape, generator=g) * 0.05 if v.is_floating_point() else v)
        for k, v in module.state_dict().items()
    }


@pytest.fixture(scope="module")
def crops(shared):
    """Two real 96x96 face crops (BGR floats in [0, 1]), as the generator's output looks."""
    cap = cv2.VideoCapture(str(shared / "data/video/face3.mp4"))
    faces = []
    for _ in range(2):
        ok, frame = cap.read()
        assert ok
        y1, y2, x1, x2 = BOX
        faces.append(cv2.resize(frame[y1:y2, x1:x2], (96, 96)).astype(np.float32) / 255.0)
    cap.release()
    return np.stack(faces)


@pytest.fixture(scope="module")
def esrgan_file(tmp_path_factory):
    """A small Real-ESRGAN (RRDBNet, x4) saved as Real-ESRGAN's releases save it: {'params_ema': state_dict}."""
    from spandrel.architectures.ESRGAN import ESRGAN

    path = tmp_path_factory.mktemp("enhance") / "RealESRGAN_x4_small.pth"
    torch.save({"params_ema": seeded(ESRGAN(num_filters=16, num_blocks=1, scale=4))}, path)
    return path


def test_super_resolution_is_detected_and_keeps_the_colour_order(esrgan_file, crops):
    enhancer = load_enhancer(str(esrgan_file), "cpu")
    assert enhancer.name == "ESRGAN" and enhancer.input_side == 96 and enhancer.output_side == 384
    out = enhancer.enhance(crops)
    assert out.shape == (2, 384, 384, 3) and out.min() >= 0.0 and out.max() <= 1.0
    # BGR in, BGR out: the network itself sees RGB.
    with torch.inference_mode():
        rgb = enhancer.descriptor(torch.from_numpy(np.ascontiguousarray(crops[..., ::-1].transpose(0, 3, 1, 2))))
    expected = np.clip(rgb.numpy().transpose(0, 2, 3, 1)[..., ::-1], 0, 1)
    assert np.abs(out - expected).max() < 1e-6


def test_safetensors_files_load_too(esrgan_file, crops, tmp_path):
    from safetensors.torch import save_file

    weights = torch.load(esrgan_file, weights_only=True)["params_ema"]
    path = tmp_path / "x4.safetensors"
    save_file({k: v.contiguous() for k, v in weights.items()}, str(path))
    a = load_enhancer(str(path), "cpu").enhance(crops[:1])
    b = load_enhancer(str(esrgan_file), "cpu").enhance(crops[:1])
    assert np.array_equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["GFPGAN", "RestoreFormer"])
def test_face_restoration_networks_see_the_face_at_512(arch, crops, tmp_path):
    """GFPGAN v1.4 / RestoreFormer layouts at full size: detected from the keys, fed 512 px faces."""
    if arch == "GFPGAN":
        from spandrel.architectures.GFPGAN import GFPGAN as Net

        payload = {"params_ema": seeded(Net())}
    else:
        from spandrel.architectures.RestoreFormer import RestoreFormer as Net

        payload = seeded(Net())
    path = tmp_path / f"{arch}.pth"
    torch.save(payload, path)
    enhancer = load_enhancer(str(path), "cpu")
    assert enhancer.name == arch and enhancer.input_side == enhancer.output_side == 512
    out = enhancer.enhance(crops[:1])
    assert out.shape == (1, 512, 512, 3) and np.isfinite(out).all()


def test_files_it_cannot_use_are_one_line(tmp_path):
    other = tmp_path / "syncnet.pth"
    torch.save(seeded_state_dict("syncnet_color"), other)
    with pytest.raises(UserError, match="spandrel knows no architecture with these weights"):
        load_enhancer(str(other), "cpu")
    with pytest.raises(UserError, match="file not found"):
        load_enhancer(str(tmp_path / "none.pth"), "cpu")


def test_inference_with_enhance_pastes_the_sharpened_face(shared, esrgan_file, tmp_path, capsys):
    def ffmpeg(*args):
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)

    ffmpeg("-i", str(shared / "data/audio/speech_en_16k.wav"), "-t", "0.6", str(tmp_path / "speech.wav"))
    ffmpeg("-i", str(shared / "data/video/face3.mp4"), "-t", "0.6", "-c:v", "libx264", str(tmp_path / "face.mp4"))
    generator = tmp_path / "emogen.pth"
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, generator)

    def run(*extra, out):
        argv = ["--checkpoint_path", str(generator), "--face", str(tmp_path / "face.mp4")]
        argv += ["--audio", str(tmp_path / "speech.wav"), "--emotion", "HAP", "--box", *map(str, BOX)]
        argv += ["--no_progress", "--no_detection_cache", "--precision", "fp32", "--blend", "hard"]
        return run_cli(inference.main, [*argv, "--outfile", str(out), *extra])

    assert run(out=tmp_path / "plain.mp4") == 0
    assert run("--enhance", str(esrgan_file), out=tmp_path / "sharp.mp4") == 0

    def first_box(path):
        cap = cv2.VideoCapture(str(path))
        ok, frame = cap.read()
        cap.release()
        assert ok
        y1, y2, x1, x2 = BOX
        return frame[y1:y2, x1:x2].astype(np.float32), frame

    plain, plain_frame = first_box(tmp_path / "plain.mp4")
    sharp, sharp_frame = first_box(tmp_path / "sharp.mp4")
    assert np.abs(plain - sharp).mean() > 5  # the box now holds the enhancer's face
    outside = np.ones(plain_frame.shape[:2], bool)
    outside[BOX[0] - 8 : BOX[1] + 8, BOX[2] - 8 : BOX[3] + 8] = False
    assert np.abs(plain_frame[outside].astype(float) - sharp_frame[outside]).mean() < 1  # the rest untouched
    capsys.readouterr()
    assert run("--enhance", str(generator), out=tmp_path / "bad.mp4") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--enhance" in err[0] and "spandrel knows no architecture" in err[0]
    assert not (tmp_path / "bad.mp4").exists()


def test_files_that_load_but_cannot_run_are_refused_at_load_in_one_line(tmp_path, esrgan_file, shared, capsys):
    """A bare tensor, a known architecture with wrong shapes, a 3-in/1-out network: each one line at load, and
    inference.py ends in one line before any frame is rendered."""
    from spandrel.architectures.ESRGAN import ESRGAN

    bare = tmp_path / "bare.pth"
    torch.save(torch.zeros(3, 3), bare)
    wrong = tmp_path / "wrong_shapes.pth"
    state = torch.load(esrgan_file, weights_only=True)["params_ema"]
    key = next(k for k, v in state.items() if v.dim() == 4)
    state[key] = torch.zeros(7, 5, 3, 3)
    torch.save({"params_ema": state}, wrong)
    grey = tmp_path / "grey_out.pth"
    torch.save({"params_ema": seeded(ESRGAN(in_nc=3, out_nc=1, num_filters=16, num_blocks=1, scale=4))}, grey)
    for path, text in (
        (bare, "holds no state_dict of tensors"),
        (wrong, "spandrel knows no architecture with these weights"),
        (grey, "not an RGB-to-RGB image network"),
    ):
        with pytest.raises(UserError, match=text):
            load_enhancer(str(path), "cpu")
    argv = ["--checkpoint_path", str(tmp_path / "g.pth"), "--face", str(shared / "data/image/face3.jpg")]
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, tmp_path / "g.pth")
    argv += ["--audio", str(shared / "data/audio/speech_en_16k.wav"), "--emotion", "HAP", "--enhance", str(grey)]
    argv += ["--outfile", str(tmp_path / "out.mp4"), "--box", "150", "470", "140", "450", "--no_progress"]
    assert run_cli(inference.main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an RGB-to-RGB image network" in err[0]
    assert not (tmp_path / "out.mp4").exists()
