"""The generator a run calls (emogen.inference.generator): PyTorch, OpenVINO float32/bfloat16 and int8, on real
face crops and mels of the example video."""

import importlib.util
import json
import os
import sys

import numpy as np
import pytest
import torch
from shared_data import seeded_state_dict

import inference
from emogen.common.contract import EMOTIONS
from emogen.common.errors import UserError, run_cli
from emogen.common.examples import EXAMPLE_FACE, EXAMPLE_SPEECH
from emogen.common.precision import native_bf16, resolve_precision
from emogen.inference import generator as generator_module
from emogen.inference import int8_fidelity
from emogen.inference.generator import build_generator
from emogen.inference.int8_calibration import calibration_batches, input_batches, load_clip_inputs

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "emogen.pth"
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, path)
    return str(path)


@pytest.fixture(scope="module")
def clip():
    """The example video's frames with dlib boxes, and the example speech's mel."""
    return load_clip_inputs(EXAMPLE_FACE, EXAMPLE_SPEECH, 24, face_detector="dlib")


@pytest.fixture(scope="module")
def real_batches(clip):
    """Real inputs built as inference builds them: example face crops and their mel windows."""
    return input_batches(clip, batches=6, batch_size=4)


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


def test_calibration_batches_read_the_files(real_batches):
    # Boxes are smoothed over the next frames, so only the first batch sees the same boxes from 8 and 24 frames.
    again = calibration_batches(EXAMPLE_FACE, EXAMPLE_SPEECH, batches=2, batch_size=4, face_detector="dlib")
    assert len(again) == 2 and all(np.array_equal(x, y) for x, y in zip(again[0], real_batches[0]))


def test_check_batches_pair_the_faces_with_other_speech(clip, real_batches):
    shift = len(clip.frames)
    shifted = input_batches(clip, batches=6, batch_size=4, mel_shift=shift)
    for (mel, face, emo), (mel2, face2, emo2) in zip(real_batches, shifted):
        assert np.array_equal(face, face2) and np.array_equal(emo, emo2) and not np.allclose(mel, mel2)
    start = clip.starts[1 + shift]
    assert np.allclose(shifted[0][0][1, 0], clip.mel[:, start : start + 16])


def test_openvino_float32_matches_torch_and_bf16_stays_close(checkpoint, real_batches):
    exact = build_generator(checkpoint, CPU, resolve_precision("fp32", CPU), "torch")
    want = outputs(exact, real_batches)
    ov32 = build_generator(checkpoint, CPU, resolve_precision("fp32-cl", CPU), "openvino")
    got = outputs(ov32, real_batches)
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-4
    # numpy arrays in give arrays out, the same numbers as tensors in (inference feeds arrays, without torch).
    mel, face, emo = real_batches[0]
    arrays = ov32(mel, face, emo)
    assert isinstance(arrays, np.ndarray) and np.array_equal(arrays, got[: len(mel)])
    if native_bf16(CPU):
        ov16 = build_generator(checkpoint, CPU, resolve_precision("bf16", CPU), "openvino")
        assert psnr(outputs(ov16, real_batches), want) > 40


def test_int8_without_nncf_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nncf", None)
    with pytest.raises(UserError, match="pip install nncf"):
        generator_module.quantize_int8(str(tmp_path / "model.xml"))


@pytest.fixture(scope="module")
def auto_cache(tmp_path_factory):
    """A model cache of its own for the tests of auto's int8 choice (the first of them quantizes)."""
    return str(tmp_path_factory.mktemp("auto-models"))


@pytest.fixture
def no_bf16(monkeypatch):
    """This CPU as one without bfloat16 (the check auto makes)."""
    monkeypatch.setattr("emogen.common.precision._cpuinfo_has_bf16", lambda: False)
    return resolve_precision("auto", CPU)


