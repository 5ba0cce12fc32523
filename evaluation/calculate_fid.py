"""FID between all frames of the real videos and all frames of the generated videos."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

if __package__ in (None, ""):
    import _bootstrap  # noqa: F401


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of calculate_fid.py."""
    from emogen.common.cli import ArgumentParser, int_range, positive_int
    from emogen.common.device import add_device_argument
    from face_detection.registry import add_face_detector_argument

    p = ArgumentParser(description=__doc__)
    p.add_argument("--real_dir", required=True, help="folder of ground-truth videos")
    p.add_argument(
        "--filelist",
        default=None,
        help="only these real videos (names or paths relative to --real_dir, e.g. filelists/test.txt)",
    )
    p.add_argument(
        "--whole_frame",
        action="store_true",
        help="use whole frames instead of face crops (what this project did before; not the protocol)",
    )
    add_face_detector_argument(p, help_extra="; finds the face crops")
    p.add_argument("--generated_dir", required=True, help="folder of generated videos")
    p.add_argument(
        "--inception_path",
        default=None,
        help="pt_inception-2015-12-05-6726825d.pth (default $EMOGEN_INCEPTION_PATH or torch's hub cache)",
    )
    p.add_argument(
        "--random_inception",
        action="store_true",
        help="allow random Inception weights when none exist (tests only; the result is not FID)",
    )
    p.add_argument("--max_frames", type=positive_int, default=None, help="at most this many frames per video")
    p.add_argument(
        "--batch_size",
        type=int_range(1, 4096),
        default=32,
        help="frames per Inception batch (default 32; at most 4096)",
    )
    add_device_argument(p)
    p.add_argument("--no_progress", action="store_true", help="hide progress bars")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Extract features of both sets and print the FID."""
    args = get_args_parser().parse_args(argv)
    from emogen.common.device import resolve_device
    from evaluation.metrics.fid import build_inception, frechet_distance, video_features
    from evaluation.metrics.video_lists import collect_videos
    from face_detection import create_detector

    real, generated = collect_videos(args.real_dir, args.filelist), collect_videos(args.generated_dir)
    device = str(resolve_device(args.device))
    model = build_inception(args.inception_path, args.random_inception, device)
    detector = None if args.whole_frame else create_detector(args.face_detector, device=device)
    what = "frames" if args.whole_frame else "face crops"
    common = dict(
        device=device,
        batch_size=args.batch_size,
        max_frames=args.max_frames,
        progress=not args.no_progress,
        detector=detector,
    )
    a = video_features(model, real, desc=f"real {what}", **common)
    b = video_features(model, generated, desc=f"generated {what}", **common)
    print(
        f"FID {frechet_distance(a, b):.4f}  ({len(a)} real {what} from {len(real)} videos, {len(b)} generated "
        f"{what} from {len(generated)} videos)"
    )
    return 0


if __name__ == "__main__":
    from emogen.common.errors import run_script

    run_script(main)
