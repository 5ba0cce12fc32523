"""The generator a run calls (emogen.inference.generator): PyTorch, OpenVINO float32/bfloat16 and int8, on real
face crops and mels of the example video."""
import sys

import numpy as np
import pytest
import torch

import inference
from emogen.common.errors import UserError, run_cli
from emogen.common.precision import native_bf16, resolve_precision
from emogen.inference import generator as generator_module
from emogen.inference.generator import build_generator
from emogen.inference.int8_calibration import calibration_batches
from emogen.common.examples import EXAMPLE_FACE, EXAMPLE_SPEECH
from shared_data import seeded_state_dict

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "emogen.pth"
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, path)
    return str(path)


@pytest.fixture(scope="module")
def real_batches():
    """Real inputs built as inference builds them: example face crops (dlib boxes) and their mel windows."""
    return calibration_batches(EXAMPLE_FACE, EXAMPLE_SPEECH, batches=6, batch_size=4, face_detector="dlib")


def outputs(model, batches, dtype=None):
    out = []
    with torch.inference_mode():
        for mel, face, emo in batches:
            ctx = torch.autocast("cpu", dtype=dtype) if dtype is not None else torch.no_grad()
            with ctx:
                out.append(model(torch.from_numpy(mel), torch.from_numpy(face), torch.from_numpy(emo)).float())
    return torch.cat(out).numpy()


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2))


def test_calibration_batches_are_real_faces_under_every_emotion(real_batches):
    assert len(real_batches) == 6
    for b, (mel, face, emo) in enumerate(real_batches):
        assert mel.shape == (4, 1, 80, 16) and face.shape == (4, 6, 96, 96) and emo.shape == (4, 6)
        assert np.all(face[:, :3] == 0) and 0.15 < face[:, 3:].mean() < 0.85  # masked half, then a face crop
        assert np.all(emo.argmax(1) == b % 6) and np.all(emo.sum(1) == 1)
        assert mel.std() > 0.5  # speech, not silence


def test_openvino_float32_matches_torch_and_bf16_stays_close(checkpoint, real_batches):
    exact = build_generator(checkpoint, CPU, resolve_precision("fp32", CPU), "torch")
    want = outputs(exact, real_batches)
    ov32 = build_generator(checkpoint, CPU, resolve_precision("fp32-cl", CPU), "openvino")
    got = outputs(ov32, real_batches)
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-4
    if native_bf16(CPU):
        ov16 = build_generator(checkpoint, CPU, resolve_precision("bf16", CPU), "openvino")
        assert psnr(outputs(ov16, real_batches), want) > 40


def test_int8_is_quantized_once_and_stays_near_float32(checkpoint, real_batches, monkeypatch, capsys):
    want = outputs(build_generator(checkpoint, CPU, resolve_precision("fp32", CPU), "torch"), real_batches)
    int8 = build_generator(checkpoint, CPU, resolve_precision("int8", CPU), "openvino",
                           calibration=lambda: real_batches)
    assert "(int8)" in capsys.readouterr().err
    value = psnr(outputs(int8, real_batches), want)
    assert value > 30, value
    # The second build reads the cached int8 model: NNCF is not even importable now.
    monkeypatch.setitem(sys.modules, "nncf", None)
    again = build_generator(checkpoint, CPU, resolve_precision("int8", CPU), "openvino")
    assert "converting" not in capsys.readouterr().err
    assert np.array_equal(outputs(again, real_batches[:1]), outputs(int8, real_batches[:1]))


def test_int8_without_nncf_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nncf", None)
    with pytest.raises(UserError, match="pip install -r requirements-int8.txt"):
        generator_module.quantize_int8(str(tmp_path / "model.xml"))


def test_cli_refuses_int8_on_torch(checkpoint, tmp_path, capsys):
    code = run_cli(inference.main, ["--checkpoint_path", checkpoint, "--face", EXAMPLE_FACE, "--audio",
                                    EXAMPLE_SPEECH, "--emotion", "HAP", "--precision", "int8", "--backend", "torch",
                                    "--outfile", str(tmp_path / "x.mp4"), "--box", "10", "200", "10", "200"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "int8 runs on OpenVINO only" in err[0]
    assert not (tmp_path / "x.mp4").exists()
