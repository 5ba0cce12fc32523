"""How a generated face goes back into its frame: the original's hard paste, or a soft mask that hides the box.

``hard`` writes the resized face over the whole box, edges and all (the original; bit for bit). ``feather``
weighs the face against the frame with a mask that is 1 inside the box and falls smoothly to 0 over a border of
``FEATHER`` of the box's shorter side, with rounded corners; EmoGen regenerates the whole face, and the upper
face carries the emotion, so all of the box's inside still comes from the generator. ``feather-color`` also
shifts the generated crop's mean colour, per channel, to that of the frame under the mask's border ring, which
removes a tint the generator may give the skin. With a Wav2Lip generator, which regenerates only the lower half
of the crop, the soft blends also fall to 0 across the crop's middle (``lower_face_mask``), so the frame's own,
sharper upper face stays. The measurements that chose the default are in docs/benchmarks.md
(bench/bench_blend.py).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

BLENDS = ("hard", "feather", "feather-color")
DEFAULT_BLEND = "feather"
FEATHER = 0.15  # share of the box's shorter side over which the mask falls from 1 to 0


def add_blend_argument(p, default: str = DEFAULT_BLEND) -> None:
    """The --blend option of the scripts that render (inference.py, live.py, app.py, gen_videos_from_filelist.py)."""
    p.add_argument(
        "--blend",
        choices=BLENDS,
        default=default,
        help=f"how the generated face goes back into the frame (default {default}): hard = the original's paste "
        f"of the whole box, edges and all; feather = a soft mask, 1 inside the box and falling to 0 over "
        f"{FEATHER * 100:.0f}%% of its shorter side with rounded corners, so no seam shows; feather-color = feather, "
        "with the face's mean colour matched to the frame around it",
    )


@lru_cache(maxsize=64)
def feather_mask(height: int, width: int, share: float = FEATHER) -> np.ndarray:
    """(height, width, 1) float32 weights: 1 inside, a smoothstep to 0 across a border of ``share`` of the
    shorter side; the product of the two 1-D ramps rounds the corners."""
    border = max(1.0, share * min(height, width))

    def ramp(n: int) -> np.ndarray:
        i = np.arange(n, dtype=np.float32) + 0.5
        t = np.clip(np.minimum(i, n - i) / border, 0.0, 1.0)
        return t * t * (3.0 - 2.0 * t)

    mask = ramp(height)[:, None] * ramp(width)[None, :]
    mask.setflags(write=False)
    return mask[..., None]


@lru_cache(maxsize=64)
def lower_face_mask(height: int, width: int, share: float = FEATHER) -> np.ndarray:
    """``feather_mask`` times a smoothstep across the crop's middle row (0 above, 1 below, over the same border
    width): the part of a Wav2Lip crop its generator regenerates, with no seam at the middle."""
    border = max(1.0, share * min(height, width))
    rows = np.arange(height, dtype=np.float32) + 0.5
    t = np.clip((rows - (height / 2.0 - border / 2.0)) / border, 0.0, 1.0)
    mask = feather_mask(height, width, share) * (t * t * (3.0 - 2.0 * t))[:, None, None]
    mask.setflags(write=False)
    return mask


def match_color(face: np.ndarray, region: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``face`` (float32 BGR) shifted per channel so its mean under the mask's border ring equals the frame's."""
    ring = ((mask[..., 0] > 0.02) & (mask[..., 0] < 0.98))[..., None]
    if not ring.any():
        return face
    weight = ring.sum()
    shift = ((region * ring).sum(axis=(0, 1)) - (face * ring).sum(axis=(0, 1))) / weight
    return face + shift.astype(np.float32)


def blend_into(
    frame: np.ndarray, face: np.ndarray, coords: tuple[int, int, int, int], blend: str, lower_half: bool = False
) -> None:
    """Write ``face`` (uint8, already the box's size) into ``frame``'s box with ``blend``, in place;
    ``lower_half``: only the lower face came from the generator (Wav2Lip), so a soft blend keeps the upper one."""
    y1, y2, x1, x2 = coords
    if blend == "hard":
        frame[y1:y2, x1:x2] = face
        return
    region = frame[y1:y2, x1:x2].astype(np.float32)
    mask = (lower_face_mask if lower_half else feather_mask)(y2 - y1, x2 - x1)
    generated = face.astype(np.float32)
    if blend == "feather-color":
        generated = match_color(generated, region, mask)
    mixed = region + mask * (generated - region)
    frame[y1:y2, x1:x2] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def resize_face(generated: np.ndarray, height: int, width: int) -> np.ndarray:
    """The generator's (96, 96, 3) float face in [0, 1] as uint8 at the box's size, cast and resized as the
    original does (truncation, then bilinear resize)."""
    return cv2.resize((generated * 255.0).astype(np.uint8), (width, height))
