"""Speed of --enhance: each restoration network at its published size, with seeded weights (speed only).

    python bench/bench_enhance.py [--archs GFPGAN RestoreFormer RealESRGAN_x4plus] [--frames 16] [--end_to_end]

Per architecture: milliseconds per generated face for the network alone (96 px faces in, batches of 8 as the
renderer passes them), and with --end_to_end the whole inference run on face3.mp4 (fixed box, the first second
of its own speech, the default runtime and blend) with and without the enhancer, as ms per output frame.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time

import numpy as np
import torch
from common import machine_line, peak_rss_mb, shared_dir

from emogen.inference.enhance import load_enhancer

FACE3_BOX = (102, 473, 152, 447)


def build(arch: str) -> dict:
    """A state_dict in the published layout of ``arch`` with deterministic values."""
    if arch == "GFPGAN":
        from spandrel.architectures.GFPGAN import GFPGAN

        module, wrap = GFPGAN(), "params_ema"  # GFPGANv1.4.pth's layout
    elif arch == "RestoreFormer":
        from spandrel.architectures.RestoreFormer import RestoreFormer

        module, wrap = RestoreFormer(), None
    elif arch == "RealESRGAN_x4plus":
        from spandrel.architectures.ESRGAN import ESRGAN

        module, wrap = ESRGAN(num_filters=64, num_blocks=23, scale=4), "params_ema"
    else:
        raise SystemExit(f"unknown architecture {arch}")
    g = torch.Generator().manual_seed(0)
    state = {
        k: (torch.randn(v.shape, generator=g) * 0.02 if v.is_floating_point() else v)
        for k, v in module.state_dict().items()
    }
    return {wrap: state} if wrap else state


def network_ms(path: str, frames: int, batch: int) -> tuple[str, int, float]:
    enhancer = load_enhancer(path, "cpu")
    faces = np.random.default_rng(0).random((batch, 96, 96, 3), dtype=np.float32)
    enhancer.enhance(faces[:1])  # warm-up
    start = time.perf_counter()
    done = 0
    while done < frames:
        done += len(enhancer.enhance(faces))
    return enhancer.name, enhancer.input_side, 1000 * (time.perf_counter() - start) / done


def end_to_end_ms(generator: str, enhance: str | None, workdir: str) -> float:
    from emogen.inference.options import InferenceOptions
    from emogen.inference.pipeline import run_inference

    data = shared_dir() / "data"
    speech = os.path.join(workdir, "speech.wav")
    if not os.path.exists(speech):  # the first second of face3's own speech: 25 frames
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(data / "video/face3.mp4"), "-t", "1", speech]
        subprocess.run(cmd, check=True)
    opts = InferenceOptions(
        generator,
        face=str(data / "video/face3.mp4"),
        audio=speech,
        emotion="HAP",
        outfile=os.path.join(workdir, "out.mp4"),
        box=FACE3_BOX,
        progress=False,
        cache_dir=None,
        max_seconds=None,
        enhance=enhance,
    )
    start = time.perf_counter()
    result = run_inference(opts)[0]
    return 1000 * (time.perf_counter() - start) / result.frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--archs",
        nargs="+",
        default=["GFPGAN", "RestoreFormer", "RealESRGAN_x4plus"],
        help="architectures to time (GFPGAN, RestoreFormer, RealESRGAN_x4plus)",
    )
    parser.add_argument("--frames", type=int, default=8, help="faces timed per architecture (default 8)")
    parser.add_argument("--batch", type=int, default=8, help="faces per network call (default 8, as rendered)")
    parser.add_argument(
        "--end_to_end", action="store_true", help="also time whole inference runs on face3.mp4 with each enhancer"
    )
    args = parser.parse_args()
    print(machine_line(), f"torch threads {torch.get_num_threads()}")
    print("| network | input px | ms per face (network) |" + (" ms per frame (run) |" if args.end_to_end else ""))
    print("|---|---|---|" + ("---|" if args.end_to_end else ""))
    with tempfile.TemporaryDirectory() as workdir:
        generator = os.path.join(workdir, "emogen.pth")
        if args.end_to_end:
            from emogen.common.reference_data import seeded_state_dict

            torch.save({"state_dict": seeded_state_dict("emogen_generator")}, generator)
            print(f"| (no enhancer) | - | - | {end_to_end_ms(generator, None, workdir):.0f} |", flush=True)
        for arch in args.archs:
            path = os.path.join(workdir, f"{arch}.pth")
            torch.save(build(arch), path)
            name, side, ms = network_ms(path, args.frames, args.batch)
            row = f"| {arch} ({name}) | {side} | {ms:.0f} |"
            if args.end_to_end:
                row += f" {end_to_end_ms(generator, path, workdir):.0f} |"
            print(row, flush=True)
            os.remove(path)
    print(f"peak RSS {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
