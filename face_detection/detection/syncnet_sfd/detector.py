"""The detector syncnet_python's LSE pipeline uses: S3FD on a 0.25-scaled RGB frame, confidence 0.9, NMS 0.1."""
from __future__ import annotations

import os
from typing import Optional, Sequence

import cv2
import numpy as np
import torch

from emogen.checkpoints import CheckpointError, read_checkpoint, state_dict_from_checkpoint
from emogen.errors import UserError

from ..core import FaceDetector
from ..sfd.sfd_detector import s3fd_weights_path
from .net import SyncnetS3FDNet, from_face_alignment_layout
from .postprocess import detect, priors

WEIGHTS_ENV = "EMOGEN_SFD_FACE_PATH"
DEFAULT_WEIGHTS = os.path.join("checkpoints", "sfd_face.pth")
# syncnet_python subtracts (104, 117, 123) from the BGR-ordered planes of an RGB frame and turns them back, so
# the network sees R - 123, G - 117, B - 104.
RGB_MEAN = np.array([123.0, 117.0, 104.0], dtype=np.float32)


def reference_weights_path(path: Optional[str] = None) -> str:
    """The argument, $EMOGEN_SFD_FACE_PATH, checkpoints/sfd_face.pth, or else an existing face-alignment s3fd.pth."""
    if path:
        return path
    if os.environ.get(WEIGHTS_ENV):
        return os.environ[WEIGHTS_ENV]
    if os.path.isfile(DEFAULT_WEIGHTS):
        return DEFAULT_WEIGHTS
    return s3fd_weights_path() if os.path.isfile(s3fd_weights_path()) else DEFAULT_WEIGHTS


def missing_message(path: str) -> str:
    """Where the reference detector's weights go and where they come from."""
    return (f"LSE face detection weights not found at {path}: get sfd_face.pth from the syncnet_python project "
            f"(github.com/joonson/syncnet_python, download_model.sh puts it in detectors/s3fd/weights/) and put it "
            f"at {DEFAULT_WEIGHTS}, pass --detector_path, or set {WEIGHTS_ENV}; face-alignment's s3fd.pth is "
            "accepted too (same network)")


class ReferenceSFDDetector(FaceDetector):
    """S3FD with syncnet_python's weights, input scale, thresholds and NMS; every face is kept."""

    name = "reference"

    def __init__(self, device: str = "cpu", path: Optional[str] = None, scale: float = 0.25,
                 conf_th: float = 0.9, verbose: bool = False) -> None:
        super().__init__(device, verbose)
        where = reference_weights_path(path)
        if not os.path.isfile(where):
            raise UserError(missing_message(where))
        state = state_dict_from_checkpoint(read_checkpoint(where), where)
        if "conv1_1.weight" in state:
            state = from_face_alignment_layout(state)
        self.net = SyncnetS3FDNet()
        try:
            self.net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"{where} is neither syncnet_python's sfd_face.pth nor face-alignment's s3fd.pth "
                                  f"({str(exc).splitlines()[0][:160]})") from None
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
            out.append(detect(loc[0].float().cpu().numpy(), prob[0].float().cpu().numpy(), prior, (w, h),
                              self.conf_th))
        return out
