"""PSNR, SSIM and CPBD between real and generated videos paired by file name (frames paired by index).

<clip>_<EMOTION>.mp4 (what gen_videos_from_filelist.py writes) is paired with <clip>.mp4, as is <clip>.mp4.

Frames are compared in grayscale as the original img_eval.py does; the generated frame is resized to the real
one when sizes differ. CPBD is the sharpness of the generated frame.
"""

from __future__ import annotations

import argparse
import os
from typing import Optional, Sequence

if __package__ in (None, ""):
    import _bootstrap  # noqa: F401


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of img_eval.py."""
    from emogen.common.cli import ArgumentParser, positive_int
    from evaluation.metrics.summary import add_summary_argument

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--real_dir", required=True, help="folder of ground-truth videos")
    p.add_argument("--generated_dir", required=True, help="folder of generated videos with the same file names")
    p.add_argument("--max_frames", type=positive_int, default=None, help="at most this many frames per video")
    p.add_argument(
        "--original_uint8_psnr",
        action="store_true",
        help="compute PSNR with the original script's uint8 wrap-around (to compare with its numbers)",
    )
    add_summary_argument(p)
    p.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Pair videos, score frames, print the table."""
    args = get_args_parser().parse_args(argv)
    from tqdm import tqdm

    from emogen.common.errors import UserError
    from emogen.common.media import iter_frames
    from evaluation.metrics.image_quality import PairMetrics
    from evaluation.metrics.summary import write_summary
    from evaluation.metrics.video_lists import collect_videos, reference_video

    generated = collect_videos(args.generated_dir)
    pairs = []
    for path in generated:
        real = reference_video(path, args.real_dir, os.path.dirname(os.path.relpath(path, args.generated_dir)))
        if real is not None:
            pairs.append((real, path))
    if not pairs:
        raise UserError(
            f"no generated video in {args.generated_dir} has a real video in {args.real_dir} with the "
            "same name or the name without its _<EMOTION> suffix"
        )
    total = PairMetrics()
    rows = []
    for real, gen in tqdm(pairs, desc="PSNR/SSIM/CPBD", unit="video", disable=args.no_progress):
        video = PairMetrics()
        for a, b in zip(iter_frames(real, limit=args.max_frames), iter_frames(gen, limit=args.max_frames)):
            video.add(a, b, args.original_uint8_psnr)
        total.merge(video)
        rows.append((os.path.basename(gen), video.frames, video.means()))
    width = max(len(r[0]) for r in rows)
    print(f"{'video':<{width}}  frames    PSNR    SSIM    CPBD")
    for name, frames, m in rows + [("mean", total.frames, total.means())]:
        print(f"{name:<{width}}  {frames:6d} {m['PSNR']:7.3f} {m['SSIM']:7.4f} {m['CPBD']:7.4f}")
    write_summary(
        args.summary_json,
        {"mean": total.means(), "frames": total.frames, "videos": {n: {"frames": f, **m} for n, f, m in rows}},
    )
    return 0


if __name__ == "__main__":
    from emogen.common.errors import run_script

    run_script(main)
