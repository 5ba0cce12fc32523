"""Optional face restoration or super-resolution of the generated 96x96 face before it is pasted (--enhance).

The network's architecture is read from the weight file by spandrel, a maintained loader that knows GFPGAN,
RestoreFormer and Real-ESRGAN (CodeFormer through spandrel-extra-arches). The file itself is read here, with
``torch.load(weights_only=True)`` (or safetensors), and only its tensors reach spandrel. Face restoration
networks (spandrel's purpose "FaceSR") are fed the face at their training size, 512 px; super-resolution
networks take the 96 px face and return it ``scale`` times larger. Either way the result is resized to the box
afterwards, as the generator's own face is. It costs seconds per frame on a 2-core CPU (GFPGAN 2.4 s), so it is
the slow, sharper option; the timing is in docs/benchmarks.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from emogen.common.checkpoint_io import read_checkpoint
from emogen.common.errors import UserError, one_line, require_file

FACE_RESTORATION_SIDE = 512  # the face size GFPGAN, RestoreFormer and CodeFormer were trained on
INSTALL_HINT = "pip install -e '.[enhance]' (spandrel)"


@dataclass
class FaceEnhancer:
    """A loaded restoration network: ``enhance`` maps generated faces to sharper, larger ones."""

    descriptor: Any  # spandrel's ImageModelDescriptor
    input_side: int  # the face is resized to this square before the network
    device: Any

    @property
    def name(self) -> str:
        """The architecture spandrel recognised, e.g. 'GFPGAN'."""
        return self.descriptor.architecture.name

    @property
    def output_side(self) -> int:
        """The side of the faces ``enhance`` returns."""
        return self.input_side * int(self.descriptor.scale)

    def enhance(self, faces: np.ndarray, chunk: int = 4) -> np.ndarray:
        """(N, H, W, 3) BGR floats in [0, 1] -> (N, S, S, 3) BGR floats in [0, 1], S = ``output_side``; ``chunk``
        faces per network call, since a 512 px restoration network's activations grow fast with the batch."""
        import torch

        side = self.input_side
        out = []
        for start in range(0, len(faces), chunk):
            part = [
                f if f.shape[0] == side else cv2.resize(f, (side, side), interpolation=cv2.INTER_CUBIC)
                for f in faces[start : start + chunk]
            ]
            rgb = np.ascontiguousarray(np.clip(np.stack(part), 0.0, 1.0)[..., ::-1].transpose(0, 3, 1, 2))
            with torch.inference_mode():
                made = self.descriptor(torch.from_numpy(rgb.astype(np.float32, copy=False)).to(self.device))
            out.append(made.float().cpu().numpy().transpose(0, 2, 3, 1)[..., ::-1])
        return np.clip(np.concatenate(out), 0.0, 1.0)


def _input_side(descriptor: Any, face_side: int) -> int:
    """Face restoration networks see faces at their training size; others the generated face, within their
    size requirements (a minimum, a multiple)."""
    need = descriptor.size_requirements
    side = FACE_RESTORATION_SIDE if descriptor.purpose == "FaceSR" else face_side
    side = max(side, need.minimum)
    if need.multiple_of > 1:
        side = -(-side // need.multiple_of) * need.multiple_of
    return side


def read_enhancer_weights(path: str) -> dict:
    """The tensors of a restoration network's file: .safetensors through safetensors, others through
    ``torch.load(weights_only=True)``."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except Exception as exc:  # safetensors raises its own error types for damaged files
            raise UserError.about("enhance", f"{path} is not a readable safetensors file ({exc})") from None
    return read_checkpoint(path)


def load_enhancer(path: str, device: Any, face_side: int = 96) -> FaceEnhancer:
    """Load the restoration network in ``path``; one-line UserErrors for a missing spandrel, a missing file or an
    architecture spandrel does not know."""
    require_file(path, "enhance", "a GFPGAN, RestoreFormer or Real-ESRGAN weight file (.pth or .safetensors)")
    try:
        from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError
    except ImportError:
        raise UserError.about("enhance", f"needs the spandrel package: {INSTALL_HINT}") from None
    try:  # CodeFormer and other non-commercial architectures, when the user installed them
        import spandrel_extra_arches

        spandrel_extra_arches.install(ignore_duplicates=True)
    except ImportError:
        pass
    name = os.path.basename(path)
    state = read_enhancer_weights(path)
    # A state_dict, or one wrapped as the trainers save it ({"params_ema": {...}}); spandrel unwraps those.
    leaves = (
        [w for v in state.values() for w in (v.values() if isinstance(v, dict) else [v])]
        if isinstance(state, dict)
        else []
    )
    if not leaves or not all(hasattr(v, "shape") for v in leaves):
        raise UserError.about("enhance", f"{name} holds no state_dict of tensors (found {type(state).__name__})")
    unknown = (
        f"{name}: spandrel knows no architecture with these weights; pass a GFPGAN, RestoreFormer or Real-ESRGAN "
        "file (CodeFormer needs spandrel-extra-arches)"
    )
    try:
        descriptor = ModelLoader().load_from_state_dict(state)
    except UnsupportedModelError:
        raise UserError.about("enhance", unknown) from None
    except Exception as exc:  # noqa: BLE001 - a known architecture with wrong shapes fails in many ways
        raise UserError.about("enhance", f"{unknown} ({one_line(exc, 160)})") from None
    if not isinstance(descriptor, ImageModelDescriptor) or (descriptor.input_channels, descriptor.output_channels) != (
        3,
        3,
    ):
        raise UserError.about(
            "enhance", f"{name} holds a {descriptor.architecture.name}, not an RGB-to-RGB image network"
        )
    descriptor.model.eval()
    enhancer = FaceEnhancer(descriptor.to(device), _input_side(descriptor, face_side), device)
    _try_once(enhancer, name, face_side)
    return enhancer


def _try_once(enhancer: FaceEnhancer, name: str, face_side: int) -> None:
    """Run the network once on a grey face at load, so a file that loads but cannot run fails now, in one line,
    and not in the middle of a render."""
    try:
        out = enhancer.enhance(np.full((1, face_side, face_side, 3), 0.5, np.float32))
    except Exception as exc:  # noqa: BLE001 - whatever the network raises, the file is the problem
        raise UserError.about(
            "enhance", f"{name} loads as {enhancer.name} but fails on a face ({one_line(exc, 160)})"
        ) from None
    side = enhancer.output_side
    if out.shape != (1, side, side, 3) or not np.isfinite(out).all():
        raise UserError.about(
            "enhance",
            f"{name} loads as {enhancer.name} but gives {tuple(out.shape)} for a face, not (1, {side}, {side}, 3)",
        )
