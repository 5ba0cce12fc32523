"""Generate the test videos of a filelist: one per clip and emotion (all six by default), resumable.

For each clip name in the filelist the face video is <video_root>/<name>.mp4 and the speech is that video's
own soundtrack (or <audio_root>/<name>.wav with --audio_root). Outputs are <out_dir>/<name>_<EMOTION>.mp4;
existing outputs are skipped, and face detection runs once per clip thanks to inference's detection cache.
"""

from __future__ import annotations

import argparse
import os
from typing import Optional, Sequence

if __package__ in (None, ""):
    import _bootstrap  # noqa: F401


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of gen_videos_from_filelist.py."""
    from emogen.common.cli import ArgumentParser
    from emogen.inference.arguments import (
        add_detection_arguments,
        add_missing_face_argument,
        add_reference_argument,
        add_runtime_arguments,
    )
    from emogen.inference.blending import add_blend_argument

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filelist", required=True, help="clip names, one per line (e.g. filelists/test.txt)")
    p.add_argument("--video_root", required=True, help="folder with <name>.mp4 face videos (25 fps)")
    p.add_argument("--audio_root", default=None, help="folder with <name>.wav speech (default: the video's audio)")
    p.add_argument("--checkpoint_path", required=True, help="EmoGen generator checkpoint")
    p.add_argument("--out_dir", required=True, help="where <name>_<EMOTION>.mp4 are written")
    p.add_argument(
        "--emotions",
        nargs="+",
        default=["all"],
        help="emotions to generate: labels (ANG DIS FEA HAP NEU SAD, or comma lists) or all (default)",
    )
    add_detection_arguments(p, default="exact", tuning=False)  # the paper's videos: the original's detection
    add_missing_face_argument(p)
    add_reference_argument(p, default="frame")  # the paper's videos: the original's reference
    # The paper's metrics were computed on hard-pasted frames, so scoring keeps the original paste by default.
    add_blend_argument(p, default="hard")
    add_runtime_arguments(p, encoder=False)
    p.add_argument("--no_progress", action="store_true", help="hide progress bars")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Generate every missing output; report generated, skipped and failed clips."""
    args = get_args_parser().parse_args(argv)
    from tqdm import tqdm

    from emogen.common.device import resolve_device
    from emogen.common.errors import UserError
    from emogen.common.generator_kind import LIPSYNC, WAV2LIP, generator_kind
    from emogen.common.paths import child_path
    from emogen.data.filelists import read_filelist
    from emogen.inference.arguments import options_from_args
    from emogen.inference.options import emotions_for
    from emogen.inference.pipeline import generator_for, run_inference
    from emogen.inference.plan import prepare, resolve_runtime

    names = read_filelist(args.filelist)
    for name in names:  # before any work: an entry such as ../x would write outside --out_dir
        child_path(args.out_dir, name, "filelist")
    if (
        os.path.isfile(args.checkpoint_path)
        and generator_kind(args.checkpoint_path) == WAV2LIP
        and args.emotions == ["all"]
    ):
        emotions = [LIPSYNC]  # a Wav2Lip generator makes one lip-synced video per clip: <name>_lipsync.mp4
    else:
        emotions = emotions_for(args.checkpoint_path, ",".join(args.emotions))
    device = resolve_device(args.device)
    runtime = resolve_runtime(options_from_args(args, face="", audio="", emotion="NEU", device=str(device)))
    model = generator_for(args.checkpoint_path, runtime)
    done = skipped = 0
    failed = []
    for name in tqdm(names, desc="clips", unit="clip", disable=args.no_progress):
        face = os.path.join(args.video_root, name + ".mp4")
        speech = os.path.join(args.audio_root, name + ".wav") if args.audio_root else face
        todo = [e for e in emotions if not os.path.isfile(os.path.join(args.out_dir, f"{name}_{e}.mp4"))]
        skipped += len(emotions) - len(todo)
        if not todo:
            continue
        # One pass over the clip for all its missing emotions: <out_dir>/<name>_<EMOTION>.mp4 each.
        opts = options_from_args(
            args,
            face=face,
            audio=speech,
            emotion=",".join(todo),
            outfile=os.path.join(args.out_dir, f"{name}.mp4")
            if len(todo) > 1
            else os.path.join(args.out_dir, f"{name}_{todo[0]}.mp4"),
            device=str(device),
            progress=False,
        )
        try:
            run_inference(prepare(opts, runtime), model=model)
            done += len(todo)
        except UserError as exc:
            failed.append(f"{name} {','.join(todo)}: {exc}")
    print(f"generated {done}, skipped {skipped} (already there), failed {len(failed)}")
    for line in failed:
        print(f"  failed: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    from emogen.common.errors import run_script

    run_script(main)
