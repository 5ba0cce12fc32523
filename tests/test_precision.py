"""--precision: what auto means on this CPU, and that an instruction-set cap (ONEDNN_MAX_CPU_ISA) is honoured."""

import json
import os
import subprocess
import sys

import pytest
import torch
from shared_data import REPO_ROOT, seeded_state_dict

import emogen.common.precision as precision
from emogen.common.contract import EMOTIONS

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    "cap, native",
    [
        ("AVX2", False),
        ("avx512_core", False),
        ("AVX512_CORE_VNNI", False),
        ("AVX512_CORE_BF16", True),
        ("AVX512_CORE_AMX", True),
        ("", True),
    ],
)
def test_isa_cap_turns_bf16_off(monkeypatch, cap, native):
    monkeypatch.setattr(precision, "_cpuinfo_has_bf16", lambda: True)  # a CPU with AVX512_BF16
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    assert precision.cpu_has_native_bf16() is native
    assert precision.resolve_precision("auto", CPU).name == ("bf16" if native else "fp32-cl")


def test_older_variable_name_and_a_cpu_without_bf16(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(precision, "_cpuinfo_has_bf16", lambda: True)
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX2")
    assert not precision.cpu_has_native_bf16()
    monkeypatch.delenv("DNNL_MAX_CPU_ISA")
    monkeypatch.setattr(precision, "_cpuinfo_has_bf16", lambda: False)
    assert not precision.cpu_has_native_bf16() and precision.resolve_precision("auto", CPU).name == "fp32-cl"


def test_auto_prefers_a_faithful_int8_on_a_cpu_without_bf16(monkeypatch):
    monkeypatch.setattr(precision, "_cpuinfo_has_bf16", lambda: False)
    auto = precision.resolve_precision("auto", CPU)
    assert (auto.name, auto.dtype, auto.channels_last, auto.int8_if_faithful) == ("fp32-cl", None, True, True)
    # Asked for by name, float32 stays float32.
    assert not precision.resolve_precision("fp32-cl", CPU).int8_if_faithful
    monkeypatch.setattr(precision, "_cpuinfo_has_bf16", lambda: True)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    # Beside native bfloat16, int8 is still considered (build_generator keeps it only where it measured faster).
    assert precision.resolve_precision("auto", CPU) == precision.Precision("bf16", "bfloat16", True, True)
    assert not precision.resolve_precision("bf16", CPU).int8_if_faithful


@pytest.mark.slow
def test_capped_cpu_runs_the_default_generator_in_int8(tmp_path):
    """Under ONEDNN_MAX_CPU_ISA=AVX2 OpenVINO refuses to compile with a bfloat16 hint; auto must not ask for it,
    and quantizes the generator with the default calibration and check sets (the example video) instead."""
    ckpt = tmp_path / "gen.pth"
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, ckpt)
    code = (
        "import torch, numpy as np\n"
        "from emogen.inference.options import InferenceOptions\n"
        "from emogen.inference.plan import resolve_runtime\n"
        "from emogen.inference.generator import build_generator, precision_label\n"
        f"rt = resolve_runtime(InferenceOptions(checkpoint_path={str(ckpt)!r}, face='', audio='', "
        "emotion='HAP', device='cpu'))\n"
        "m = build_generator(" + repr(str(ckpt)) + ", rt.device, rt.precision, rt.backend)\n"
        "out = m(torch.zeros(2, 1, 80, 16), torch.rand(2, 6, 96, 96), torch.eye(6)[:2])\n"
        "print(precision_label(m, rt.precision), rt.backend, tuple(out.shape), bool(torch.isfinite(out).all()))\n"
    )
    models = tmp_path / "models"
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "EMOGEN_MODEL_CACHE_DIR": str(models)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    name, backend, *rest = proc.stdout.split()
    assert (name, backend) == ("int8", "openvino") and " ".join(rest) == "(2, 3, 96, 96) True"
    assert "auto runs int8" in proc.stderr
    (fidelity,) = models.glob("generator-*-int8/fidelity.json")
    values = json.loads(fidelity.read_text())["psnr_db"]
    # Seeded weights on the example's 48 check inputs (8 per emotion): measured 46.7-46.8 dB.
    assert sorted(values) == sorted(EMOTIONS) and 44 < min(values.values()) and max(values.values()) < 50
