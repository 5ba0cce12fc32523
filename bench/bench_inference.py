"""Inference speed and memory on CPU (or CUDA) with a generator in the official layout (random weights: speed only).

    python bench/bench_inference.py [--video PATH] [--audio PATH] [--long_seconds 60] [--memory_only]

Reports: the machine's float32 matrix-multiply rate, generator FLOPs per frame and frames/s (and the fraction
of the matmul rate it reaches), face-detection frames/s, end-to-end frames/s, and the peak memory of whole
inference runs on a short and a long 720p input (memory must not grow with length).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import torch

from common import ROOT, shared_dir

from models import Wav2Lip


def matmul_gflops(seconds: float = 2.0, repeats: int = 3) -> float:
    """Best of ``repeats`` timings of float32 2048x2048 products, after a warm-up."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    rates = []
    for _ in range(repeats + 1):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            a @ b
            n += 1
        rates.append(2 * 2048 ** 3 * n / (time.perf_counter() - start) / 1e9)
    return max(rates[1:])  # the first round only warms up


def generator_flops() -> float:
    from torch.utils.flop_counter import FlopCounterMode

    model = Wav2Lip().eval()
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 1, 80, 16), torch.rand(1, 6, 96, 96), torch.eye(6)[:1])
    return counter.get_total_flops() / 1e9


def generator_fps(batch: int, seconds: float = 3.0, repeats: int = 3) -> float:
    """Best of ``repeats`` timed rounds of generator forward passes (after one warm-up batch)."""
    model = Wav2Lip().eval()
    mel, face, emo = torch.randn(batch, 1, 80, 16), torch.rand(batch, 6, 96, 96), torch.eye(6)[[3] * batch]
    rates = []
    with torch.inference_mode():
        model(mel, face, emo)
        for _ in range(repeats):
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                model(mel, face, emo)
                n += batch
            rates.append(n / (time.perf_counter() - start))
    return max(rates)


# Runs inference.py as __main__ in a fresh interpreter and reports that process's own peak RSS at exit.
_WRAPPER = """
import resource, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run_child(args: list[str]) -> tuple[float, float, str]:
    """Run inference.py in a child; return (wall seconds, peak RSS MiB of that run, its 'wrote' line)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, str(ROOT / "inference.py"), *args, "--no_progress"],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    peak_kb = int(next(ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("PEAK_RSS_KB")))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("wrote")]
    return wall, peak_kb / 1024, lines[-1] if lines else ""


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(shared_dir() / "data/video/face3.mp4"), help="face video")
    parser.add_argument("--audio", default=str(shared_dir() / "data/audio/speech_en_16k.wav"), help="speech")
    parser.add_argument("--long_seconds", type=int, default=60, help="length of the long 720p memory test")
    parser.add_argument("--batch", type=int, default=32, help="generator batch size")
    parser.add_argument("--memory_only", action="store_true",
                        help="skip the speed measures; run only the 10 s vs --long_seconds memory comparison")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu")
    if args.memory_only:
        with tempfile.TemporaryDirectory() as d:
            memory_against_length(args, d, save_random_generator(d))
        return
    rate = matmul_gflops()
    flops = generator_flops()
    fps = generator_fps(args.batch)
    print(f"matmul rate: {rate:.1f} GFLOP/s (float32 2048x2048)")
    print(f"generator: {flops:.2f} GFLOP/frame, {fps:.1f} frames/s at batch {args.batch} "
          f"= {fps * flops:.1f} GFLOP/s, {100 * fps * flops / rate:.0f}% of the matmul rate")

    with tempfile.TemporaryDirectory() as d:
        ckpt = save_random_generator(d)
        common = ["--checkpoint_path", ckpt, "--audio", args.audio, "--emotion", "HAP",
                  "--detection_cache_dir", os.path.join(d, "cache"), "--face_detector", "opencv"]
        wall, peak, line = run_child(common + ["--face", args.video, "--outfile", os.path.join(d, "a.mp4")])
        frames = int(line.split(": ")[1].split(" ")[0])
        print(f"end to end (opencv detection, {frames} frames): {frames / wall:.1f} frames/s incl. start-up, "
              f"peak RSS {peak:.0f} MiB")
        wall2, _, _ = run_child(common + ["--face", args.video, "--outfile", os.path.join(d, "b.mp4")])
        print(f"same face again (detection cache hit): {frames / wall2:.1f} frames/s end to end")
        memory_against_length(args, d, ckpt)


def save_random_generator(folder: str) -> str:
    """Write a generator checkpoint in the official layout (random weights) and return its path."""
    ckpt = os.path.join(folder, "gen.pth")
    torch.save({"state_dict": Wav2Lip().state_dict()}, ckpt)
    return ckpt


def memory_against_length(args: argparse.Namespace, d: str, ckpt: str) -> None:
    """Peak RSS of whole runs on a 10 s and a long 720p input with matching audio, fixed box (no detection)."""
    for seconds in (10, args.long_seconds):
        video = os.path.join(d, f"v{seconds}.mp4")
        speech = os.path.join(d, f"a{seconds}.wav")
        ffmpeg("-stream_loop", "-1", "-i", args.video, "-t", str(seconds), "-vf", "scale=1280:720",
               "-c:v", "libx264", "-preset", "ultrafast", video)
        ffmpeg("-stream_loop", "-1", "-i", args.audio, "-t", str(seconds), "-ar", "16000", "-ac", "1", speech)
        cmd = ["--checkpoint_path", ckpt, "--face", video, "--audio", speech, "--emotion", "SAD", "--box",
               "100", "600", "400", "900", "--outfile", os.path.join(d, f"o{seconds}.mp4")]
        wall, peak, line = run_child(cmd)
        print(f"720p {seconds:4d} s input: peak RSS {peak:.0f} MiB, {line.split(': ')[1].split(',')[0]} "
              f"in {wall:.0f} s")


if __name__ == "__main__":
    main()
