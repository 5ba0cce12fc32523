"""The detector syncnet_python's LSE pipeline uses: S3FD on a 0.25-scaled RGB frame, confidence 0.9, NMS 0.1."""

from __future__ import annotations

import os
from typing import Optional, Sequence

import cv2
import numpy as np
import torch

from emogen.common.checkpoint_io import CheckpointError, read_checkpoint, state_dict_from_checkpoint
from emogen.common.errors import UserError
from emogen.common.weights import WEIGHTS

from ..core import FaceDetector
from .net import SyncnetS3FDNet, from_face_alignment_layout
from .postprocess import detect, priors

# syncnet_python subtracts (104, 117, 123) from the BGR-ordered planes of an RGB frame and turns them back, so
# the network sees R - 123, G - 117, B - 104.
RGB_MEAN = np.array([123.0, 117.0, 104.0], dtype=np.float32)


def reference_weights_path(path: Optional[str] = None) -> str:
    """The argument, $EMOGEN_SFD_FACE_PATH, checkpoints/sfd_face.pth, or else an existing face-alignment s3fd.pth."""
    where = WEIGHTS["sfd_face"].path(path)
    if path or os.path.isfile(where) or os.environ.get(WEIGHTS["sfd_face"].env or ""):
        return where
    s3fd = WEIGHTS["s3fd"].path()
    return s3fd if os.path.isfile(s3fd) else where


def missing_message(path: str) -> str:
    """Where the reference detector's weights go and where they come from."""
    return WEIGHTS["sfd_face"].missing_message(path, "--detector_path")


class ReferenceSFDDetector(FaceDetector):
    """S3FD with syncnet_python's weights, input scale, thresholds and NMS; every face is kept."""

    name = "syncnet_s3fd"

    def __init__(
        self,
        device: str = "cpu",
        weights_path: Optional[str] = None,
        verbose: bool = False,
        scale: float = 0.25,
        conf_th: float = 0.9,
    ) -> None:
        super().__init__(device, weights_path, verbose)
        where = reference_weights_path(weights_path)
        if not os.path.isfile(where):
            raise UserError(missing_message(where))
        state = state_dict_from_checkpoint(read_checkpoint(where), where)
        if "conv1_1.weight" in state:
            state = from_face_alignment_layout(state)
        self.net = SyncnetS3FDNet()
        try:
            self.net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(
                f"{where} is neither syncnet_python's sfd_face.pth nor face-alignment's s3fd.pth "
                f"({str(exc).splitlines()[0][:160]})"
            ) from None
        self.net.to(self.device).eval()
        self.weights, self.scale, self.conf_th = where, scale, conf_th

    def detect_from_batch(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Every face per BGR frame as rows (x1, y1, x2, y2, score), in the reference's order."""
        out = []
        for image in images:
            h, w = image.shape[:2]
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            small = cv2.resize(rgb, dsize=(0, 0), fx=self.scale, fy=self.scale, interpolation=cv2.INTER_LINEAR)
            x = torch.from_numpy(small.astype(np.float32) - RGB_MEAN).permute(2, 0, 1)[None].to(self.device)
            with torch.inference_mode():
                loc, prob, sizes = self.net(x)
            prior = priors(small.shape[:2], sizes)
            out.append(detect(loc[0].float().cpu().numpy(), prob[0].float().cpu().numpy(), prior, (w, h), self.conf_th))
        return out
