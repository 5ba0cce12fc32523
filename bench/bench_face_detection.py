"""Face detection: the fast strategy (key frames, tracking) against the exact one (every full frame).

    python bench/bench_face_detection.py [--sections accuracy speed end_to_end preprocess] [--detectors dlib opencv]

accuracy: every frame of the seven shared videos and the six CREMA-D clips, with the detectors whose weights are
real here (dlib, OpenCV Haar). Both strategies' boxes go through what inference does with them (gaps filled,
the default pads 0 10 0 0, the 5-frame smoothing); reported per video: the mean and worst IoU of the two crops,
the mean and worst centre distance as a share of the exact crop's size, and the face-box PSNR between the
outputs a seeded generator renders into the two crops (hard paste, the same speech window per frame; every
third frame): over all those frames from their pooled squared error, and the mean over the frames that differ
(with the share that are the same); and, as the floor, the worst IoU of exact's own crops in consecutive
frames.

speed: S3FD with seeded weights (s3fd.pth is not downloadable here; the network's cost does not depend on its
weights): frames per second of each strategy on face6.mp4. Seeded S3FD finds no real face, so the fast
strategy is timed with a stand-in that runs the seeded S3FD on exactly the images the strategy gives it and
returns dlib's box for them: S3FD's cost, real geometry.

end_to_end: inference.py's pipeline on face6.mp4 with 8 s of speech, S3FD (seeded, through the same stand-in
for fast): total frames per second and the time to the first frame, per strategy.

preprocess: preprocess_crema-d.py's per-clip work (emogen.data.preprocess.preprocess_video: detection, crops
written, audio and mel) on the six genuine CREMA-D clips, clips per minute with each strategy, for dlib and
for seeded S3FD (the stand-in above for fast; exact on the first --s3fd_exact_clips clips only, it runs about
one frame per second).
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time

import cv2
import numpy as np
import torch
from common import machine_line, shared_dir

from emogen.common.contract import box_iou, emotion_one_hot
from emogen.inference.geometry import crop_coords, fill_gaps, generator_inputs, paste
from evaluation.metrics.image_quality import psnr
from face_detection import DetectionSettings, create_detector, detect_video_boxes
from face_detection.detection.core import FaceDetector
from face_detection.registry import resolve_detection
from face_detection.tracking import TrackSettings, track_video_boxes

PADS = (0, 10, 0, 0)


def read(path: str, limit: int = 100000) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames, fps


def crops(raw: list, shape: tuple, fps: float) -> list:
    filled, _ = fill_gaps(raw, max_gap=max(1, int(round(fps))))
    return crop_coords(filled, shape, PADS, False)


def iou(a, b) -> float:
    """IoU of two crops (y1, y2, x1, x2)."""
    return box_iou((a[2], a[0], a[3], a[1]), (b[2], b[0], b[3], b[1]))


def centre_error(a, b) -> float:
    size = max(a[1] - a[0], a[3] - a[2])
    return float(np.hypot((a[0] + a[1] - b[0] - b[1]) / 2, (a[2] + a[3] - b[2] - b[3]) / 2)) / size


def seeded_generator():
    from emogen.common.reference_data import seeded_state_dict
    from models import Wav2Lip

    model = Wav2Lip().eval()
    model.load_state_dict(seeded_state_dict("emogen_generator"))
    return model


def render_psnr(model, frames: list, a: list, b: list, step: int = 3) -> tuple[float, float, float]:
    """Face-box PSNR between the frames rendered into crops ``a`` and into crops ``b`` (every ``step``-th frame):
    over all those frames (from their pooled squared error), the mean over the frames that differ, and the share
    of frames that are the same."""
    rng = np.random.default_rng(0)
    one_hot = torch.from_numpy(emotion_one_hot("NEU"))[None]
    scores, sq, count = [], [], 0
    for start in range(0, len(frames), 16 * step):
        idx = [
            i for i in range(start, min(start + 16 * step, len(frames)), step) if a[i] is not None and b[i] is not None
        ]
        if not idx:
            continue
        mels = [rng.standard_normal((80, 16)).astype(np.float32) for _ in idx]
        outs = []
        for coords in (a, b):
            faces = [frames[i][coords[i][0] : coords[i][1], coords[i][2] : coords[i][3]] for i in idx]
            mel, face = generator_inputs(faces, mels, 96)
            with torch.inference_mode():
                pred = model(torch.from_numpy(mel), torch.from_numpy(face), one_hot.repeat(len(idx), 1))
            outs.append(pred.numpy().transpose(0, 2, 3, 1))
        for k, i in enumerate(idx):
            fa, fb = frames[i].copy(), frames[i].copy()
            paste(fa, outs[0][k], a[i])
            paste(fb, outs[1][k], b[i])
            y1, y2, x1, x2 = a[i]
            diff = fa[y1:y2, x1:x2].astype(np.float64) - fb[y1:y2, x1:x2]
            sq.append(float(np.sum(diff**2)))
            count += diff.size
            scores.append(psnr(fa[y1:y2, x1:x2], fb[y1:y2, x1:x2]))
    finite = [s for s in scores if np.isfinite(s)]
    pooled = 10 * np.log10(255.0**2 * count / sum(sq)) if sum(sq) > 0 else float("inf")
    differing = float(np.mean(finite)) if finite else float("inf")
    return float(pooled), differing, 1 - len(finite) / max(1, len(scores))


def accuracy(detectors: list[str]) -> None:
    data = shared_dir() / "data"
    videos = sorted(glob.glob(str(data / "video/*.mp4"))) + sorted(glob.glob(str(data / "crema-d/*.flv")))
    model = seeded_generator()
    print(
        "| detector | video | frames | exact fps | fast fps | mean IoU | worst IoU | mean centre err | "
        "worst centre err | face-box PSNR dB | PSNR dB, frames that differ | frames the same | "
        "exact frame-to-frame worst IoU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in detectors:
        detector = create_detector(name)
        for path in videos:
            frames, fps = read(path)
            t = time.perf_counter()
            exact = detect_video_boxes(frames, detector, DetectionSettings())
            t_exact = time.perf_counter() - t
            t = time.perf_counter()
            fast = list(track_video_boxes(frames, detector, TrackSettings()))
            t_fast = time.perf_counter() - t
            shape = frames[0].shape[:2]
            if all(b is None for b in exact):
                print(f"| {name} | {os.path.basename(path)} | {len(frames)} | no face found by exact |")
                continue
            a, b = crops(exact, shape, fps), crops(fast, shape, fps)
            pairs = [(p, q) for p, q in zip(a, b) if p is not None and q is not None]
            ious = [iou(p, q) for p, q in pairs]
            # exact's own steadiness: the IoU of its crops in consecutive frames (the fast boxes cannot follow
            # a detector that switches between pyramid levels from one frame to the next)
            steady = [iou(p, q) for p, q in zip(a, a[1:]) if p is not None and q is not None]
            errs = [centre_error(p, q) for p, q in pairs]
            pooled, differing, same = render_psnr(model, frames, a, b)
            print(
                f"| {name} | {os.path.basename(path)} | {len(frames)} | {len(frames) / t_exact:.1f} | "
                f"{len(frames) / t_fast:.1f} | {np.mean(ious):.3f} | {min(ious):.3f} | {np.mean(errs):.3f} | "
                f"{max(errs):.3f} | {pooled:.1f} | {differing:.1f} | {same:.0%} | {min(steady):.3f} |",
                flush=True,
            )


class S3FDCostDlibBoxes(FaceDetector):
    """The seeded S3FD's cost on each image it is given, dlib's box for that image (see the module docstring)."""

    name = "s3fd-timing"

    def __init__(self, s3fd: FaceDetector) -> None:
        super().__init__("cpu")
        self.s3fd, self.dlib = s3fd, create_detector("dlib")

    def detect_from_batch(self, images):
        self.s3fd.detect_from_batch(images)
        return self.dlib.detect_from_batch(images)


def seeded_s3fd(workdir: str, backend: str) -> FaceDetector:
    from emogen.common.reference_data import seeded_state_dict

    path = os.path.join(workdir, "s3fd.pth")
    if not os.path.exists(path):
        torch.save(seeded_state_dict("s3fd"), path)
    return create_detector("s3fd", device="cpu", weights_path=path, backend=backend)


def speed(workdir: str, backends: list[str], frames_exact: int) -> None:
    frames, _ = read(str(shared_dir() / "data/video/face6.mp4"))
    print("| S3FD runtime | strategy | frames | frames/s |")
    print("|---|---|---|---|")
    for backend in backends:
        s3fd = seeded_s3fd(workdir, backend)
        s3fd.detect_from_batch(frames[:1])  # warm-up (an OpenVINO model compiles on first use)
        t = time.perf_counter()
        detect_video_boxes(frames[:frames_exact], s3fd, DetectionSettings(batch_size=4))
        print(
            f"| {backend} | exact (every full frame) | {frames_exact} | {frames_exact / (time.perf_counter() - t):.2f} |"
        )
        stand_in = S3FDCostDlibBoxes(s3fd)
        t = time.perf_counter()
        list(track_video_boxes(frames, stand_in, TrackSettings()))
        print(f"| {backend} | fast | {len(frames)} | {len(frames) / (time.perf_counter() - t):.2f} |", flush=True)


def end_to_end(workdir: str, backend: str) -> None:
    import subprocess

    import emogen.inference.face_boxes as face_boxes
    from emogen.inference.options import InferenceOptions
    from emogen.inference.pipeline import run_inference

    data = shared_dir() / "data"
    speech = os.path.join(workdir, "speech8.wav")
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(data / "audio/speech_en_16k.wav"),
            "-t",
            "8",
            speech,
        ],
        check=True,
    )
    from emogen.common.reference_data import seeded_state_dict

    generator = os.path.join(workdir, "emogen.pth")
    torch.save({"state_dict": seeded_state_dict("emogen_generator")}, generator)
    s3fd = seeded_s3fd(workdir, backend)
    real_create = face_boxes.create_detector
    print("| strategy | generation | frames | total s | frames/s overall | first frame after s | detection s |")
    print("|---|---|---|---|---|---|---|")
    # auto: what inference.py does by default with S3FD on this machine
    for strategy, stream in (("auto", True), ("fast", True), ("fast", False), ("exact", True), ("exact", False)):
        # The run's detector: seeded S3FD itself for exact (its boxes are noise, its cost is real); the stand-in
        # for fast, whose key-frame searches need a face to follow.
        fast = resolve_detection(strategy, "s3fd", "cpu") == "fast"
        detector = S3FDCostDlibBoxes(s3fd) if fast else s3fd
        face_boxes.create_detector = lambda *a, _d=detector, **k: _d
        opts = InferenceOptions(
            generator,
            face=str(data / "video/face6.mp4"),
            audio=speech,
            emotion="HAP",
            outfile=os.path.join(workdir, f"{strategy}.mp4"),
            detection=strategy,
            cache_dir=None,
            progress=False,
            face_detector="s3fd",
            missing_face="passthrough",
            stream_detection=stream,
        )
        start = time.perf_counter()
        result = run_inference(opts)[0]
        total = time.perf_counter() - start
        t = result.timings
        ran = result.settings["faces"].split(", ")[-1]
        print(
            f"| {strategy if strategy == ran else f'{strategy} ({ran})'} | "
            f"{'while detecting' if stream else 'after detection'} | {result.frames} | "
            f"{total:.1f} | {result.frames / total:.1f} | "
            f"{t.get('first frame', float('nan')):.1f} | {t.get('detection', float('nan')):.1f} |",
            flush=True,
        )
    face_boxes.create_detector = real_create


def preprocess(workdir: str, backend: str, s3fd_exact_clips: int) -> None:
    from emogen.data.preprocess import preprocess_video

    clips = sorted(glob.glob(str(shared_dir() / "data/crema-d/*.flv")))
    s3fd = seeded_s3fd(workdir, backend)
    s3fd.detect_from_batch([np.zeros((360, 480, 3), np.uint8)])  # warm-up (an OpenVINO model compiles on first use)
    runs = (
        ("dlib", "exact", create_detector("dlib"), clips),
        ("dlib", "fast", create_detector("dlib"), clips),
        (f"s3fd ({backend}, seeded)", "exact", s3fd, clips[:s3fd_exact_clips]),
        (f"s3fd ({backend}, seeded: its cost, dlib's boxes)", "fast", S3FDCostDlibBoxes(s3fd), clips),
    )
    print("| detector | strategy | clips | frames | faces | s | clips per minute | frames/s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, strategy, detector, chosen in runs:
        frames = faces = 0
        start = time.perf_counter()
        for path in chosen:
            out = os.path.join(workdir, "pre", strategy, os.path.splitext(os.path.basename(path))[0])
            report = preprocess_video(path, out, detector, detection=strategy)
            frames, faces = frames + report.frames, faces + report.faces
        took = time.perf_counter() - start
        print(
            f"| {name} | {strategy} | {len(chosen)} | {frames} | {faces} | {took:.1f} | "
            f"{60 * len(chosen) / took:.1f} | {frames / took:.1f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=["accuracy", "speed", "end_to_end", "preprocess"],
        default=["accuracy", "speed", "end_to_end", "preprocess"],
        help="what to run (default: all)",
    )
    parser.add_argument("--detectors", nargs="+", default=["dlib", "opencv"], help="real-weight detectors to compare")
    parser.add_argument("--backends", nargs="+", default=["torch", "openvino"], help="S3FD runtimes to time")
    parser.add_argument("--exact_frames", type=int, default=8, help="frames for exact S3FD (slow on a CPU)")
    parser.add_argument(
        "--s3fd_exact_clips", type=int, default=2, help="CREMA-D clips preprocessed with exact S3FD (slow on a CPU)"
    )
    args = parser.parse_args()
    print(machine_line(), f"torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as workdir:
        if "accuracy" in args.sections:
            accuracy(args.detectors)
        if "speed" in args.sections:
            speed(workdir, args.backends, args.exact_frames)
        if "end_to_end" in args.sections:
            end_to_end(workdir, args.backends[-1])
        if "preprocess" in args.sections:
            preprocess(workdir, args.backends[-1], args.s3fd_exact_clips)


if __name__ == "__main__":
    main()
