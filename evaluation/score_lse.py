"""LSE-D and LSE-C (lip-sync distance and confidence) of a folder of videos, with syncnet_python's SyncNet.

The published protocol by default: faces detected as syncnet_python does (S3FD, sfd_face.pth, frames scaled
by 0.25, confidence 0.9, NMS 0.1, every face kept), tracked, and one score per face track; the reported
number is the mean over all tracks (--average tracks). Writes <out_dir>/all_scores.txt in the reference's
format (one "LSE-D LSE-C" line per track, the file whose mean papers report), <out_dir>/lse_scores.csv (video,
track, frames, offset, scores) and prints the summary with the settings that made it.
"""

from __future__ import annotations

import argparse
import csv
import os
from typing import Optional, Sequence

if __package__ in (None, ""):
    import _bootstrap  # noqa: F401


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of score_lse.py."""
    from emogen.common.cli import ArgumentParser, non_negative_int, positive_int
    from emogen.common.device import add_device_argument
    from evaluation.metrics.summary import add_summary_argument
    from evaluation.metrics.video_lists import add_video_source_args
    from face_detection.registry import add_face_detector_argument

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_video_source_args(p, "videos to score")
    p.add_argument("--out_dir", default="lse_results", help="where all_scores.txt and lse_scores.csv go")
    p.add_argument(
        "--syncnet_path",
        default=None,
        help="syncnet_v2.model (default $EMOGEN_SYNCNET_PATH or checkpoints/syncnet_v2.model)",
    )
    p.add_argument("--whole_frame", action="store_true", help="score the whole frame, no face tracking")
    add_face_detector_argument(
        p, default="reference", lse=True, help_extra="; anything but reference is labelled non-standard in the results"
    )
    p.add_argument(
        "--detector_path",
        default=None,
        help="weights of the reference detector: sfd_face.pth or s3fd.pth (default "
        "$EMOGEN_SFD_FACE_PATH, checkpoints/sfd_face.pth, or an installed s3fd.pth)",
    )
    p.add_argument(
        "--average",
        choices=["tracks", "videos"],
        default="tracks",
        help="tracks (default, the reference): mean over every face track; videos: the longest track "
        "of each video, then the mean over videos",
    )
    p.add_argument(
        "--min_track",
        type=positive_int,
        default=25,
        help="shortest face track scored, in frames (25 for ~2.5 s CREMA-D clips; the reference "
        "uses 100, which gives no track on them)",
    )
    p.add_argument(
        "--min_face_size", type=non_negative_int, default=100, help="smallest mean face size in pixels (100)"
    )
    add_device_argument(p)
    add_summary_argument(p)
    p.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Score every video and write the results."""
    args = get_args_parser().parse_args(argv)
    from tqdm import tqdm

    from emogen.common.atomic import atomic_path
    from emogen.common.device import resolve_device
    from emogen.common.errors import UserError
    from evaluation.metrics.face_tracks import TrackSettings
    from evaluation.metrics.lse import average, load_syncnet_eval, main_track, score_video
    from evaluation.metrics.summary import write_summary
    from evaluation.metrics.video_lists import collect_videos
    from face_detection.registry import canonical_name, create_detector

    videos = collect_videos(args.videos_dir, args.filelist)
    device = str(resolve_device(args.device))
    model = load_syncnet_eval(args.syncnet_path, device)
    detector, label = None, "whole frame (no face tracking; non-standard)"
    if not args.whole_frame:
        if canonical_name(args.face_detector) == "syncnet_s3fd":
            detector = create_detector("syncnet_s3fd", device=device, weights_path=args.detector_path)
            label = f"reference S3FD ({detector.weights}; scale 0.25, confidence 0.9, NMS 0.1)"
        else:
            detector = create_detector(args.face_detector, device=device)
            label = f"{args.face_detector} (non-standard: not comparable with published LSE)"
    settings = TrackSettings(min_track=args.min_track, min_face_size=args.min_face_size)
    tracks, kept = [], []
    for path in tqdm(videos, desc="LSE", unit="video", disable=args.no_progress):
        try:
            scores = score_video(path, model, detector, settings, args.whole_frame, device)
        except (UserError, ValueError) as exc:
            print(f"skipped {path}: {exc}")
            continue
        if not scores:
            print(f"skipped {path}: no face track of more than {args.min_track} frames")
            continue
        tracks += scores
        kept += scores if args.average == "tracks" else [main_track(scores)]
    if not kept:
        raise UserError("no video could be scored")
    os.makedirs(args.out_dir, exist_ok=True)
    mean_d, mean_c = average(kept)
    with atomic_path(os.path.join(args.out_dir, "all_scores.txt"), suffix=".tmp") as tmp:
        with open(tmp, "w") as handle:
            for s in kept:
                handle.write(f"{s.score.dist} {s.score.conf}\n")
    with atomic_path(os.path.join(args.out_dir, "lse_scores.csv"), suffix=".tmp") as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["video", "track", "start_frame", "end_frame", "offset", "lse_d", "lse_c", "windows"])
            for s in tracks:
                writer.writerow(
                    [
                        s.video,
                        s.track,
                        s.start_frame,
                        s.end_frame,
                        s.score.offset,
                        f"{s.score.dist:.6f}",
                        f"{s.score.conf:.6f}",
                        s.score.windows,
                    ]
                )
    width = max(len(s.video) for s in kept)
    print(f"{'video':<{width}}  track  offset   LSE-D   LSE-C")
    for s in kept:
        print(f"{s.video:<{width}}  {s.track:5d} {s.score.offset:7d} {s.score.dist:7.3f} {s.score.conf:7.3f}")
    what = (
        f"{len(kept)} face tracks of {len({s.video for s in kept})} videos (reference averaging)"
        if args.average == "tracks"
        else f"{len(kept)} videos, longest track each (--average videos)"
    )
    print(f"{'mean':<{width}}                {mean_d:7.3f} {mean_c:7.3f}")
    print(
        f"LSE-D {mean_d:.3f}, LSE-C {mean_c:.3f}: mean over {what}; min_track {args.min_track} frames; faces: "
        f"{label}; results in {args.out_dir}"
    )
    write_summary(args.summary_json, {"LSE-D": mean_d, "LSE-C": mean_c, "scored": what, "faces": label})
    return 0


if __name__ == "__main__":
    from emogen.common.errors import run_script

    run_script(main)
