"""Inference speed and memory per runtime and precision, beside the original's exact path, on the shared videos.

    python bench/bench_inference.py [--device cpu|cuda] [--seconds 31.5] [--skip_memory] [--memory_only]

Generator and S3FD weights have the official layout (seeded from ../shared/spec; speed does not depend on the
values). Reports: generator frames/s for every backend x precision this device runs (torch fp32, fp32-cl,
bf16, fp16 on CUDA; OpenVINO fp32-cl, bf16, int8 when installed); each one's PSNR to torch fp32 inside the face
box, per emotion, on two shared videos; S3FD frames/s per backend; end-to-end wall time, frames/s, time to
first frame and peak RSS of whole inference runs on a --seconds long speech over the 8 s face6 clip, with a
fixed box and with S3FD detection; the encoder alone as the ceiling; first run (conversion) against a cached
run per OpenVINO precision; a cold start (fresh HOME); and peak memory on a short and a long 720p input.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from common import ROOT, machine_line, shared_dir

from emogen.common.backends import openvino_installed  # noqa: E402
from emogen.common.contract import EMOTIONS  # noqa: E402
from emogen.common.media import VideoWriter, choose_encoder, iter_frames  # noqa: E402
from emogen.common.precision import Precision, autocast, native_bf16, resolve_precision  # noqa: E402
from emogen.common.reference_data import seeded_state_dict  # noqa: E402
from emogen.inference.generator import build_generator  # noqa: E402
from emogen.inference.renderer import RenderOutput, RenderSettings, make_batches, render  # noqa: E402
from models import Wav2Lip  # noqa: E402

SECTIONS = ("generator", "s3fd", "box", "detection", "first_run", "cold", "wav2lip")
FACE6_BOX = ["107", "484", "98", "406"]  # top bottom left right: dlib's box of face6.mp4 (512x512), frame 0


def seeded_generator() -> Wav2Lip:
    """The generator with seed-11 weights in the official layout."""
    model = Wav2Lip().eval()
    model.load_state_dict(seeded_state_dict("emogen_generator"))
    return model


def configurations(device: torch.device) -> list[tuple[str, str]]:
    """Every (backend, precision) this device runs: emulated bfloat16 and missing runtimes are left out."""
    out = [("torch", "fp32"), ("torch", "fp32-cl")]
    if native_bf16(device):
        out.append(("torch", "bf16"))
    if device.type == "cuda":
        return out + [("torch", "fp16")]
    if openvino_installed():
        out.append(("openvino", "fp32-cl"))
        if native_bf16(device):
            out.append(("openvino", "bf16"))
        if importlib.util.find_spec("nncf") is not None:
            out.append(("openvino", "int8"))
    return out


def build(ckpt: str, device: torch.device, backend: str, precision: str):
    """The generator a run with --backend/--precision would use (OpenVINO conversions are cached)."""
    return build_generator(ckpt, device, resolve_precision(precision, device), backend)


def generator_fps(model, device: torch.device, batch: int, precision: Precision, seconds: float = 3.0) -> float:
    """Best of 3 timed rounds of generator forward passes, inputs laid out as the pipeline builds them."""
    dtype = precision.dtype
    mel = torch.randn(batch, 1, 80, 16, device=device)
    face = torch.rand(batch, 6, 96, 96, device=device).contiguous(memory_format=torch.channels_last)
    emo = torch.eye(6, device=device)[[3] * batch]
    ctx = autocast(device, dtype)
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


def precision_psnr(device: torch.device, models: dict, box_for: dict, seconds: float = 2.0) -> dict:
    """PSNR (dB) of each configuration's output against torch fp32 inside the face box, per shared video and
    emotion; ``models`` maps a label to (generator, autocast dtype) and must hold 'torch fp32'."""
    out = {}
    for name, box in box_for.items():
        frames = list(iter_frames(str(shared_dir() / f"data/video/{name}.mp4"), limit=int(25 * seconds)))
        mel = np.random.default_rng(0).normal(0, 1, (80, len(frames) * 4 + 16)).astype(np.float32)
        starts = [4 * i for i in range(len(frames))]
        coords = [tuple(box)] * len(frames)
        results = {}
        for label, (model, dtype) in models.items():
            settings = RenderSettings(device, 32, dtype, True, progress=False)
            outputs = [RenderOutput(e, e, FrameList()) for e in EMOTIONS]
            render(
                model,
                make_batches((f.copy() for f in frames), coords, False, mel, starts, 96, settings),
                outputs,
                len(frames),
                settings,
                {},
                0.0,
            )
            results[label] = {o.emotion: np.stack(o.writer.frames) for o in outputs}
        y1, y2, x1, x2 = box
        for label in models:
            if label == "torch fp32":
                continue
            for e in EMOTIONS:
                a = results["torch fp32"][e][:, y1:y2, x1:x2].astype(np.float64)
                b = results[label][e][:, y1:y2, x1:x2].astype(np.float64)
                mse = float(np.mean((a - b) ** 2))
                out[(label, name, e)] = float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)
    return out


# Runs inference.py as __main__ in a fresh interpreter and reports that process's own peak RSS at exit. VmHWM,
# not getrusage: Linux carries ru_maxrss across fork and exec, so a child of a large bench process would report
# the parent's size.
_WRAPPER = """
import runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    with open("/proc/self/status") as status:
        print("PEAK_RSS_KB", next(line.split()[1] for line in status if line.startswith("VmHWM")))
