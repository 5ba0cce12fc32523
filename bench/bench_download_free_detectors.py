"""Compare the download-free face detectors (OpenCV's Haar cascade, dlib's HOG) on every shared video.

    python bench/bench_download_free_detectors.py [--detectors opencv dlib]

Per detector and video: frames with a face, box stability (mean frame-to-frame change of the box centre and
height, in % of the box height, before any smoothing), whether frame 0's box covers the hand-marked mouth and
chin (emogen/common/reference_data.py), and frames per second on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time

import cv2
import numpy as np
from common import shared_dir

from emogen.common.reference_data import ANNOTATION_SLACK, MOUTH_CHIN  # noqa: E402
from face_detection import create_detector  # noqa: E402


def read_all(path: str) -> list[np.ndarray]:
    """Every frame of a video, or the image itself."""
    if path.endswith(".jpg"):
        return [cv2.imread(path)]
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def measure(detector, frames: list[np.ndarray], mouth: int, chin: int) -> dict:
    """Found / stability / coverage / speed of one detector on one clip."""
    start = time.perf_counter()
    boxes = detector.best_boxes(frames)
    seconds = time.perf_counter() - start
    found = [b for b in boxes if b is not None]
    arr = np.array(found, dtype=np.float64)
    jitter = 0.0
    if len(arr) > 1:
        height = arr[:, 3] - arr[:, 1]
        centre = np.stack([(arr[:, 0] + arr[:, 2]) / 2, (arr[:, 1] + arr[:, 3]) / 2], axis=1)
        moves = np.linalg.norm(np.diff(centre, axis=0), axis=1) + np.abs(np.diff(height))
        jitter = float(np.mean(moves / height[1:]) * 100)
    covers = False
    if boxes[0] is not None:
        x1, y1, x2, y2 = boxes[0]
        covers = y1 < mouth < y2 and y2 >= chin - ANNOTATION_SLACK
    return {
        "found": len(found),
        "frames": len(frames),
        "jitter": jitter,
        "covers": covers,
        "fps": len(frames) / seconds,
    }


def get_args_parser() -> argparse.ArgumentParser:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--detectors", nargs="+", default=["opencv", "dlib"], help="detectors to compare")
    return p


def main(argv=None) -> int:
    """Print one row per detector and clip, then one summary row per detector."""
    args = get_args_parser().parse_args(argv)
    clips = {name: read_all(str(shared_dir() / "data" / name)) for name in sorted(MOUTH_CHIN)}
    print("| detector | clip | faces found | jitter (% of box height per frame) | covers mouth and chin | frames/s |")
    print("|---|---|---|---|---|---|")
    totals = {}
    for name in args.detectors:
        detector = create_detector(name, device="cpu")
        rows = []
        for clip, frames in clips.items():
            r = measure(detector, frames, *MOUTH_CHIN[clip])
            rows.append(r)
            print(
                f"| {name} | {clip} | {r['found']}/{r['frames']} | {r['jitter']:.2f} | "
                f"{'yes' if r['covers'] else 'NO'} | {r['fps']:.1f} |"
            )
        videos = [r for r in rows if r["frames"] > 1]
        totals[name] = (
            sum(r["found"] for r in rows),
            sum(r["frames"] for r in rows),
            float(np.mean([r["jitter"] for r in videos])),
            sum(r["covers"] for r in rows),
            len(rows),
            sum(r["frames"] for r in rows) / sum(r["frames"] / r["fps"] for r in rows),
        )
    print("\n| detector | faces found | mean jitter (%) | covers mouth and chin | frames/s |")
    print("|---|---|---|---|---|")
    for name, (found, frames, jitter, covers, clips_n, fps) in totals.items():
        print(f"| {name} | {found}/{frames} | {jitter:.2f} | {covers}/{clips_n} | {fps:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
