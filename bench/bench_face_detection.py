"""Frames per second of each face detector and setting on a real video, and box drift against full detection.

    python bench/bench_face_detection.py [--video PATH] [--frames 50] [--s3fd_frames 6]

S3FD runs with randomly initialised weights when s3fd.pth is absent: its speed is then real, its boxes are
not (drift is reported for the detectors whose boxes are meaningful).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import cv2
import numpy as np
import torch
from common import shared_dir

from face_detection import DetectionSettings, create_detector, detect_video_boxes
from face_detection.detection.s3fd.net_s3fd import S3FD
from face_detection.detection.s3fd.sfd_detector import s3fd_weights_path


def read(path: str, limit: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(path)
    frames = []
    while len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    return frames


def drift(a, b) -> tuple[float, float]:
    pairs = [(p, q) for p, q in zip(a, b) if p is not None and q is not None]
    d = np.abs(np.array([p for p, _ in pairs]) - np.array([q for _, q in pairs]))
    return float(d.mean()), float(d.max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(shared_dir() / "data/video/face2.mp4"), help="video to detect on")
    parser.add_argument("--frames", type=int, default=50, help="frames for the OpenCV detector")
    parser.add_argument("--s3fd_frames", type=int, default=6, help="frames for S3FD (slow on CPU)")
    args = parser.parse_args()
    print(f"video {args.video}; torch threads {torch.get_num_threads()}; device cpu")

    weights = s3fd_weights_path()
    tmp = None
    if not os.path.isfile(weights):
        tmp = tempfile.NamedTemporaryFile(suffix=".pth", delete=False)
        torch.save(S3FD().state_dict(), tmp.name)
        weights = tmp.name
        print("s3fd.pth absent: S3FD timed with random weights (speed only)")

    settings = [
        ("full size, every frame", DetectionSettings(batch_size=4)),
        ("longest side 480", DetectionSettings(max_side=480, batch_size=4)),
        ("longest side 480, stride 2", DetectionSettings(max_side=480, stride=2, batch_size=4)),
        ("longest side 480, stride 4", DetectionSettings(max_side=480, stride=4, batch_size=4)),
    ]
    print(f"{'detector':8} {'setting':28} {'frames':>6} {'fps':>7} {'drift mean px':>13} {'drift max px':>12}")
    for name, limit in (("opencv", args.frames), ("s3fd", args.s3fd_frames)):
        frames = read(args.video, limit)
        det = create_detector(name, device="cpu", weights_path=weights if name == "s3fd" else None)
        reference = None
        for label, setting in settings:
            start = time.perf_counter()
            boxes = detect_video_boxes(frames, det, setting)
            fps = len(frames) / (time.perf_counter() - start)
            reference = reference or boxes
            mean, worst = drift(boxes, reference) if name == "opencv" else (float("nan"), float("nan"))
            print(f"{name:8} {label:28} {len(frames):6d} {fps:7.2f} {mean:13.1f} {worst:12.1f}")
    if tmp is not None:
        os.unlink(tmp.name)


if __name__ == "__main__":
    main()
