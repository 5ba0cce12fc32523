"""A run resolved once, before any work: the emotions and output files, the device, precision and runtime, the
encoder, and how faces are found. The pipeline, face boxes, live mode and the Python API all read the plan
instead of working these out again from the options."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from emogen.common.atomic import ensure_writable_dir, sweep_orphaned_temp_dirs, sweep_partials
from emogen.common.backends import resolve_backend
from emogen.common.checkpoint_io import check_checkpoint_path
from emogen.common.contract import Coords
from emogen.common.device import Device, choose_device
from emogen.common.errors import UserError
from emogen.common.media import choose_encoder, is_image_path
from emogen.common.paths import refuse_overwriting_inputs
from emogen.common.precision import Precision, resolve_precision
from emogen.common.weights import WEIGHTS
from face_detection.registry import (
    DETECTORS,
    canonical_name,
    fallback_warning,
    resolve_detection,
    resolve_detector_name,
)

from .options import InferenceOptions, output_paths, validate
from .references import resolve_reference

RUN_TEMP = "run"  # the kind of a run's private temporary folder (emogen-run-<pid>-...)


@dataclass(frozen=True)
class Runtime:
    """Where and how a run's networks execute: the device, the generator's precision and the runtime."""

    device: Device  # a device name that knows its type (torch takes it as is)
    precision: Precision
    backend: str


def resolve_runtime(opts: InferenceOptions) -> Runtime:
    """device, precision and backend of a run resolved together (one line for an impossible mix)."""
    device = choose_device(opts.device)
    precision = resolve_precision(opts.precision, device)
    return Runtime(device, precision, resolve_backend(opts.backend, device, precision.name))


@dataclass(frozen=True)
class FacePlan:
    """How a run finds its faces: a fixed box, or a detector with its strategy for a video and its runtime."""

    box: Optional[Coords]  # a fixed box (top, bottom, left, right), checked against the frame later
    detector: Optional[str]  # the concrete detector ('dlib', 's3fd', ...); None with a fixed box
    strategy: str  # for a video: 'exact' or 'fast' ('fixed box' with a box); a still is always one exact detection
    backend: str  # the detector's runtime: 'torch', or 'openvino' for detectors that run there
    device: Device
    no_face_frame: Optional[str]  # where a frame without a face may be saved for a look (a .jpg stem), or None
    warning: Optional[str] = None  # said once detection starts: 'auto' fell back from S3FD, whose weights are missing

    def strategy_for(self, static: bool) -> str:
        """The strategy for this input: a still (or --static) is one frame, so detection is exact."""
        return "exact" if static and self.detector else self.strategy

    def label(self, static: bool) -> str:
        """How the faces were found, for a run's report: 'fixed box', or detector and strategy ('dlib, fast')."""
        return "fixed box" if self.detector is None else f"{self.detector}, {self.strategy_for(static)}"


def plan_faces(opts: InferenceOptions, runtime: Runtime, no_face_frame: Optional[str] = None) -> FacePlan:
    """The face part of a plan: the detector that 'auto' stands for (warning once when it falls back from S3FD),
    the strategy 'auto' stands for on this device, and the detector's runtime."""
    if opts.box is not None:
        return FacePlan(tuple(opts.box), None, "fixed box", "torch", runtime.device, no_face_frame)
    name = resolve_detector_name(opts.face_detector, warn=False)
    backend = runtime.backend if "openvino" in DETECTORS[name].backends else "torch"
    strategy = resolve_detection(opts.detection, name, runtime.device.type, opts.det_stride)
    fell_back = canonical_name(opts.face_detector) == "auto" and name != "s3fd"
    warning = fallback_warning(name) if fell_back else None
    return FacePlan(None, name, strategy, backend, runtime.device, no_face_frame, warning)


@dataclass(frozen=True)
class RunPlan:
    """Everything one inference run will do, resolved from its options."""

    options: InferenceOptions
    emotions: tuple[str, ...]
    outfiles: dict  # emotion -> output file
    runtime: Runtime
    encoder: str
    faces: FacePlan
    reference: str  # the generator's reference face, resolved: frame, closed_mouth or masked_mouth


def prepare(opts: InferenceOptions, runtime: Optional[Runtime] = None) -> RunPlan:
    """Check a run's inputs, outputs and settings before any work and resolve them into its plan; ``runtime``
    reuses one resolved earlier (an API object or a server resolves it once for all its runs)."""
    emotions = validate(opts)
    outfiles = output_paths(opts.outfile, emotions)
    inputs = {"face": opts.face, "audio": opts.audio}
    for outfile in outfiles.values():  # fail now, not after all the work
        refuse_overwriting_inputs("outfile", outfile, inputs)
        ensure_writable_dir(os.path.dirname(os.path.abspath(outfile)), f"--outfile {outfile}")
        sweep_partials(outfile)  # what a killed run (SIGKILL) left under this name's hidden partial names
    sweep_orphaned_temp_dirs(RUN_TEMP)
    if not os.path.exists(opts.checkpoint_path):
        raise UserError.about("checkpoint_path", WEIGHTS["emogen_generator"].missing_message(opts.checkpoint_path))
    check_checkpoint_path(opts.checkpoint_path)
    runtime = runtime or resolve_runtime(opts)
    encoder = choose_encoder(opts.encoder, runtime.device.type)
    first = outfiles[emotions[0]]
    no_face_frame = os.path.splitext(first)[0] if opts.save_no_face_frame else None
    faces = plan_faces(opts, runtime, no_face_frame)
    reference = resolve_reference(opts.reference, opts.static or is_image_path(opts.face))
    return RunPlan(opts, tuple(emotions), outfiles, runtime, encoder, faces, reference)
