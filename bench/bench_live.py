"""Live mode: delay from speech arriving to the frame it drives being sent, sustained frames/s and dropped frames,
per backend and precision, with speech fed at real-time pace in 20 ms pieces (as the Live tab's microphone).

    python bench/bench_live.py [--device cpu|cuda] [--seconds 60] [--sizes 512 1080] [--configs ...]

Each run: the seeded official-layout generator, the shared face6 video (512x512, fixed box) or a rescaled copy
(720p, 1080p), the English speech looped to --seconds, every frame JPEG-encoded as the web page sends it. The
delay counts from the arrival of the piece holding the speech at the frame's own time to the frame's JPEG being
ready, so it includes the 0.2 s of speech after that moment the mel window needs. RSS is sampled every 10 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import torch
from common import machine_line, shared_dir

import audio  # noqa: E402
from emogen.apps.web.live import encode_jpeg  # noqa: E402
from emogen.common.backends import openvino_installed  # noqa: E402
from emogen.common.precision import native_bf16, resolve_precision  # noqa: E402
from emogen.common.reference_data import seeded_state_dict  # noqa: E402
from emogen.inference.generator import build_generator  # noqa: E402
from emogen.inference.options import InferenceOptions  # noqa: E402
from emogen.inference.streaming import LiveFace, LiveSession, LiveSettings  # noqa: E402

FACE6_BOX = (107, 484, 98, 406)  # top bottom left right in face6.mp4 (512x512)


def current_rss_mib() -> float:
    """Resident memory now (VmRSS), MiB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def face_video(size: int, folder: str) -> tuple[str, list[int]]:
    """face6 as it is (512) or scaled to a 16:9 frame of the given height (the face centred), and its box."""
    src = str(shared_dir() / "data/video/face6.mp4")
    if size == 512:
        return src, list(FACE6_BOX)
    width = size * 16 // 9 // 2 * 2
    out = os.path.join(folder, f"face_{size}.mp4")
    scale = size / 512
    pad_x = (width - size) // 2
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            src,
            "-vf",
            f"scale={size}:{size},pad={width}:{size}:{pad_x}:0",
            "-c:v",
            "libx264",
            "-crf",
            "16",
            out,
        ],
        check=True,
    )
    t, b, left, r = FACE6_BOX
    return out, [int(t * scale), int(b * scale), int(left * scale) + pad_x, int(r * scale) + pad_x]


def run_live(
    generator,
    face: LiveFace,
    dtype,
    device: torch.device,
    wav: np.ndarray,
    seconds: float,
    max_batch: int,
    max_waiting: int,
) -> dict:
    """Feed ``seconds`` of speech at real-time pace; JPEG every frame; measure."""
    session = LiveSession(generator, face, "HAP", LiveSettings(device, dtype, max_batch, max_waiting))
    total = int(seconds * 16000)
    delays, sent, rss = [], [], []

    def consume():
        for frame in session.frames():
            encode_jpeg(frame.image)
            now = time.perf_counter()
            delays.append(now - frame.speech_arrived)
            sent.append(now)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    start = time.perf_counter()
    next_rss = start
    for k in range(0, total, 320):
        due = start + (k + 320) / 16000
        time.sleep(max(0.0, due - time.perf_counter()))
        idx = np.arange(k, min(k + 320, total)) % len(wav)
        session.push(wav[idx])
        if time.perf_counter() >= next_rss:
            rss.append(current_rss_mib())
            next_rss += 10
    session.finish()
    consumer.join()
    session.close()
    warm = [d for d, t in zip(delays, sent) if t - start > 2.0]  # the first 2 s include warm-up
    span = sent[-1] - sent[0] if len(sent) > 1 else float("nan")
    return {
        "median": 1000 * float(np.median(warm)),
        "p95": 1000 * float(np.percentile(warm, 95)),
        "fps": (len(sent) - 1) / span,
        "dropped": session.stats.dropped,
        "frames": len(sent),
        "windows": session.windows,
        "rss": rss,
    }


def get_args_parser() -> argparse.ArgumentParser:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--seconds", type=float, default=60.0, help="speech fed per run (default 60)")
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[512],
        help="face frame heights: 512 (the shared 512x512 clip), 720, 1080 (16:9, face centred)",
    )
    p.add_argument(
        "--configs",
        nargs="+",
        default=None,
        help="backend:precision pairs (default: every one this device runs, e.g. openvino:bf16)",
    )
    p.add_argument("--max_batch", type=int, default=4, help="live core's largest batch (default 4, as app.py)")
    p.add_argument("--max_waiting", type=int, default=8, help="ready windows before dropping (default 8)")
    return p


def default_configs(device: torch.device) -> list[str]:
    """Every backend:precision worth timing here (emulated bfloat16 left out)."""
    if device.type == "cuda":
        return ["torch:fp32-cl", "torch:bf16", "torch:fp16"]
    out = ["torch:fp32-cl"] + (["torch:bf16"] if native_bf16(device) else [])
    if openvino_installed():
        out += ["openvino:fp32-cl"] + (["openvino:bf16"] if native_bf16(device) else []) + ["openvino:int8"]
    return out


def main(argv=None) -> int:
    """Run the measures."""
    args = get_args_parser().parse_args(argv)
    device = torch.device(args.device)
    print(f"{machine_line(device)}; device {device}")
    wav = audio.load_wav(str(shared_dir() / "data/audio/speech_en_16k.wav"), 16000)
    print(
        f"{args.seconds:g} s of speech at real-time pace, 20 ms pieces; max batch {args.max_batch}, "
        f"max waiting {args.max_waiting}"
    )
    print("| face | backend precision | median delay ms | p95 delay ms | frames/s | dropped | RSS MiB, every 10 s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        ckpt = os.path.join(d, "gen.pth")
        torch.save({"state_dict": seeded_state_dict("emogen_generator")}, ckpt)
        for size in args.sizes:
            video, box = face_video(size, d)
            face = LiveFace.from_options(InferenceOptions(ckpt, video, "", "HAP", box=box, progress=False))
            for config in args.configs or default_configs(device):
                backend, name = config.split(":")
                precision = resolve_precision(name, device)
                generator = build_generator(ckpt, device, precision, backend)
                r = run_live(
                    generator, face, precision.dtype, device, wav, args.seconds, args.max_batch, args.max_waiting
                )
                print(
                    f"| {face.width}x{face.height} | {backend} {name} | {r['median']:.0f} | {r['p95']:.0f} | "
                    f"{r['fps']:.1f} | {r['dropped']} of {r['windows']} | {r['rss'][0]:.0f} -> {r['rss'][-1]:.0f} "
                    f"(at most {max(r['rss']):.0f}) |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