"""


def run_child(args: list[str], env: dict | None = None) -> dict:
    """Run inference.py in a child: wall seconds, peak RSS MiB, frames, first-frame seconds."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(ROOT / "inference.py"), *args, "--no_progress"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    peak_kb = int(next(ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("PEAK_RSS_KB")))
    wrote = [ln for ln in proc.stdout.splitlines() if ln.startswith("wrote")]
    timing = next(ln for ln in proc.stdout.splitlines() if ln.startswith("timings:"))
    first = float(timing.split("first frame ")[1].split(" s")[0]) if "first frame" in timing else float("nan")
    return {
        "wall": wall,
        "peak": peak_kb / 1024,
        "frames": int(wrote[-1].split(": ")[1].split(" ")[0]),
        "first": first,
        "outputs": len(wrote),
    }


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
    p.add_argument("--seconds", type=float, default=31.5, help="length of the speech for the end-to-end runs")
    p.add_argument("--video", default=None, help="face video for the end-to-end runs (default face6.mp4, fixed box)")
    p.add_argument("--box", nargs=4, default=None, help="fixed box for --video (top bottom left right)")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="end-to-end runs per row; the median is reported, with the range (machines vary by a few %%)",
    )
    p.add_argument("--long_seconds", type=int, default=60, help="length of the long 720p memory test")
    p.add_argument("--skip_memory", action="store_true", help="skip the 720p memory comparison")
    p.add_argument("--memory_only", action="store_true", help="run only the 720p memory comparison")
    p.add_argument("--skip_psnr", action="store_true", help="skip the precision PSNR table")
    p.add_argument(
        "--sections",
        nargs="+",
        default=list(SECTIONS),
        choices=SECTIONS,
        help="what to measure (default all): generator (rates, PSNR), s3fd, box (end to end with a fixed "
        "box), detection (end to end with S3FD), first_run (conversion against cached), cold",
    )
    return p


def main(argv=None) -> int:
    """Run the measures."""
    args = get_args_parser().parse_args(argv)
    device = torch.device(args.device)
    print(f"{machine_line(device)}; device {device}")
    with tempfile.TemporaryDirectory() as d:
        ckpt = os.path.join(d, "gen.pth")
        torch.save({"state_dict": seeded_state_dict("emogen_generator")}, ckpt)
        if not args.memory_only:
            speed(args, device, d, ckpt)
        if not args.skip_memory:
            memory_against_length(args, d, ckpt)
    return 0


