"""Running a PyTorch network through OpenVINO: converted once per weight file and runtime version, kept in an
on-disk cache, and called like the module it stands for (torch tensors in, torch tensors out; or numpy arrays in and
out, which needs no torch)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import warnings
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from .atomic import ensure_writable_dir
from .errors import UserError

if TYPE_CHECKING:
    import openvino
    import torch

MODEL_CACHE_ENV = "EMOGEN_MODEL_CACHE_DIR"
XML = "model.xml"


def model_cache_dir() -> str:
    """$EMOGEN_MODEL_CACHE_DIR, else $XDG_CACHE_HOME/emogen/models, else ~/.cache/emogen/models."""
    root = os.environ.get(MODEL_CACHE_ENV)
    if root:
        return root
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "emogen", "models")


def openvino_version() -> str:
    """The installed OpenVINO's version, short form (e.g. 2026.4.1)."""
    import openvino

    return openvino.__version__.split("-")[0]


def cache_key(network: str, weights_digest: str, variant: str) -> str:
    """The cache folder name of one converted network: what it is, its weights, the runtime and the variant."""
    return f"{network}-{weights_digest[:20]}-ov{openvino_version()}-{variant}"


def convert_module(
    module: torch.nn.Module, example_inputs: Sequence[torch.Tensor], shapes: Sequence[Sequence[int]]
) -> openvino.Model:
    """An OpenVINO model of ``module`` (float32, on the CPU); -1 in ``shapes`` marks a dimension that may vary."""
    import openvino as ov
    import torch

    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python-side shape arithmetic, harmless here
        return ov.convert_model(
            module.float().cpu().eval(),
            example_input=tuple(example_inputs),
            input=[(list(s), ov.Type.f32) for s in shapes],
        )


def cached_model(
    network: str,
    weights_digest: str,
    variant: str,
    build: Callable[[], openvino.Model],
    cache_dir: Optional[str] = None,
    label: str = "",
) -> str:
    """The path of a cached converted model, building and storing it first when it is missing or unreadable.

    The folder is written under a temporary name and renamed, so a second process converting at the same time
    or an interrupted conversion never leaves a half-written model behind. An unwritable cache folder costs a
    conversion per run (with one warning), never the run.
    """
    import openvino as ov

    root = cache_dir or model_cache_dir()
    key = cache_key(network, weights_digest, variant)
    final = os.path.join(root, key)
    if _readable(os.path.join(final, XML)):
        return os.path.join(final, XML)
    try:
        os.makedirs(root, exist_ok=True)
        work = tempfile.mkdtemp(prefix=f".{key}-", dir=root)
    except OSError as exc:
        print(
            f"warning: cannot write the model cache {root} ({exc.strerror}); converting for this run only "
            f"(set {MODEL_CACHE_ENV} to a writable folder)",
            file=sys.stderr,
        )
        root, final = tempfile.mkdtemp(prefix="emogen-models-"), None
        work = root
    print(
        f"converting {label or network} for OpenVINO ({variant}); done once per weight file"
        + (f", kept in {root}" if final else ""),
        file=sys.stderr,
    )
    try:
        ov.save_model(build(), os.path.join(work, XML), compress_to_fp16=False)
        if final is None:
            return os.path.join(work, XML)
        if os.path.isdir(final):  # unreadable leftovers, or another process finished first
            if _readable(os.path.join(final, XML)):
                shutil.rmtree(work, ignore_errors=True)
                return os.path.join(final, XML)
            shutil.rmtree(final, ignore_errors=True)
        os.rename(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return os.path.join(final, XML)


def cached_model_exists(network: str, weights_digest: str, variant: str, cache_dir: Optional[str] = None) -> bool:
    """True when ``cached_model`` would read this model from the cache instead of building it."""
    key = cache_key(network, weights_digest, variant)
    return _readable(os.path.join(cache_dir or model_cache_dir(), key, XML))


def cache_writable(cache_dir: Optional[str] = None) -> bool:
    """True when a converted model can be stored in the model cache (the folder exists or can be made, and
    takes a new entry)."""
    try:
        ensure_writable_dir(cache_dir or model_cache_dir(), "the model cache")
    except UserError:
        return False
    return True


def _readable(xml: str) -> bool:
    """True when ``xml`` and its weights exist and OpenVINO can read them."""
    if not (os.path.isfile(xml) and os.path.isfile(xml[:-4] + ".bin")):
        return False
    import openvino as ov

    try:
        ov.Core().read_model(xml)
    except Exception:  # noqa: BLE001 - any failure means: convert again
        return False
    return True


def inference_hint(bf16: bool) -> str:
    """OpenVINO's INFERENCE_PRECISION_HINT for a run in bfloat16 or float32."""
    return "bf16" if bf16 else "f32"


class OpenVINONetwork:
    """A compiled OpenVINO model called like the torch module it was converted from: torch tensors in, a tensor
    (or a list for several outputs) out; numpy arrays in, arrays out (the inference path, which then never
    imports torch). Each thread gets its own infer request. ``precision_name`` is what a run reports (e.g. int8
    for a quantized model)."""

    def __init__(self, xml: str, hint: str = "f32", precision_name: str = "") -> None:
        import openvino as ov

        try:
            self.compiled = ov.Core().compile_model(
                xml, "CPU", {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY"}
            )
        except RuntimeError as exc:
            raise UserError(
                f"OpenVINO cannot compile {xml} ({_first_line(exc)}); delete that folder or use --backend torch"
            ) from None
        self.hint = hint
        self.precision_name = precision_name
        self._local = threading.local()

    def __call__(self, *inputs):
        import numpy as np

        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        as_arrays = all(isinstance(t, np.ndarray) for t in inputs)
        arrays = [
            np.ascontiguousarray(t if as_arrays else t.detach().float().cpu().numpy(), dtype=np.float32) for t in inputs
        ]
        result = request.infer(arrays)
        outs = [np.array(result[port]) for port in self.compiled.outputs]
        if not as_arrays:
            import torch

            outs = [torch.from_numpy(o) for o in outs]
        return outs[0] if len(outs) == 1 else outs

    def eval(self) -> OpenVINONetwork:
        """Already in inference mode (for code that calls .eval() on any network)."""
        return self


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
