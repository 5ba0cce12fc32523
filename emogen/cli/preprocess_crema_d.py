"""Preprocess 25 fps CREMA-D videos: face crops per frame, 16 kHz audio, cached mels, filelists.

Resumable: a video's folder is complete only once its marker is written; re-running skips complete videos and
redoes partial ones. Corrupt videos are reported and skipped.
Exit status: 0 all videos done; 1 some videos failed (the summary lists them, the rest is usable);
2 nothing usable (one line says why, no filelists are written).
"""

from __future__ import annotations

import argparse
import os
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of preprocess_crema-d.py."""
    from emogen.common.cli import ArgumentParser, int_range, non_negative_float, non_negative_int
    from face_detection.registry import add_face_detector_argument

    p = ArgumentParser(description=__doc__)
    p.add_argument("--data_root", required=True, help="folder of 25 fps videos (from convertFPS.py)")
    p.add_argument("--preprocessed_root", required=True, help="output folder")
    p.add_argument("--ngpu", type=non_negative_int, default=0, help="GPUs to spread the videos over (0: CPU)")
    p.add_argument("--workers", type=int_range(1, 256), default=1, help="CPU worker processes when --ngpu 0")
    p.add_argument(
        "--batch_size",
        type=int_range(1, 4096),
        default=32,
        help="frames per face-detection batch (default 32; at most 4096)",
    )
    add_face_detector_argument(p)
    p.add_argument(
        "--detection",
        choices=["exact", "fast"],
        default="exact",
        help="exact (default): the detector on every frame, as the original; fast: on every 5th frame near the last "
        "face, boxes interpolated between, the whole frame searched again on a cut or a jump (see inference.py)",
    )
    p.add_argument(
        "--allow_any_names",
        action="store_true",
        help="also process videos whose names are not ActorID_SentenceID_EMOTION_INTENSITY",
    )
    p.add_argument("--filelist_dir", default="filelists", help="where train.txt, val.txt, test.txt are written")
    p.add_argument(
        "--split",
        choices=["actor", "random"],
        default="actor",
        help="actor: speaker-independent split by actor (default); random: the original 95/5 clip split",
    )
    p.add_argument(
        "--split_ratios",
        nargs=3,
        type=non_negative_float,
        default=[0.8, 0.1, 0.1],
        metavar=("TRAIN", "VAL", "TEST"),
        help="share of actors per split for --split actor (default 0.8 0.1 0.1)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    p.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Preprocess, summarise, write filelists."""
    args = get_args_parser().parse_args(argv)
    from emogen.common.atomic import check_creatable_dir
    from emogen.common.errors import UserError
    from emogen.data.filelists import actor_of, split_by_actor, split_random, write_filelists
    from emogen.data.preprocess import MIN_WINDOWS, preprocess_dataset, trainable

    # Checked before the long work, not after it: the filelists are written last.
    check_creatable_dir(args.filelist_dir, f"--filelist_dir {args.filelist_dir}")
    reports = preprocess_dataset(
        args.data_root,
        args.preprocessed_root,
        args.face_detector,
        args.ngpu,
        args.workers,
        args.batch_size,
        args.allow_any_names,
        progress=not args.no_progress,
        detection=args.detection,
    )
    done = [r for r in reports if r.status == "done"]
    skipped = [r for r in reports if r.status == "skipped-complete"]
    failed = [r for r in reports if r.status == "failed"]
    refused = [r for r in reports if r.status == "bad-name"]
    short = [r for r in reports if r.status in ("done", "skipped-complete") and not trainable(r)]
    print(f"processed {len(done)}, already complete {len(skipped)}, failed {len(failed)}, names refused {len(refused)}")
    for r in failed + refused:
        print(f"  {r.status}: {r.name}: {r.error}")
    for r in short:
        print(
            f"  too few usable frames: {r.name} ({r.usable_windows} windows of 5 frames with a face; "
            f"needs {MIN_WINDOWS})"
        )
    names = sorted(r.name for r in reports if trainable(r))
    if not names:
        first = next((f"{r.name}: {r.error}" for r in failed + refused), "every video has too few face frames")
        raise UserError(
            f"nothing usable: none of the {len(reports)} videos under {args.data_root} gave a trainable "
            f"clip ({len(failed)} failed, {len(refused)} names refused, {len(short)} too short; "
            f"first: {first}); no filelists written"
        )
    splits = (
        split_random(names, seed=args.seed)
        if args.split == "random"
        else split_by_actor(names, args.split_ratios, seed=args.seed)
    )
    write_filelists(args.filelist_dir, splits)
    print(f"filelists in {args.filelist_dir}: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()))
    if args.split == "actor" and not splits["val"] and len(names) > 1:
        actors = len({actor_of(n) for n in names})
        print(
            f"note: {actors} actor(s): a speaker-independent split cannot hold one out, so val is empty and training "
            "runs without validation; --split random holds out clips instead (the original's split)"
        )
    print(f"summary: {os.path.join(args.preprocessed_root, 'preprocess_summary.tsv')}")
    return 1 if failed else 0  # some clips failed: the summary says which; exit 2 means nothing usable


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
