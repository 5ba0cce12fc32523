"""The original's inference geometry: mel chunks per frame, face boxes (pads, smoothing, gaps), crop and paste.

Everything here must stay exactly as the original does it: the released generator was trained on it.
"""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from emogen.common.contract import MEL_STEP_SIZE, WINDOW, Box, Coords, interpolate_box, mask_mouth, mel_index
from emogen.common.errors import UserError

from .blending import blend_into, resize_face


def mel_chunk_starts(mel_frames: int, fps: float) -> list[int]:
    """Start index of the 16-step mel window of every output frame: int(i * 80 / fps); the last is the final window."""
    if mel_frames < MEL_STEP_SIZE:
        raise UserError(
            f"the audio is too short: it gives {mel_frames} mel steps and one frame needs "
            f"{MEL_STEP_SIZE} (0.2 s); use a longer audio file"
        )
    starts = []
    i = 0
    while True:
        start = mel_index(i, fps)
        if start + MEL_STEP_SIZE > mel_frames:
            starts.append(mel_frames - MEL_STEP_SIZE)
            return starts
        starts.append(start)
        i += 1


def mel_chunks(mel: np.ndarray, fps: float) -> list[np.ndarray]:
    """The (80, 16) mel window of every output frame."""
    return [mel[:, s : s + MEL_STEP_SIZE] for s in mel_chunk_starts(mel.shape[1], fps)]


def pad_box(box: Box, pads: Sequence[int], frame_shape: Sequence[int]) -> Box:
    """Apply pads (top, bottom, left, right) to an (x1, y1, x2, y2) box and clip it to the frame."""
    pady1, pady2, padx1, padx2 = pads
    x1, y1, x2, y2 = box
    return (max(0, x1 - padx1), max(0, y1 - pady1), min(frame_shape[1], x2 + padx2), min(frame_shape[0], y2 + pady2))


def smooth_boxes(boxes: np.ndarray, T: int = WINDOW) -> np.ndarray:
    """Replace each box by the mean of it and the next T-1 (the last window clamped at the end), as the original.

    Like the original, boxes are replaced in place, so a clamped tail window averages some already smoothed boxes.
    """
    boxes = np.asarray(boxes, dtype=np.float64).copy()
    n = len(boxes)
    for i in range(n):
        window = boxes[n - T :] if i + T > n else boxes[i : i + T]
        boxes[i] = np.mean(window, axis=0)
    return boxes


def fill_gaps(boxes: Sequence[Optional[Box]], max_gap: int) -> tuple[list[Optional[Box]], int]:
    """Fill runs of missing boxes no longer than ``max_gap`` from the boxes on either side; return (boxes, filled).

    An inner gap is interpolated linearly; a gap at the start or end (one neighbour only) holds that neighbour.
    Longer gaps stay empty.
    """
    out = list(boxes)
    filled = 0
    n = len(out)
    i = 0
    while i < n:
        if out[i] is not None:
            i += 1
            continue
        j = i
        while j < n and out[j] is None:
            j += 1
        length = j - i
        before = out[i - 1] if i > 0 else None
        after = out[j] if j < n else None
        if length <= max_gap and (before is not None or after is not None):
            for k in range(i, j):
                if before is not None and after is not None:
                    out[k] = interpolate_box(before, after, (k - i + 1) / (length + 1))
                else:
                    out[k] = before if before is not None else after
            filled += length
        i = j
    return out, filled


def crop_coords(
    raw_boxes: Sequence[Optional[Box]], frame_shape: Sequence[int], pads: Sequence[int], nosmooth: bool
) -> list[Optional[Coords]]:
    """Padded, (optionally) smoothed crop coordinates (y1, y2, x1, x2) per frame; None stays None.

    Smoothing runs over each contiguous stretch of frames with a face, which is the original's behaviour when
    every frame has one.
    """
    padded = [pad_box(b, pads, frame_shape) if b is not None else None for b in raw_boxes]
    coords: list[Optional[Coords]] = [None] * len(padded)
    i = 0
    while i < len(padded):
        if padded[i] is None:
            i += 1
            continue
        j = i
        while j < len(padded) and padded[j] is not None:
            j += 1
        segment = np.array(padded[i:j], dtype=np.float64)
        if not nosmooth:
            segment = smooth_boxes(segment)
        for k, (x1, y1, x2, y2) in enumerate(segment.astype(int)):
            coords[i + k] = (int(y1), int(y2), int(x1), int(x2))
        i = j
    return coords


def generator_inputs(
    faces: Sequence[np.ndarray],
    mels: Sequence[np.ndarray],
    img_size: int,
    lower_half: bool = False,
    references: Optional[Sequence[Optional[np.ndarray]]] = None,
    mask_reference_mouth: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Batch arrays: mels (N,1,80,16), faces (N,6,96,96) = [masked crop, reference] BGR in [0,1]. EmoGen masks the
    whole crop (three zeros); Wav2Lip (``lower_half``) zeroes only its lower half, rows img_size // 2 and down,
    and regenerates that part. The reference is the crop itself, as the original, unless ``references`` gives
    another crop for a face (None keeps its own); ``mask_reference_mouth`` zeroes its MOUTH_REGION.

    The face array is an NCHW view of NHWC memory, the layout both originals give their tensor (EmoGen's
    permute-and-concatenate, Wav2Lip's torch.FloatTensor of the transposed array); torch.from_numpy keeps those strides, so a float32 model in the default layout reproduces the
    original's numbers exactly, and an OpenVINO network takes the same arrays without torch.
    """
    crops = np.stack([cv2.resize(f, (img_size, img_size)) for f in faces]).astype(np.float32) / 255.0
    nhwc = np.zeros(crops.shape[:3] + (2 * crops.shape[3],), np.float32)
    refs = crops
    if references is not None and any(r is not None for r in references):
        refs = crops.copy()
        for i, r in enumerate(references):
            if r is not None:
                refs[i] = cv2.resize(r, (img_size, img_size)).astype(np.float32) / 255.0
    nhwc[..., crops.shape[3] :] = mask_mouth(refs) if mask_reference_mouth else refs
    mel = np.stack(mels).astype(np.float32)[:, None]
    if lower_half:
        nhwc[:, : img_size // 2, :, : crops.shape[3]] = crops[:, : img_size // 2]
        # Wav2Lip's inference.py gives its mels a trailing channel axis, then moves it forward: a (N,1,80,16) view
        # whose strides torch reads as channels_last, which picks other (equally valid) float32 kernels.
        mel = mel.reshape(len(mel), mel.shape[2], mel.shape[3], 1).transpose(0, 3, 1, 2)
    return mel, nhwc.transpose(0, 3, 1, 2)


def paste(
    frame: np.ndarray, generated: np.ndarray, coords: Coords, blend: str = "hard", lower_half: bool = False
) -> np.ndarray:
    """Resize a generated face (96,96,3 float in [0,1]) back to its box and put it into ``frame`` in place:
    ``hard`` is the original's paste, bit for bit; the other blends are in emogen.inference.blending
    (``lower_half``: a Wav2Lip generator's output, whose upper half the soft blends leave to the frame)."""
    y1, y2, x1, x2 = coords
    blend_into(frame, resize_face(generated, y2 - y1, x2 - x1), coords, blend, lower_half)
    return frame
