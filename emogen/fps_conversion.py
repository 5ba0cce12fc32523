"""Converting a folder of videos to a fixed frame rate with ffmpeg, in parallel, resumable and atomic."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Optional

from tqdm import tqdm

from .atomic import atomic_path
from .errors import UserError
from .media import input_arg, probe, require_tool, run_ffmpeg

VIDEO_EXTENSIONS = (".mp4", ".mpg", ".mov", ".flv")


def find_videos(root: str) -> list[str]:
    """Video files (.mp4 .mpg .mov .flv, any letter case) under ``root``, as sorted relative paths."""
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found)


def output_path(rel: str, out_root: str) -> str:
    """<out_root>/<same relative path with .mp4>."""
    return os.path.join(out_root, os.path.splitext(rel)[0] + ".mp4")


def _duration(path: str) -> Optional[float]:
    try:
        info = probe(path)
    except UserError:
        return None
    if not any(s.get("codec_type") == "video" for s in info.get("streams", [])):
        return None
    try:
        return float(info["format"]["duration"])
    except (KeyError, ValueError):
        return None


def is_complete(src: str, dst: str, tolerance: float = 0.5) -> bool:
    """An existing output counts as done when it has a video stream and about the source's duration."""
    if not os.path.isfile(dst):
        return False
    got, want = _duration(dst), _duration(src)
    return got is not None and (want is None or abs(got - want) <= tolerance)


def convert_one(src: str, dst: str, fps: float) -> None:
    """Re-time ``src`` to ``fps`` (audio kept, AAC) into ``dst`` via a temporary file and a rename."""
    with atomic_path(dst, suffix=".mp4") as tmp:
        run_ffmpeg(["-i", input_arg(src), "-filter:v", f"fps={fps:g}", "-c:v", "libx264", "-preset", "veryfast",
                    "-crf", "18", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", "-f", "mp4",
                    input_arg(tmp)], f"convert {src}")


@dataclass
class ConversionSummary:
    """Counts and failures of one conversion run."""

    converted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def report(self) -> str:
        """Human-readable closing summary."""
        lines = [f"converted {len(self.converted)}, skipped {len(self.skipped)} (already done), "
                 f"failed {len(self.failed)}"]
        lines += [f"  failed: {path}: {error}" for path, error in self.failed]
        return "\n".join(lines)


def convert_folder(in_root: str, out_root: str, fps: float = 25.0, workers: int = 4, overwrite: bool = False,
                   progress: bool = True) -> ConversionSummary:
    """Convert every video under ``in_root`` to ``fps`` into ``out_root`` (same relative layout)."""
    if not os.path.isdir(in_root):
        raise UserError(f"input folder not found: {in_root}")
    if fps <= 0:
        raise UserError(f"-fps must be positive, got {fps}")
    require_tool("ffmpeg")
    videos = find_videos(in_root)
    if not videos:
        raise UserError(f"no .mp4 .mpg .mov or .flv files under {in_root}")
    summary = ConversionSummary()

    def job(rel: str) -> tuple[str, str, Optional[str]]:
        src, dst = os.path.join(in_root, rel), output_path(rel, out_root)
        if not overwrite and is_complete(src, dst):
            return rel, "skipped", None
        try:
            convert_one(src, dst, fps)
        except UserError as exc:
            return rel, "failed", str(exc)
        return rel, "converted", None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(job, rel) for rel in videos]
        for fut in tqdm(as_completed(futures), total=len(futures), desc="converting", unit="video",
                        disable=not progress):
            rel, status, error = fut.result()
            if status == "failed":
                summary.failed.append((rel, error or ""))
            else:
                getattr(summary, status).append(rel)
    return summary
