"""How far the int8 generator is from float32 for one checkpoint: PSNR of the generated faces, as inference
turns them into pixels, per emotion; measured once per quantized model and kept beside it."""

from __future__ import annotations

import json
import math
import os
from typing import Callable, Optional

import numpy as np

from emogen.common.atomic import atomic_path
from emogen.common.contract import EMOTIONS
from emogen.common.generator_kind import LIPSYNC
from emogen.common.openvino_runtime import OpenVINONetwork

# The floor for any default that is not float32: at least 40 dB PSNR from float32 in the generated face.
INT8_MIN_PSNR_DB = 40.0
FIDELITY_FILE = "fidelity.json"


def _faces(xml: str, batches: list) -> list[np.ndarray]:
    """The generated faces of ``batches`` as uint8 pixels (inference's cast), from the model at ``xml`` compiled
    in f32 as inference compiles it."""
    network = OpenVINONetwork(xml, "f32")
    return [(network(*batch) * 255.0).astype(np.uint8) for batch in batches]


def measure_fidelity(f32_xml: str, int8_xml: str, batches: list) -> dict[str, float]:
    """PSNR (dB) between the int8 and the float32 model's faces on ``batches``, per emotion of the batches
    (one ``lipsync`` group for a generator without emotions)."""
    reference, quantized = _faces(f32_xml, batches), _faces(int8_xml, batches)
    squared: dict[str, list] = {}
    for batch, a, b in zip(batches, reference, quantized):
        # A Wav2Lip generator's batches carry no emotion: one group for all its faces.
        emotion = EMOTIONS[int(np.argmax(batch[2][0]))] if len(batch) > 2 else LIPSYNC
        squared.setdefault(emotion, []).append((a.astype(np.float64) - b) ** 2)
    out = {}
    for emotion, parts in squared.items():
        mse = float(np.mean(np.concatenate([p.ravel() for p in parts])))
        out[emotion] = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    return out


def cached_fidelity(f32_xml: str, int8_xml: str, batches: Callable[[], list]) -> dict[str, float]:
    """The per-emotion PSNR of the int8 model at ``int8_xml``: read from beside it, or measured and stored there
    (a cache that cannot be written only costs measuring again next time)."""
    path = os.path.join(os.path.dirname(int8_xml), FIDELITY_FILE)
    stored = _read(path)
    if stored is not None:
        return stored
    values = measure_fidelity(f32_xml, int8_xml, batches())
    try:
        with atomic_path(path, suffix=".json") as tmp, open(tmp, "w") as handle:
            json.dump({"psnr_db": {k: (v if math.isfinite(v) else 999.0) for k, v in values.items()}}, handle)
    except OSError:
        pass
    return values


SPEED_FILE = "speed.json"


def measure_speed(bf16_xml: str, int8_xml: str, batches: list, rounds: int = 3) -> dict[str, float]:
    """Generated faces per second of the model at ``bf16_xml`` compiled in bfloat16 and the int8 model compiled as
    inference compiles it, on ``batches`` (after one warm-up pass each; the best of ``rounds`` passes)."""
    import time

    out = {}
    for name, xml, hint in (("bf16", bf16_xml, "bf16"), ("int8", int8_xml, "f32")):
        network = OpenVINONetwork(xml, hint)
        faces = sum(len(b[0]) for b in batches)
        best = math.inf
        for _ in range(rounds + 1):
            start = time.perf_counter()
            for batch in batches:
                network(*batch)
            best = min(best, time.perf_counter() - start)
        out[name] = faces / best
    return out


def cached_speed(bf16_xml: str, int8_xml: str, batches: Callable[[], list]) -> tuple[dict[str, float], bool]:
    """``measure_speed`` of this machine, read from beside the int8 model or measured and stored there, and
    whether it was measured now. The file names the CPU it was measured on, so a model cache shared between
    machines measures again."""
    from emogen.common.precision import cpu_info

    path = os.path.join(os.path.dirname(int8_xml), SPEED_FILE)
    machine = " ".join([cpu_info()[0], str(os.cpu_count())])
    try:
        with open(path) as handle:
            stored = json.load(handle)
        if stored.get("machine") == machine:
            return {str(k): float(v) for k, v in stored["faces_per_s"].items()}, False
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    values = measure_speed(bf16_xml, int8_xml, batches())
    try:
        with atomic_path(path, suffix=".json") as tmp, open(tmp, "w") as handle:
            json.dump({"machine": machine, "faces_per_s": values}, handle)
    except OSError:
        pass
    return values, True


def _read(path: str) -> Optional[dict[str, float]]:
    try:
        with open(path) as handle:
            values = json.load(handle)["psnr_db"]
        return {str(k): float(v) for k, v in values.items()} if values else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def passes(values: dict[str, float]) -> bool:
    """True when every emotion's int8 faces stay at least INT8_MIN_PSNR_DB from float32."""
    return bool(values) and min(values.values()) >= INT8_MIN_PSNR_DB


def summary(values: dict[str, float]) -> str:
    """'48.1-49.0 dB over ANG DIS FEA HAP NEU SAD' for a message."""
    return f"{min(values.values()):.1f}-{max(values.values()):.1f} dB over {' '.join(sorted(values))}"
