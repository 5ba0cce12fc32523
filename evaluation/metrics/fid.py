"""FID between real and generated videos, with pytorch-fid's Inception-v3 (pool3, 2048-d), on face crops (the
region the generator redraws, as the Wav2Lip maintainers advise and EmoGen's README points to) or whole frames.

The FID Inception weights (``pt_inception-2015-12-05-6726825d.pth``) cannot be downloaded here; they are read
from a path, $EMOGEN_INCEPTION_PATH, or torch's hub cache ($TORCH_HOME/hub/checkpoints), with
``torch.load(weights_only=True)``. A randomly initialised network (explicit flag, tests only) gives numbers
that are not FID.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator, Optional
from unittest import mock

import cv2
import numpy as np
import torch
from tqdm import tqdm

from emogen.common.checkpoint_io import CheckpointError, read_checkpoint, state_dict_from_checkpoint
from emogen.common.errors import UserError
from emogen.common.media import iter_frames
from emogen.common.weights import WEIGHTS, identify_state_dict


def inception_weights_path(path: Optional[str] = None) -> str:
    """The argument, else $EMOGEN_INCEPTION_PATH, else torch's hub cache."""
    return WEIGHTS["inception"].path(path)


def build_inception(path: Optional[str] = None, allow_random: bool = False, device: str = "cpu"):
    """pytorch-fid's InceptionV3 (pool3 block) with the FID weights read safely from disk."""
    import pytorch_fid.inception as fid_inception
    from torchvision.models.inception import Inception3

    where = inception_weights_path(path)
    if os.path.isfile(where):
        weights = state_dict_from_checkpoint(read_checkpoint(where), where)
    elif allow_random:
        print("warning: FID Inception weights not found; using random weights (the number is not FID)")
        weights = Inception3(num_classes=1008, aux_logits=False, init_weights=True).state_dict()
    else:
        raise UserError(WEIGHTS["inception"].missing_message(where, "--inception_path"))
    # pytorch-fid fetches its weights by URL; hand it the file read above instead.
    try:
        with mock.patch.object(fid_inception, "load_state_dict_from_url", lambda *a, **k: weights):
            model = fid_inception.InceptionV3([fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    except RuntimeError:  # load_state_dict's error lists every key: say in one line what the file is instead
        raise CheckpointError(
            f"{where} is not pytorch-fid's Inception weights: it looks like "
            f"{identify_state_dict(weights)}; pass {WEIGHTS['inception'].default_file} as "
            "--inception_path"
        ) from None
    return model.to(device).eval()


CROP_SIDE = 299  # Inception-v3's input size: face crops of any size are resized to it before batching
GENERATOR_PADS = (0, 10, 0, 0)  # inference.py's default --pads: the region the generator redraws


def face_crops(path: str, detector, max_frames: Optional[int] = None) -> Iterator[np.ndarray]:
    """The face region the generator works on, per frame with a face: the detector's box padded by inference's
    default pads (chin), smoothed over 5 frames, clipped; resized to 299x299. Frames without a face are skipped."""
    from emogen.inference.geometry import crop_coords
    from face_detection import detect_video_boxes

    first = next(iter_frames(path, limit=1), None)
    if first is None:
        return
    boxes = detect_video_boxes(iter_frames(path, limit=max_frames), detector)
    coords = crop_coords(boxes, first.shape[:2], GENERATOR_PADS, nosmooth=False)
    for frame, c in zip(iter_frames(path, limit=max_frames), coords):
        if c is not None and c[1] > c[0] and c[3] > c[2]:
            yield cv2.resize(frame[c[0] : c[1], c[2] : c[3]], (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_LINEAR)


def video_features(
    model,
    videos: Iterable[str],
    device: str = "cpu",
    batch_size: int = 32,
    max_frames: Optional[int] = None,
    progress: bool = True,
    desc: str = "frames",
    detector=None,
) -> np.ndarray:
    """(N, 2048) pool3 features (RGB in [0, 1]) of every frame of the videos, or with ``detector`` of every face
    crop (see face_crops), computed batch by batch."""
    feats = []
    bar = tqdm(desc=desc, unit="frame", disable=not progress)

    def flush(batch: list) -> None:
        x = torch.from_numpy(np.stack(batch)[..., ::-1].astype(np.float32) / 255.0).permute(0, 3, 1, 2)
        with torch.inference_mode():
            feats.append(model(x.to(device))[0].squeeze(-1).squeeze(-1).double().cpu().numpy())
        bar.update(len(batch))

    for path in videos:
        batch: list = []
        frames = face_crops(path, detector, max_frames) if detector is not None else iter_frames(path, limit=max_frames)
        for frame in frames:
            batch.append(frame)
            if len(batch) == batch_size:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
    bar.close()
    if not feats:
        raise UserError("no frames to compute FID on")
    return np.concatenate(feats)


def frechet_distance(real: np.ndarray, generated: np.ndarray) -> float:
    """FID between two feature sets: pytorch-fid's formula, or its eigenvalue form when frames are too few."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    if len(real) < 2 or len(generated) < 2:
        raise UserError("FID needs at least two frames on each side")
    mu1, s1 = real.mean(0), np.cov(real, rowvar=False)
    mu2, s2 = generated.mean(0), np.cov(generated, rowvar=False)
    if min(len(real), len(generated)) > real.shape[1]:
        try:
            return float(calculate_frechet_distance(mu1, s1, mu2, s2))
        except ValueError:
            pass
    else:
        print(f"warning: fewer frames than feature dimensions ({real.shape[1]}): the FID estimate is unstable")
    # Rank-deficient covariances defeat sqrtm. tr sqrt(s1 s2) = tr sqrt(r s2 r) with r = s1^(1/2), and r s2 r is
    # symmetric positive semi-definite, so symmetric eigen-decompositions give it stably.
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(root @ s2 @ root), 0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt)
