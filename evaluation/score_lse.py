"""LSE-D and LSE-C (lip-sync distance and confidence) of a folder of videos, with syncnet_python's SyncNet.

Writes <out_dir>/all_scores.txt (one line per video: name, offset, LSE-D, LSE-C; then the means) and
<out_dir>/lse_scores.csv (every face track), and prints a summary table.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from typing import Optional, Sequence

if __package__ in (None, ""):
    import _bootstrap  # noqa: F401


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of score_lse.py."""
    from emogen.cli import ArgumentParser, non_negative_int, positive_int
    from emogen.detector_option import add_face_detector_argument

    from emogen.device import add_device_argument
    from evaluation.video_lists import add_video_source_args

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_video_source_args(p, "videos to score")
    p.add_argument("--out_dir", default="lse_results", help="where all_scores.txt and lse_scores.csv go")
    p.add_argument("--syncnet_path", default=None,
                   help="syncnet_v2.model (default $EMOGEN_SYNCNET_PATH or checkpoints/syncnet_v2.model)")
    p.add_argument("--whole_frame", action="store_true", help="score the whole frame, no face tracking")
    add_face_detector_argument(p)
    p.add_argument("--min_track", type=positive_int, default=25, help="shortest face track scored, in frames (25)")
    p.add_argument("--min_face_size", type=non_negative_int, default=100, help="smallest mean face size in pixels (100)")
    add_device_argument(p)
    p.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Score every video and write the results."""
    args = get_args_parser().parse_args(argv)
    from tqdm import tqdm

    from emogen.atomic import atomic_path
    from emogen.device import resolve_device
    from emogen.errors import UserError
    from evaluation.face_tracks import TrackSettings
    from evaluation.sync_scoring import main_track, score_video
    from evaluation.syncnet_eval import load_syncnet_eval
    from evaluation.video_lists import collect_videos
    from face_detection import create_detector

    videos = collect_videos(args.videos_dir, args.filelist)
    device = str(resolve_device(args.device))
    model = load_syncnet_eval(args.syncnet_path, device)
    detector = None if args.whole_frame else create_detector(args.face_detector, device=device)
    settings = TrackSettings(min_track=args.min_track, min_face_size=args.min_face_size)
    rows, per_video = [], []
    for path in tqdm(videos, desc="LSE", unit="video", disable=args.no_progress):
        try:
            scores = score_video(path, model, detector, settings, args.whole_frame, device)
        except (UserError, ValueError) as exc:
            print(f"skipped {path}: {exc}")
            continue
        rows += scores
        best = main_track(scores)
        if best is None:
            print(f"skipped {path}: no face track of at least {args.min_track} frames")
            continue
        per_video.append(best)
    if not per_video:
        raise UserError("no video could be scored")
    os.makedirs(args.out_dir, exist_ok=True)
    mean_d = sum(s.score.dist for s in per_video) / len(per_video)
    mean_c = sum(s.score.conf for s in per_video) / len(per_video)
    with atomic_path(os.path.join(args.out_dir, "all_scores.txt"), suffix=".tmp") as tmp:
        with open(tmp, "w") as handle:
            handle.write("# video offset LSE-D LSE-C\n")
            for s in per_video:
                handle.write(f"{s.video} {s.score.offset} {s.score.dist:.6f} {s.score.conf:.6f}\n")
            handle.write(f"# mean LSE-D {mean_d:.6f} LSE-C {mean_c:.6f} over {len(per_video)} videos\n")
    with atomic_path(os.path.join(args.out_dir, "lse_scores.csv"), suffix=".tmp") as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["video", "track", "start_frame", "end_frame", "offset", "lse_d", "lse_c", "windows"])
            for s in rows:
                writer.writerow([s.video, s.track, s.start_frame, s.end_frame, s.score.offset,
                                 f"{s.score.dist:.6f}", f"{s.score.conf:.6f}", s.score.windows])
    width = max(len(s.video) for s in per_video)
    print(f"{'video':<{width}}  offset   LSE-D   LSE-C")
    for s in per_video:
        print(f"{s.video:<{width}}  {s.score.offset:6d} {s.score.dist:7.3f} {s.score.conf:7.3f}")
    print(f"{'mean':<{width}}         {mean_d:7.3f} {mean_c:7.3f}   ({len(per_video)} videos; {args.out_dir})")
    return 0


if __name__ == "__main__":
    from emogen.errors import run_cli

    sys.exit(run_cli(main))
