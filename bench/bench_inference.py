"""Inference speed and memory: today's exact path (fp32, serial) beside the new defaults, on the shared videos.

    python bench/bench_inference.py [--device cpu|cuda] [--seconds 30] [--skip_memory] [--memory_only]

Generator weights have the official layout (seeded from ../shared/spec; speed does not depend on the values).
Reports: generator frames/s per precision; how far each precision's output is from float32 (PSNR inside the
face box, per emotion, on two shared videos); end-to-end frames/s, time to first frame and peak RSS of whole
inference runs on a --seconds long speech over the 8 s face6 clip (fixed box), for today's path
(--precision fp32 --serial), fp32 pipelined and the defaults; one emotion against all six; the encoder alone (decode +
encode, no generator) as the ceiling; a cold start (fresh HOME, no caches) against a second run; and peak
memory on a short and a long 720p input.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from common import ROOT, shared_dir

sys.path.insert(0, str(ROOT / "tests"))
from emogen.common.contract import EMOTIONS  # noqa: E402
from emogen.common.media import VideoWriter, choose_encoder, iter_frames  # noqa: E402
from emogen.common.precision import Precision, native_bf16, resolve_precision  # noqa: E402
from emogen.inference.renderer import RenderOutput, RenderSettings, make_batches, one_hot_tensor, prepare_model, render  # noqa: E402
from models import Wav2Lip  # noqa: E402
from shared_data import seeded_state_dict  # noqa: E402

FACE6_BOX = ["107", "484", "98", "406"]  # top bottom left right: dlib's box of face6.mp4 (512x512), frame 0


def seeded_generator() -> Wav2Lip:
    """The generator with seed-11 weights in the official layout."""
    model = Wav2Lip().eval()
    model.load_state_dict(seeded_state_dict("emogen_generator"))
    return model


def generator_fps(device: torch.device, batch: int, precision: Precision, seconds: float = 3.0) -> float:
    """Best of 3 timed rounds of generator forward passes, inputs laid out as the pipeline builds them."""
    model = prepare_model(seeded_generator().to(device), precision)
    dtype = precision.dtype
    mel = torch.randn(batch, 1, 80, 16, device=device)
    face = torch.rand(batch, 6, 96, 96, device=device).contiguous(memory_format=torch.channels_last)
    emo = torch.eye(6, device=device)[[3] * batch]
    ctx = torch.autocast(device.type, dtype=dtype) if dtype is not None else torch.inference_mode()
    rates = []
    with torch.inference_mode(), ctx:
        model(mel, face, emo)
        for _ in range(3):
            if device.type == "cuda":
                torch.cuda.synchronize()
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                model(mel, face, emo)
                n += batch
            if device.type == "cuda":
                torch.cuda.synchronize()
            rates.append(n / (time.perf_counter() - start))
    return max(rates)


class FrameList:
    """Keeps rendered frames instead of encoding them."""

    def __init__(self):
        self.frames = []

    def write(self, frame):
        self.frames.append(frame)


def precision_psnr(device: torch.device, precisions: list[Precision], box_for: dict, seconds: float = 2.0) -> dict:
    """PSNR (dB) of each precision's output against float32 inside the face box, per shared video and emotion;
    the float32 reference is rendered once per video."""
    model = seeded_generator().to(device)
    out = {}
    for name, box in box_for.items():
        frames = list(iter_frames(str(shared_dir() / f"data/video/{name}.mp4"), limit=int(25 * seconds)))
        mel = np.random.default_rng(0).normal(0, 1, (80, len(frames) * 4 + 16)).astype(np.float32)
        starts = [4 * i for i in range(len(frames))]
        coords = [tuple(box)] * len(frames)
        results = {}
        for p in [resolve_precision("fp32", device), *precisions]:
            settings = RenderSettings(device, 32, p.dtype, True, progress=False)
            outputs = [RenderOutput(e, e, FrameList(), one_hot_tensor(e)) for e in EMOTIONS]
            render(prepare_model(model, p), make_batches((f.copy() for f in frames), coords, False, mel,
                   starts, 96, settings), outputs, len(frames), settings, {}, 0.0)
            results[p.name] = {o.emotion: np.stack(o.writer.frames) for o in outputs}
        y1, y2, x1, x2 = box
        for p in precisions:
            for e in EMOTIONS:
                a = results["fp32"][e][:, y1:y2, x1:x2].astype(np.float64)
                b = results[p.name][e][:, y1:y2, x1:x2].astype(np.float64)
                mse = float(np.mean((a - b) ** 2))
                out[(p.name, name, e)] = float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)
    return out


# Runs inference.py as __main__ in a fresh interpreter and reports that process's own peak RSS at exit.
_WRAPPER = """
import resource, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run_child(args: list[str], env: dict | None = None) -> dict:
    """Run inference.py in a child: wall seconds, peak RSS MiB, frames, first-frame seconds."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, str(ROOT / "inference.py"), *args, "--no_progress"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    peak_kb = int(next(ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("PEAK_RSS_KB")))
    wrote = [ln for ln in proc.stdout.splitlines() if ln.startswith("wrote")]
    timing = next(ln for ln in proc.stdout.splitlines() if ln.startswith("timings:"))
    first = float(timing.split("first frame ")[1].split(" s")[0]) if "first frame" in timing else float("nan")
    return {"wall": wall, "peak": peak_kb / 1024, "frames": int(wrote[-1].split(": ")[1].split(" ")[0]),
            "first": first, "outputs": len(wrote)}


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly, failing loudly."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def encoder_alone_fps(video: str, frames_wanted: int, device: torch.device, out: str) -> float:
    """Decode the face video (looping) and encode it with the encoder inference would pick: the ceiling."""
    first = next(iter_frames(video, limit=1))
    h, w = first.shape[:2]
    writer = VideoWriter(out, w, h, 25.0, encoder=choose_encoder("auto", device.type))
    start, n = time.perf_counter(), 0
    while n < frames_wanted:
        for frame in iter_frames(video):
            writer.write(frame)
            n += 1
            if n >= frames_wanted:
                break
    writer.close()
    return n / (time.perf_counter() - start)


def get_args_parser() -> argparse.ArgumentParser:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the speech for the end-to-end runs")
    p.add_argument("--video", default=None, help="face video for the end-to-end runs (default face6.mp4, fixed box)")
    p.add_argument("--box", nargs=4, default=None, help="fixed box for --video (top bottom left right)")
    p.add_argument("--long_seconds", type=int, default=60, help="length of the long 720p memory test")
    p.add_argument("--skip_memory", action="store_true", help="skip the 720p memory comparison")
    p.add_argument("--memory_only", action="store_true", help="run only the 720p memory comparison")
    p.add_argument("--skip_psnr", action="store_true", help="skip the precision PSNR table")
    return p


def main(argv=None) -> int:
    """Run the measures."""
    args = get_args_parser().parse_args(argv)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}"
          + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else ""))
    with tempfile.TemporaryDirectory() as d:
        ckpt = os.path.join(d, "gen.pth")
        torch.save({"state_dict": seeded_state_dict("emogen_generator")}, ckpt)
        if not args.memory_only:
            speed(args, device, d, ckpt)
        if not args.skip_memory:
            memory_against_length(args, d, ckpt)
    return 0


def speed(args, device, d: str, ckpt: str) -> None:
    """Generator rates, precision PSNR, end-to-end runs, encoder ceiling, cold start."""
    batch = 256 if device.type == "cuda" else 32
    native = native_bf16(device)
    auto = resolve_precision("auto", device).name
    print(f"\n--precision auto here: {auto} (native bf16: {native})")
    print(f"generator alone, batch {batch}:")
    names = ["fp32", "fp32-cl", "bf16"] + (["fp16"] if device.type == "cuda" else [])
    precisions = [resolve_precision(name, device) for name in names]
    for p in precisions:
        print(f"  {p.name}: {generator_fps(device, batch, p):.1f} frames/s")

    if not args.skip_psnr:
        boxes = {"face3": (150, 470, 140, 450), "face6": tuple(int(v) for v in FACE6_BOX)}
        compared = [p for p in precisions[1:] if native or p.name != "bf16"]
        if not native:
            print("\nPSNR of bf16 skipped: emulated on this device (the README's table comes from a device "
                  "with native bf16)")
        psnr = precision_psnr(device, compared, boxes)
        for p in compared:
            print(f"\nPSNR of {p.name} against fp32 inside the face box (dB):")
            print("| video | " + " | ".join(EMOTIONS) + " |")
            for name in boxes:
                print(f"| {name} | " + " | ".join(f"{psnr[(p.name, name, e)]:.1f}" for e in EMOTIONS) + " |")

    video = args.video or str(shared_dir() / "data/video/face6.mp4")
    box = args.box or FACE6_BOX
    speech = os.path.join(d, "speech.wav")
    ffmpeg("-stream_loop", "-1", "-i", str(shared_dir() / "data/audio/speech_en_16k.wav"), "-t", str(args.seconds),
           "-ar", "16000", "-ac", "1", speech)
    common = ["--checkpoint_path", ckpt, "--face", video, "--audio", speech, "--box", *box,
              "--device", str(device)]
    runs = [("today's path: --precision fp32 --serial, 1 emotion", ["--precision", "fp32", "--serial",
                                                                     "--emotion", "HAP"]),
            ("--precision fp32, pipelined, 1 emotion", ["--precision", "fp32", "--emotion", "HAP"]),
            (f"defaults (auto = {auto}, pipelined), 1 emotion",
             ["--emotion", "HAP"]),
            ("defaults, --emotion all (6 videos)", ["--emotion", "all"])]
    print(f"\nend to end, {os.path.basename(video)} with {args.seconds:g} s of speech, fixed box "
          "(whole processes, incl. start-up):")
    print("| run | frames | wall s | frames/s (per video) | first frame s | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for label, extra in runs:
        r = run_child(common + extra + ["--outfile", os.path.join(d, "e2e.mp4")])
        print(f"| {label} | {r['frames']} x {r['outputs']} | {r['wall']:.1f} | {r['frames'] / r['wall']:.1f} | "
              f"{r['first']:.2f} | {r['peak']:.0f} |")
        frames = r["frames"]
    print(f"encoder alone (decode + encode the same frames, no generator): "
          f"{encoder_alone_fps(video, frames, device, os.path.join(d, 'enc.mp4')):.1f} frames/s")

    home = os.path.join(d, "home")
    os.makedirs(home)
    env = {k: v for k, v in os.environ.items() if k not in ("EMOGEN_CACHE_DIR", "XDG_CACHE_HOME", "NUMBA_CACHE_DIR")}
    env["HOME"] = home
    short = common[:4] + ["--audio", str(shared_dir() / "data/audio/speech_en_16k.wav"), "--emotion", "HAP",
                          "--device", str(device), "--face_detector", "dlib", "--outfile", os.path.join(d, "c.mp4")]
    cold = run_child(short, env)
    warm = run_child(short, env)
    print(f"\ncold start (fresh HOME, no caches, dlib detection, 8 s speech): {cold['wall']:.1f} s; second run "
          f"(detection cache hit): {warm['wall']:.1f} s")


def memory_against_length(args: argparse.Namespace, d: str, ckpt: str) -> None:
    """Peak RSS of whole runs on a 10 s and a long 720p input with matching audio, fixed box (no detection)."""
    print()
    for seconds in (10, args.long_seconds):
        video = os.path.join(d, f"v{seconds}.mp4")
        speech = os.path.join(d, f"a{seconds}.wav")
        ffmpeg("-stream_loop", "-1", "-i", str(shared_dir() / "data/video/face3.mp4"), "-t", str(seconds), "-vf",
               "scale=1280:720", "-c:v", "libx264", "-preset", "ultrafast", video)
        ffmpeg("-stream_loop", "-1", "-i", str(shared_dir() / "data/audio/speech_en_16k.wav"), "-t", str(seconds),
               "-ar", "16000", "-ac", "1", speech)
        r = run_child(["--checkpoint_path", ckpt, "--face", video, "--audio", speech, "--emotion", "SAD", "--box",
                       "100", "600", "400", "900", "--outfile", os.path.join(d, f"o{seconds}.mp4"),
                       "--device", args.device])
        print(f"720p {seconds:4d} s input: peak RSS {r['peak']:.0f} MiB, {r['frames']} frames in {r['wall']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