@pytest.mark.slow
def test_auto_without_bf16_runs_int8_when_it_stays_40_db_from_float32(
    checkpoint, real_batches, auto_cache, no_bf16, monkeypatch, capsys
):
    exact = outputs(build_generator(checkpoint, CPU, resolve_precision("fp32", CPU), "torch"), real_batches)
    model = build_generator(
        checkpoint,
        CPU,
        no_bf16,
        "openvino",
        cache_dir=auto_cache,
        calibration=lambda: real_batches,
        check=lambda: real_batches,
    )
    err = capsys.readouterr().err
    assert generator_module.precision_label(model, no_bf16) == "int8"
    assert "quantized to int8 once" in err and "auto runs int8" in err
    (stored,) = [p for p in os.listdir(auto_cache) if p.endswith("-int8")]
    with open(os.path.join(auto_cache, stored, int8_fidelity.FIDELITY_FILE)) as handle:
        values = json.load(handle)["psnr_db"]
    assert sorted(values) == sorted(EMOTIONS) and min(values.values()) > 40
    assert psnr(outputs(model, real_batches), exact) > 40
    # The next run reads the model and its verdict: nothing is quantized or measured again, and nothing printed.
    monkeypatch.setitem(sys.modules, "nncf", None)
    monkeypatch.setattr(int8_fidelity, "measure_fidelity", lambda *a: pytest.fail("measured again"))
    again = build_generator(checkpoint, CPU, no_bf16, "openvino", cache_dir=auto_cache)
    assert again.precision_name == "int8" and capsys.readouterr().err == ""


def test_auto_keeps_float32_when_int8_is_too_far(checkpoint, real_batches, auto_cache, no_bf16, monkeypatch, capsys):
    monkeypatch.setattr(int8_fidelity, "INT8_MIN_PSNR_DB", 200.0)  # no int8 model is that close
    model = build_generator(
        checkpoint,
        CPU,
        no_bf16,
        "openvino",
        cache_dir=auto_cache,
        calibration=lambda: real_batches,
        check=lambda: real_batches,
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert generator_module.precision_label(model, no_bf16) == "fp32-cl"
    assert "under 200 dB, so --precision auto runs it in float32 (fp32-cl)" in err[-1]
    float32 = build_generator(checkpoint, CPU, resolve_precision("fp32-cl", CPU), "openvino", cache_dir=auto_cache)
    assert np.array_equal(outputs(model, real_batches[:1]), outputs(float32, real_batches[:1]))


def test_auto_without_nncf_keeps_float32_and_says_how_to_get_int8(checkpoint, tmp_path, no_bf16, monkeypatch, capsys):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        generator_module.importlib.util, "find_spec", lambda name, *a: None if name == "nncf" else find_spec(name, *a)
    )
    model = build_generator(checkpoint, CPU, no_bf16, "openvino", cache_dir=str(tmp_path))
    err = capsys.readouterr().err
    assert model.precision_name == "fp32-cl" and "pip install nncf" in err
    assert not [p for p in os.listdir(tmp_path) if "int8" in p]


def test_auto_with_an_unwritable_model_cache_keeps_float32(checkpoint, tmp_path, no_bf16, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    model = build_generator(checkpoint, CPU, no_bf16, "openvino", cache_dir=str(blocker / "models"))
    err = capsys.readouterr().err
    assert model.precision_name == "fp32-cl" and "would be quantized again on every run" in err


def test_int8_by_name_reads_the_model_auto_made_and_stays_near_float32(
    checkpoint, real_batches, auto_cache, monkeypatch, capsys
):
    want = outputs(build_generator(checkpoint, CPU, resolve_precision("fp32", CPU), "torch"), real_batches)
    int8 = build_generator(
        checkpoint,
        CPU,
        resolve_precision("int8", CPU),
        "openvino",
        cache_dir=auto_cache,
        calibration=lambda: real_batches,
        check=lambda: real_batches,
    )
    value = psnr(outputs(int8, real_batches), want)
    assert value > 30, value
    # One int8 model per checkpoint, whichever way it was asked for, with its check stored beside it.
    (folder,) = [p for p in os.listdir(auto_cache) if p.endswith("-int8")]
    assert os.path.isfile(os.path.join(auto_cache, folder, int8_fidelity.FIDELITY_FILE))
    # Later builds read the cached model: NNCF is not even importable now.
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "nncf", None)
    again = build_generator(checkpoint, CPU, resolve_precision("int8", CPU), "openvino", cache_dir=auto_cache)
    assert "converting" not in capsys.readouterr().err
    assert np.array_equal(outputs(again, real_batches[:1]), outputs(int8, real_batches[:1]))


