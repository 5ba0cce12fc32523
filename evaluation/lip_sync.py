"""Lip sync of a folder of generated videos, judged by dlib's 68-point landmark model (trained elsewhere; no
SyncNet weights needed): dubbing sync (does the mouth follow the speech that drove it?), copy (does it follow the
source video's mouth instead?), LMD and mouth-LMD against real frames where they exist, and identity similarity.
Each source video is also scored with its own soundtrack, the real baseline. docs/evaluation.md has the
definitions. Needs the landmarks extra (pip install face-recognition-models).
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Optional, Sequence

if __package__ in (None, ""):
    import _bootstrap  # noqa: F401


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of lip_sync.py."""
    from emogen.common.cli import ArgumentParser
    from evaluation.metrics.summary import add_summary_argument
    from evaluation.metrics.video_lists import add_video_source_args

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_video_source_args(p, "generated videos to score (each with the speech that drove it as its soundtrack)")
    p.add_argument("--source", default=None, help="the face video every output was drawn on (copy, identity)")
    p.add_argument(
        "--source_dir",
        default=None,
        help="folder of source face videos, matched by name (<name>.mp4 for <name>_<EMOTION>.mp4); instead of --source",
    )
    p.add_argument(
        "--real_dir",
        default=None,
        help="folder of real videos of the same speech, matched as --source_dir (LMD and mouth-LMD); "
        "only where the outputs redraw real footage",
    )
    p.add_argument("--no_identity", action="store_true", help="skip the identity descriptors (faster)")
    p.add_argument(
        "--plot",
        default=None,
        metavar="PNG",
        help="also draw mouth opening and speech loudness over time: the first source with its own speech (the "
        "real baseline) above the first output with the speech that drove it",
    )
    add_summary_argument(p)
    p.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return p


def _cell(value: float, width: int) -> str:
    return f"{value:{width}.3f}" if not math.isnan(value) else f"{'-':>{width}}"


def _cells(values) -> str:
    return " ".join(_cell(v, 9) for v in values)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Score every video, print the table and the real baseline."""
    args = get_args_parser().parse_args(argv)
    from functools import partial

    from tqdm import tqdm

    from emogen.common.errors import UserError, require_file
    from evaluation.metrics.lip_sync import score_results
    from evaluation.metrics.lip_sync_plot import plot_mouth_and_speech
    from evaluation.metrics.summary import write_summary
    from evaluation.metrics.video_lists import collect_videos, reference_video

    if args.source and args.source_dir:
        raise UserError("--source and --source_dir: give one of them")
    if args.source:
        require_file(args.source, "--source", "the face video the outputs were drawn on")
    videos = collect_videos(args.videos_dir, args.filelist)

    def matched(folder: Optional[str], video: str) -> Optional[str]:
        return reference_video(video, folder) if folder else None

    sources = {v: args.source or matched(args.source_dir, v) for v in videos}
    reals = {v: matched(args.real_dir, v) for v in videos}
    report = score_results(
        videos, sources, reals, not args.no_identity, partial(tqdm, desc="lip sync", disable=args.no_progress)
    )
    width = max(len(os.path.basename(s.video)) for s in report.scores)
    names = ("dubbing_sync", "copy", "lmd", "mouth_lmd", "identity")
    print(f"{'video':<{width}}  frames  dubbing sync   copy    LMD  mouth-LMD  identity")
    for s in report.scores:
        values = [getattr(s, n) for n in names]
        print(f"{os.path.basename(s.video):<{width}}  {s.frames:6d}  {_cell(values[0], 12)} {_cells(values[1:])}")
    means = {n: report.mean(n) for n in names}
    print(f"{'mean':<{width}}          {_cell(means['dubbing_sync'], 12)} {_cells(list(means.values())[1:])}")
    if any(math.isnan(v) for s in report.scores for v in (s.dubbing_sync, s.copy)):
        print("-: undefined (fewer than 10 frames with a face, or a mouth opening that never changes)")
    for source, r in report.baselines.items():
        print(f"real baseline: {os.path.basename(source)} with its own speech, dubbing sync {r:.3f}")
    if args.plot:
        first = report.scores[0]
        rows = []
        source = sources.get(first.video)
        if source in report.curves:
            r = report.baselines[source]
            rows.append(
                (f"real: {os.path.basename(source)} with its own speech (dubbing sync {r:.2f})", *report.curves[source])
            )
        name = os.path.basename(first.video)
        rows.append(
            (
                f"output: {name} with the speech that drove it (dubbing sync {first.dubbing_sync:.2f}, copy {first.copy:.2f})",
                *report.curves[first.video],
            )
        )
        plot_mouth_and_speech(rows, args.plot)
        print(f"picture: {args.plot}")
    write_summary(
        args.summary_json,
        {
            "mean": means,
            "real_baseline": report.baseline,
            "baselines": {os.path.basename(k): v for k, v in report.baselines.items()},
            "videos": [vars(s) for s in report.scores],
        },
    )
    return 0


if __name__ == "__main__":
    from emogen.common.errors import run_script

    run_script(main)