def speed(args, device, d: str, ckpt: str) -> None:
    """The --sections asked for: generator and S3FD rates per backend and precision, PSNR to fp32, end-to-end
    runs (fixed box, S3FD detection), the encoder ceiling, first against cached runs, cold start."""
    auto_precision = resolve_precision("auto", device)
    auto = auto_precision.name
    if auto_precision.int8_if_faithful and openvino_installed():
        auto = f"int8 where its check passes, else {auto}"
    print(
        f"\n--precision auto here: {auto} (native bf16: {native_bf16(device)}); "
        f"OpenVINO installed: {openvino_installed()}"
    )
    configs = configurations(device)
    sections = set(args.sections)
    if "generator" in sections:
        generator_section(args, device, ckpt, configs)
    s3fd = os.path.join(d, "s3fd.pth")
    torch.save(seeded_state_dict("s3fd"), s3fd)
    env = dict(os.environ, EMOGEN_S3FD_PATH=s3fd)
    if "s3fd" in sections:
        print("\nS3FD alone, 4 frames of 480x480 per batch, float32 (frames/s):")
        for backend in ["torch"] + (["openvino"] if device.type == "cpu" and openvino_installed() else []):
            print(f"  {backend}: {s3fd_fps(s3fd, device, backend):.2f}")

    video = args.video or str(shared_dir() / "data/video/face6.mp4")
    box = args.box or FACE6_BOX
    speech = os.path.join(d, "speech.wav")
    ffmpeg(
        "-stream_loop",
        "-1",
        "-i",
        str(shared_dir() / "data/audio/speech_en_16k.wav"),
        "-t",
        str(args.seconds),
        "-ar",
        "16000",
        "-ac",
        "1",
        speech,
    )
    common = [
        "--checkpoint_path",
        ckpt,
        "--face",
        video,
        "--audio",
        speech,
        "--device",
        str(device),
        "--emotion",
        "HAP",
    ]
    fixed = common + ["--box", *box]
    exact = ["--precision", "fp32", "--backend", "torch", "--serial", "--reference", "frame"]
    runs = []
    if "box" in sections:
        runs += [
            ("today's exact path: --precision fp32 --backend torch --serial --reference frame", fixed + exact),
            ("--backend torch (precision auto), pipelined", fixed + ["--backend", "torch"]),
        ]
        runs += [
            (f"--backend openvino --precision {name}", fixed + ["--backend", "openvino", "--precision", name])
            for backend, name in configs
            if backend == "openvino"
        ]
        runs += [
            (
                f"defaults (auto: {auto}), the original's reference (--reference frame)",
                fixed + ["--reference", "frame"],
            ),
            (f"defaults (auto: {auto}; reference auto: closed_mouth)", fixed),
            ("defaults, --emotion all (6 videos)", [*fixed, "--emotion", "all"]),
        ]
    if "wav2lip" in sections:
        # Wav2Lip's public generator layout (seeded): lip sync only, no --emotion, its own lower-half input.
        wav2lip = os.path.join(d, "wav2lip_gan.pth")
        torch.save({"state_dict": seeded_state_dict("wav2lip_generator")}, wav2lip)
        w2l = [a for a in fixed if a not in ("--emotion", "HAP")]
        w2l[w2l.index("--checkpoint_path") + 1] = wav2lip
        runs += [
            ("Wav2Lip generator, exact path (--precision fp32 --backend torch --serial)", w2l + exact),
            (
                "Wav2Lip generator, --backend openvino --precision fp32-cl",
                w2l + ["--backend", "openvino", "--precision", "fp32-cl"],
            ),
            (f"Wav2Lip generator, defaults (auto: {auto})", w2l),
            ("Wav2Lip generator, --precision int8", w2l + ["--precision", "int8"]),
        ]
    if "detection" in sections:
        # S3FD at 512x512 runs about 1 frame/s on 2 CPU cores: these rows use 4 s of speech (100 frames).
        short_speech = os.path.join(d, "speech4.wav")
        ffmpeg("-i", speech, "-t", "4", short_speech)
        detect = common + ["--audio", short_speech, "--face_detector", "s3fd", "--no_detection_cache"]
        runs += [
            ("S3FD detection, 4 s: --precision fp32 --backend torch --serial", detect + exact),
            ("S3FD detection, 4 s: defaults", detect),
        ]
    if runs and device.type == "cpu" and openvino_installed():
        # The rows time cached runs: every OpenVINO model they use is converted (and quantized) here first.
        for backend, name in configs:
            if backend == "openvino":
                build(ckpt, device, backend, name)
        build_generator(ckpt, device, auto_precision, "openvino")
    if runs:
        print(
            f"\nend to end, {os.path.basename(video)} with {args.seconds:g} s of speech "
            "(whole processes, incl. start-up; converted models already cached):"
        )
        print(f"wall s: the median of {args.repeat} run(s), with the slowest and fastest when several")
        print("| run | frames | wall s | frames/s (per video) | first frame s | peak RSS MiB |")
        print("|---|---|---|---|---|---|")
    for label, argv in runs:
        results = sorted(
            (run_child(argv + ["--outfile", os.path.join(d, "e2e.mp4")], env) for _ in range(args.repeat)),
            key=lambda r: r["wall"],
        )
        r = results[len(results) // 2]
        spread = f" ({results[0]['wall']:.1f}-{results[-1]['wall']:.1f})" if len(results) > 1 else ""
        print(
            f"| {label} | {r['frames']} x {r['outputs']} | {r['wall']:.1f}{spread} | {r['frames'] / r['wall']:.1f} | "
            f"{r['first']:.2f} | {r['peak']:.0f} |"
        )
    if "box" in sections:
        frames = int(args.seconds * 25)
        print(
            f"encoder alone (decode + encode {frames} frames, no generator): "
            f"{encoder_alone_fps(video, frames, device, os.path.join(d, 'enc.mp4')):.1f} frames/s"
        )

    short = [
        "--checkpoint_path",
        ckpt,
        "--face",
        video,
        "--audio",
        str(shared_dir() / "data/audio/speech_en_16k.wav"),
        "--emotion",
        "HAP",
        "--device",
        str(device),
        "--outfile",
        os.path.join(d, "c.mp4"),
    ]
    if "first_run" in sections and device.type == "cpu" and openvino_installed():
        for backend, name in configs:
            if backend != "openvino":
                continue
            fresh = dict(env, EMOGEN_MODEL_CACHE_DIR=os.path.join(d, f"models-{name}"))
            argv = short + ["--box", *box, "--backend", "openvino", "--precision", name]
            first, again = run_child(argv, fresh), run_child(argv, fresh)
            print(
                f"first run (empty model cache: conversion{' + quantization + its check' if name == 'int8' else ''}) "
                f"against cached, openvino {name}, 8 s speech, fixed box: {first['wall']:.1f} s / "
                f"{again['wall']:.1f} s"
            )
        if auto_precision.int8_if_faithful:
            fresh = dict(env, EMOGEN_MODEL_CACHE_DIR=os.path.join(d, "models-auto"))
            argv = short + ["--box", *box]
            first, again = run_child(argv, fresh), run_child(argv, fresh)
            print(
                f"first run (empty model cache: conversion + quantization + the int8 check) against cached, "
                f"defaults (auto: {auto}), 8 s speech, fixed box: {first['wall']:.1f} s / {again['wall']:.1f} s"
            )
    if "cold" in sections:
        home = os.path.join(d, "home")
        os.makedirs(home)
        cold_env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("EMOGEN_CACHE_DIR", "EMOGEN_MODEL_CACHE_DIR", "XDG_CACHE_HOME", "NUMBA_CACHE_DIR")
        }
        cold_env["HOME"] = home
        argv = short + ["--face_detector", "dlib"]
        cold = run_child(argv, cold_env)
        warm = run_child(argv, cold_env)
        print(
            f"\ncold start (fresh HOME, no caches, dlib detection, 8 s speech, defaults): {cold['wall']:.1f} s; "
            f"second run (detection and model caches hit): {warm['wall']:.1f} s"
        )