def test_fidelity_of_a_model_against_itself_and_a_damaged_record(checkpoint, real_batches, auto_cache, tmp_path):
    build_generator(checkpoint, CPU, resolve_precision("fp32-cl", CPU), "openvino", cache_dir=auto_cache)
    (folder,) = [p for p in os.listdir(auto_cache) if p.endswith("-f32")]
    path = os.path.join(auto_cache, folder, "model.xml")
    same = int8_fidelity.measure_fidelity(path, path, real_batches)
    assert sorted(same) == sorted(EMOTIONS) and all(v == float("inf") for v in same.values())
    assert int8_fidelity.passes(same) and not int8_fidelity.passes({"HAP": 39.9, "SAD": 45.0})
    assert int8_fidelity.summary({"HAP": 41.25, "SAD": 45.0}) == "41.2-45.0 dB over HAP SAD"
    # A verdict that cannot be read is measured again and rewritten.
    copy = tmp_path / "int8"
    copy.mkdir()
    for name in ("model.xml", "model.bin"):
        (copy / name).write_bytes(open(os.path.join(auto_cache, folder, name), "rb").read())
    (copy / int8_fidelity.FIDELITY_FILE).write_text("{not json")
    values = int8_fidelity.cached_fidelity(path, str(copy / "model.xml"), lambda: real_batches[:2])
    assert sorted(values) == ["ANG", "DIS"]
    assert json.loads((copy / int8_fidelity.FIDELITY_FILE).read_text())["psnr_db"] == {"ANG": 999.0, "DIS": 999.0}


def test_cli_refuses_int8_on_torch(checkpoint, tmp_path, capsys):
    code = run_cli(
        inference.main,
        [
            "--checkpoint_path",
            checkpoint,
            "--face",
            EXAMPLE_FACE,
            "--audio",
            EXAMPLE_SPEECH,
            "--emotion",
            "HAP",
            "--precision",
            "int8",
            "--backend",
            "torch",
            "--outfile",
            str(tmp_path / "x.mp4"),
            "--box",
            "10",
            "200",
            "10",
            "200",
        ],
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "int8 runs on OpenVINO only" in err[0]
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.slow
def test_auto_beside_bf16_runs_int8_only_where_it_measured_faster(
    checkpoint, real_batches, tmp_path, monkeypatch, capsys
):
    from emogen.common.precision import Precision

    with_bf16 = Precision("bf16", "bfloat16", True, int8_if_faithful=True)  # what auto gives where bf16 is native

    def build():
        return build_generator(
            checkpoint,
            CPU,
            with_bf16,
            "openvino",
            cache_dir=str(tmp_path / "models"),
            calibration=lambda: real_batches,
            check=lambda: real_batches,
        )

    # The real measurement, both networks timed on the check batches, where this CPU runs bfloat16 (the only
    # place auto takes this path); where oneDNN is capped below bfloat16 OpenVINO cannot compile a bfloat16
    # model, so a fixed measurement stands in, the "bf16" model compiles in f32, and the test checks the choice.
    measured = []
    real_measure = int8_fidelity.measure_speed
    if not native_bf16(CPU):
        real_measure = lambda *a, **k: {"bf16": 1.0, "int8": 2.0}  # noqa: E731
        monkeypatch.setattr(generator_module, "inference_hint", lambda bf16: "f32")  # compiled in f32 here
    monkeypatch.setattr(
        int8_fidelity, "measure_speed", lambda *a, **k: measured.append(real_measure(*a, **k)) or measured[-1]
    )
    model = build()
    err = capsys.readouterr().err
    assert len(measured) == 1 and set(measured[0]) == {"bf16", "int8"} and min(measured[0].values()) > 0
    choice = "int8" if measured[0]["int8"] > measured[0]["bf16"] else "bf16"
    assert generator_module.precision_label(model, with_bf16) == choice
    assert "timed against bfloat16" in err and f"auto runs {choice}" in err
    # Stored beside the int8 model: later builds neither quantize nor time again.
    monkeypatch.setattr(int8_fidelity, "measure_speed", lambda *a, **k: pytest.fail("timed twice"))
    assert generator_module.precision_label(build(), with_bf16) == choice
    assert "int8" not in capsys.readouterr().err
    # Where int8 measured slower, bfloat16 runs; where faster, int8.
    speed_file = next((tmp_path / "models").glob("*int8*/speed.json"))
    stored = json.loads(speed_file.read_text())
    for int8_rate, expected in ((10.0, "bf16"), (1e6, "int8")):
        stored["faces_per_s"] = {"bf16": 100.0, "int8": int8_rate}
        speed_file.write_text(json.dumps(stored))
        assert generator_module.precision_label(build(), with_bf16) == expected
    # Measured on another machine: timed again here.
    stored["machine"] = "another CPU"
    speed_file.write_text(json.dumps(stored))
    monkeypatch.setattr(int8_fidelity, "measure_speed", lambda *a, **k: {"bf16": 2.0, "int8": 1.0})
    assert generator_module.precision_label(build(), with_bf16) == "bf16"
