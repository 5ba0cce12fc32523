"""How each blend puts the generated face back: seam, fidelity to the real frames, sharpness, time per frame.

    python bench/bench_blend.py [--generator PATH] [--blends hard feather feather-color] [--picture docs/x.png]

Two inputs, each rendered from its own speech so the real frames are the ground truth: face3.mp4 with a fixed
box (102 473 152 447), and the demo's held-out frames (demo_run/heldout/heldout.mp4, boxes from the
download-free detector, as the demo renders them). The generator is the one a default ``python3 demo.py`` run
trained (demo_run/checkpoints/generator), unless --generator names another. For every blend: the seam ratio at
the box's border (evaluation/metrics/blend_quality.py; real frames about 1), whole-frame and face-box PSNR and
SSIM against the real frames (grey), the variance of the Laplacian inside the box, the whole run's time per
frame and the blend's own time per frame.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import cv2
import numpy as np
from common import ROOT, machine_line, shared_dir

from emogen.apps.heldout import heldout_boxes
from emogen.apps.stages import DEFAULT_WORK_DIR
from emogen.common.media import iter_frames
from emogen.inference.blending import BLENDS, DEFAULT_BLEND, blend_into
from emogen.inference.options import InferenceOptions
from emogen.inference.pipeline import generator_for, run_inference
from emogen.inference.plan import resolve_runtime
from emogen.training.checkpoint_files import latest_checkpoint
from evaluation.metrics.blend_quality import laplacian_variance, seam_ratio
from evaluation.metrics.image_quality import psnr, ssim

FACE3_BOX = (102, 473, 152, 447)  # top bottom left right


def grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def score(real: list, made: list, boxes: list) -> dict:
    """Means over the frames (seam: mean and range) of every measure, against the real frames."""
    rows = {k: [] for k in ("seam", "psnr", "ssim", "box_psnr", "box_ssim", "sharp")}
    for r, m, b in zip(real, made, boxes):
        if b is None:
            continue
        y1, y2, x1, x2 = b
        rows["seam"].append(seam_ratio(m, b))
        rows["psnr"].append(psnr(grey(r), grey(m)))
        rows["ssim"].append(ssim(grey(r), grey(m)))
        rows["box_psnr"].append(psnr(grey(r)[y1:y2, x1:x2], grey(m)[y1:y2, x1:x2]))
        rows["box_ssim"].append(ssim(grey(r)[y1:y2, x1:x2], grey(m)[y1:y2, x1:x2]))
        rows["sharp"].append(laplacian_variance(m, b))
    out = {k: float(np.mean(v)) for k, v in rows.items()}
    out["seam_min"], out["seam_max"] = float(np.min(rows["seam"])), float(np.max(rows["seam"]))
    return out


def blend_ms(frame: np.ndarray, box: tuple, blend: str, repeats: int = 50) -> float:
    """The blend's own cost per frame (the face already resized), in milliseconds."""
    y1, y2, x1, x2 = box
    face = cv2.GaussianBlur(frame[y1:y2, x1:x2], (5, 5), 0)
    target = frame.copy()
    start = time.perf_counter()
    for _ in range(repeats):
        blend_into(target, face, box, blend)
    return (time.perf_counter() - start) / repeats * 1000


def render(generator, model, face: str, blend: str, box, detector: str, cache: str, out: str) -> tuple[list, float]:
    opts = InferenceOptions(
        generator,
        face,
        face,
        "NEU",
        outfile=out,
        box=box,
        face_detector=detector,
        cache_dir=cache,
        blend=blend,
        progress=False,
    )
    start = time.perf_counter()
    [result] = run_inference(opts, model)
    seconds = time.perf_counter() - start
    return list(iter_frames(out)), seconds / result.frames * 1000


def picture(path: str, real: np.ndarray, rows: dict, box: tuple) -> None:
    """hard | the default blend | the real frame, cropped around the box with a margin."""
    y1, y2, x1, x2 = box
    m = (y2 - y1) // 5
    crop = (slice(max(0, y1 - m), y2 + m), slice(max(0, x1 - m), x2 + m))
    tiles = [rows["hard"][crop], rows[DEFAULT_BLEND][crop], real[crop]]
    for tile, label in zip(tiles, ("hard (the original)", f"{DEFAULT_BLEND} (default)", "real frame")):
        cv2.putText(tile, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    cv2.imwrite(path, np.concatenate(tiles, axis=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default=None, help="generator checkpoint (default: the demo's latest)")
    parser.add_argument("--blends", nargs="+", default=list(BLENDS), choices=BLENDS, help="blends to compare")
    parser.add_argument("--detector", default="dlib", help="face detector for the held-out frames (default dlib)")
    parser.add_argument("--picture", default=None, help="write hard | default | real of face3 frame 40 here (PNG)")
    args = parser.parse_args()
    generator = args.generator or latest_checkpoint(os.path.join(DEFAULT_WORK_DIR, "checkpoints", "generator"))
    if not generator:
        raise SystemExit("no generator: run python3 demo.py first, or pass --generator")
    heldout = os.path.join(DEFAULT_WORK_DIR, "heldout", "heldout.mp4")
    print(machine_line())
    print(f"generator {os.path.relpath(generator, ROOT) if generator.startswith(str(ROOT)) else generator}")
    with tempfile.TemporaryDirectory(prefix="emogen-bench-blend-") as work:
        cache = os.path.join(work, "cache")
        model = generator_for(generator, resolve_runtime(InferenceOptions(generator, "", "", "NEU", progress=False)))
        cases = [("face3.mp4, fixed box", str(shared_dir() / "data/video/face3.mp4"), FACE3_BOX)]
        if os.path.isfile(heldout):
            cases.append(("demo held-out frames", heldout, None))
        for title, face, box in cases:
            real = list(iter_frames(face))
            boxes = [FACE3_BOX] * len(real) if box else heldout_boxes(face, args.detector, cache)
            print(
                f"\n{title}: {len(real)} frames; real frames: seam {np.mean([seam_ratio(f, b) for f, b in zip(real, boxes) if b]):.2f}, "
                f"sharpness {np.mean([laplacian_variance(f, b) for f, b in zip(real, boxes) if b]):.1f}"
            )
            print(
                "| blend | seam ratio (range) | PSNR dB | SSIM | face-box PSNR dB | face-box SSIM | sharpness | ms/frame run | ms/frame blend |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            made = {}
            for blend in args.blends:
                frames, per_frame = render(
                    generator, model, face, blend, box, args.detector, cache, os.path.join(work, f"{blend}.mp4")
                )
                made[blend] = frames
                s = score(real, frames, boxes)
                first = next(b for b in boxes if b is not None)
                print(
                    f"| {blend} | {s['seam']:.2f} ({s['seam_min']:.2f}-{s['seam_max']:.2f}) | {s['psnr']:.2f} | "
                    f"{s['ssim']:.4f} | {s['box_psnr']:.2f} | {s['box_ssim']:.4f} | {s['sharp']:.1f} | "
                    f"{per_frame:.1f} | {blend_ms(real[0], first, blend):.2f} |"
                )
            if args.picture and box and {"hard", DEFAULT_BLEND} <= set(made):
                k = min(40, len(real) - 1)
                picture(args.picture, real[k].copy(), {b: f[k].copy() for b, f in made.items()}, box)
                print(f"picture: {args.picture}")


if __name__ == "__main__":
    main()
