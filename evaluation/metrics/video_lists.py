"""Collecting the videos an evaluation script works on: a folder, or a filelist of paths or names."""

from __future__ import annotations

import argparse
import os
from typing import Optional

from emogen.common.contract import EMOTIONS
from emogen.common.errors import UserError
from emogen.data.fps_conversion import find_videos


def add_video_source_args(p: argparse.ArgumentParser, what: str) -> None:
    """The --videos_dir / --filelist pair that collect_videos reads."""
    p.add_argument("--videos_dir", default=None, help=f"folder of {what} (searched recursively)")
    p.add_argument("--filelist", default=None, help="text file of video paths or names (relative to --videos_dir)")


def collect_videos(folder: Optional[str], filelist: Optional[str] = None) -> list[str]:
    """Video paths from ``folder`` (recursively), or the lines of ``filelist`` (relative to ``folder`` if given)."""
    if filelist:
        if not os.path.isfile(filelist):
            raise UserError(f"filelist not found: {filelist}")
        with open(filelist) as handle:
            names = [ln.strip() for ln in handle if ln.strip()]
        paths = []
        for name in names:
            path = os.path.join(folder, name) if folder else name
            if not os.path.splitext(path)[1] and os.path.isfile(path + ".mp4"):
                path += ".mp4"
            paths.append(path)
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise UserError(f"{len(missing)} videos of {filelist} not found, e.g. {missing[0]}")
        return paths
    if not folder or not os.path.isdir(folder):
        raise UserError(f"video folder not found: {folder}")
    videos = [os.path.join(folder, rel) for rel in find_videos(folder)]
    if not videos:
        raise UserError(f"no videos in {folder}")
    return videos


def intended_emotion(path: str) -> Optional[int]:
    """The emotion a video was generated for: the last ANG/DIS/FEA/HAP/NEU/SAD field of its name."""
    fields = os.path.splitext(os.path.basename(path))[0].split("_")
    for token in reversed(fields):
        if token.upper() in EMOTIONS:
            return EMOTIONS.index(token.upper())
    return None


def reference_video(generated: str, reference_dir: str, relative: Optional[str] = None) -> Optional[str]:
    """The source video of a generated one in ``reference_dir``: the same name, or the name without its
    _<EMOTION> suffix (what gen_videos_from_filelist.py writes), under the same ``relative`` sub-folder."""
    name = os.path.basename(generated)
    reference_dir = os.path.join(reference_dir, relative) if relative else reference_dir
    stem, ext = os.path.splitext(name)
    candidates = [name]
    if intended_emotion(generated) is not None and "_" in stem:
        candidates.append(stem.rsplit("_", 1)[0] + ext)
    for candidate in candidates:
        path = os.path.join(reference_dir, candidate)
        if os.path.isfile(path):
            return path
    return None