def generator_section(args, device: torch.device, ckpt: str, configs: list[tuple[str, str]]) -> None:
    """Generator frames/s per backend and precision, and (unless --skip_psnr) the PSNR table."""
    batch = 256 if device.type == "cuda" else 32
    models = {}
    print(f"generator alone, batch {batch} (frames/s):")
    for backend, name in configs:
        p = resolve_precision(name, device)
        model = build(ckpt, device, backend, name)
        models[f"{backend} {name}"] = (model, p.dtype)
        print(f"  {backend} {name}: {generator_fps(model, device, batch, p):.1f}")
    if args.skip_psnr:
        return
    boxes = {"face3": (150, 470, 140, 450), "face6": tuple(int(v) for v in FACE6_BOX)}
    psnr = precision_psnr(device, models, boxes)
    print("\nPSNR against torch fp32 inside the face box (dB), per emotion:")
    print("| backend precision | video | " + " | ".join(EMOTIONS) + " |")
    print("|---|---|" + "---|" * len(EMOTIONS))
    for label in models:
        for name in boxes if label != "torch fp32" else ():
            print(f"| {label} | {name} | " + " | ".join(f"{psnr[(label, name, e)]:.1f}" for e in EMOTIONS) + " |")


def s3fd_fps(weights: str, device: torch.device, backend: str, seconds: float = 4.0) -> float:
    """S3FD detection (network and box decoding) on 4 real 480x480 frames per batch, best of 2 rounds."""
    from face_detection.registry import create_detector

    det = create_detector("s3fd", device=str(device), weights_path=weights, backend=backend)
    frames = [f for f in iter_frames(str(shared_dir() / "data/video/face3.mp4"), limit=4)]
    frames = [np.ascontiguousarray(f[:480, :480]) for f in frames]
    det.detect_from_batch(frames)
    rates = []
    for _ in range(2):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            det.detect_from_batch(frames)
            n += len(frames)
        rates.append(n / (time.perf_counter() - start))
    return max(rates)


def memory_against_length(args: argparse.Namespace, d: str, ckpt: str) -> None:
    """Peak RSS of whole runs on a 10 s and a long 720p input with matching audio, fixed box (no detection)."""
    print()
    for seconds in (10, args.long_seconds):
        video = os.path.join(d, f"v{seconds}.mp4")
        speech = os.path.join(d, f"a{seconds}.wav")
        ffmpeg(
            "-stream_loop",
            "-1",
            "-i",
            str(shared_dir() / "data/video/face3.mp4"),
            "-t",
            str(seconds),
            "-vf",
            "scale=1280:720",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            video,
        )
        ffmpeg(
            "-stream_loop",
            "-1",
            "-i",
            str(shared_dir() / "data/audio/speech_en_16k.wav"),
            "-t",
            str(seconds),
            "-ar",
            "16000",
            "-ac",
            "1",
            speech,
        )
        r = run_child(
            [
                "--checkpoint_path",
                ckpt,
                "--face",
                video,
                "--audio",
                speech,
                "--emotion",
                "SAD",
                "--box",
                "100",
                "600",
                "400",
                "900",
                "--outfile",
                os.path.join(d, f"o{seconds}.mp4"),
                "--device",
                args.device,
            ]
        )
        print(f"720p {seconds:4d} s input: peak RSS {r['peak']:.0f} MiB, {r['frames']} frames in {r['wall']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
