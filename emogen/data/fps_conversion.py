"""Converting a folder of videos to a fixed frame rate with ffmpeg, in parallel, resumable and atomic."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Optional

from tqdm import tqdm

from emogen.common.atomic import atomic_path
from emogen.common.errors import UserError
from emogen.common.media import Cancelled, input_arg, probe, require_tool, run_ffmpeg
from emogen.common.paths import within

VIDEO_EXTENSIONS = (".mp4", ".mpg", ".mov", ".flv")


def find_videos(root: str, exclude: Optional[str] = None) -> list[str]:
    """Video files (.mp4 .mpg .mov .flv, any letter case) under ``root``, as sorted relative paths, leaving out the
    ``exclude`` tree (an output folder inside the input folder must not be converted again)."""
    found = []
    skip = os.path.realpath(exclude) if exclude else None
    for folder, dirs, files in os.walk(root):
        if skip:
            dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(folder, d)) != skip]
        for name in files:
            if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found)


def output_path(rel: str, out_root: str) -> str:
    """<out_root>/<same relative path with .mp4>."""
    return os.path.join(out_root, os.path.splitext(rel)[0] + ".mp4")


SOURCE_TAG = "emogen-source"  # written into each output's comment: which source (size, mtime) it was made from


def _describe(path: str) -> tuple[Optional[float], str]:
    """(duration in s if the file has a video stream, else None; the output's source tag or '')."""
    try:
        info = probe(path)
    except UserError:
        return None, ""
    fmt = info.get("format", {})
    comment = (fmt.get("tags") or {}).get("comment", "")
    if not any(s.get("codec_type") == "video" for s in info.get("streams", [])):
        return None, comment
    try:
        return float(fmt["duration"]), comment
    except (KeyError, ValueError):
        return None, comment


def source_signature(src: str, fps: float) -> str:
    """What identifies an output's making: the source's size and modification time, and the frame rate."""
    st = os.stat(src)
    return f"{SOURCE_TAG}:{st.st_size}:{st.st_mtime_ns}:{fps:g}"


def is_complete(src: str, dst: str, fps: float) -> bool:
    """An existing output counts as done only when it was converted from this very source at this frame rate
    (its tag says so; a truncated source reported short once is not redone every run). Outputs without that
    tag (older runs, other tools, a different -fps) are converted again."""
    if not os.path.isfile(dst):
        return False
    got, tag = _describe(dst)
    return got is not None and tag == source_signature(src, fps)


def convert_one(
    src: str, dst: str, fps: float, tolerance: float = 0.5, cancel: Optional[threading.Event] = None
) -> Optional[str]:
    """Re-time ``src`` to ``fps`` (audio kept, AAC) into ``dst`` via a temporary file and a rename; returns a
    note when the output is shorter than the source says it is (a truncated source), else None. A source without
    a picture (audio only, or not a video at all) is refused: it would become a video-less output."""
    try:
        streams = probe(src).get("streams", [])
    except UserError:
        streams = None  # unreadable: ffmpeg's own error below says why
    if streams is not None and not any(s.get("codec_type") == "video" for s in streams):
        raise UserError(f"{src} has no video stream (audio only?); a clip needs the face")
    want, _ = _describe(src)
    with atomic_path(dst, suffix=".mp4") as tmp:
        run_ffmpeg(
            [
                "-i",
                input_arg(src),
                "-filter:v",
                f"fps={fps:g}",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "18",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                "192k",
                "-metadata",
                f"comment={source_signature(src, fps)}",
                "-f",
                "mp4",
                input_arg(tmp),
            ],
            f"convert {src}",
            cancel,
        )
        got, _ = _describe(tmp)
    if got is not None and want is not None and want - got > tolerance:
        return f"only {got:.2f} s of {want:.2f} s could be decoded (truncated or damaged source?)"
    return None


@dataclass
class ConversionSummary:
    """Counts and failures of one conversion run."""

    converted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    short: list[tuple[str, str]] = field(default_factory=list)  # converted, but shorter than the source

    def report(self) -> str:
        """Human-readable closing summary."""
        lines = [
            f"converted {len(self.converted)}, skipped {len(self.skipped)} (already done), failed {len(self.failed)}"
        ]
        lines += [f"  failed: {path}: {error}" for path, error in self.failed]
        lines += [f"  short: {path}: {note}" for path, note in self.short]
        return "\n".join(lines)


def convert_folder(
    in_root: str, out_root: str, fps: float = 25.0, workers: int = 4, overwrite: bool = False, progress: bool = True
) -> ConversionSummary:
    """Convert every video under ``in_root`` to ``fps`` into ``out_root`` (same relative layout)."""
    if not os.path.isdir(in_root):
        raise UserError(f"input folder not found: {in_root}")
    if fps <= 0:
        raise UserError(f"-fps must be positive, got {fps}")
    require_tool("ffmpeg")
    if os.path.realpath(in_root) == os.path.realpath(out_root):
        raise UserError(
            f"-o {out_root} is the input folder: converting in place would replace the sources; choose "
            "another output folder"
        )
    if within(in_root, out_root):
        # Outputs would land among files the user keeps beside the input tree (anc/sub/clip.flv -> anc/clip.mp4).
        raise UserError(
            f"-o {out_root} contains the input folder {in_root}: outputs could replace files there; choose an "
            "output folder outside it (one inside the input folder is fine)"
        )
    videos = find_videos(in_root, exclude=out_root)
    if not videos:
        raise UserError(f"no .mp4 .mpg .mov or .flv files under {in_root}")
    summary = ConversionSummary()
    # clip.mp4, clip.mov and clip.MP4 would all be written to clip.mp4: convert none of them, say which.
    by_output: dict[str, list[str]] = {}
    for rel in videos:
        by_output.setdefault(output_path(rel, out_root), []).append(rel)
    for group in by_output.values():
        if len(group) > 1:
            for rel in group:
                others = ", ".join(r for r in group if r != rel)
                summary.failed.append((rel, f"same output name as {others}; rename one of them"))
    videos = [rel for rel in videos if len(by_output[output_path(rel, out_root)]) == 1]

    def job(rel: str) -> tuple[str, str, Optional[str]]:
        src, dst = os.path.join(in_root, rel), output_path(rel, out_root)
        try:
            if not os.path.isfile(src):
                return rel, "failed", "cannot be read (a broken link, or removed while converting)"
            if not overwrite and is_complete(src, dst, fps):
                return rel, "skipped", None
            if cancel.is_set():
                return rel, "cancelled", None
            note = convert_one(src, dst, fps, cancel=cancel)
        except Cancelled:
            return rel, "cancelled", None
        except UserError as exc:
            return rel, "failed", str(exc)
        except OSError as exc:
            return rel, "failed", f"{exc.strerror or exc}"
        return rel, "converted", note

    # Ctrl-C, SIGTERM or SIGHUP: queued clips are dropped and running ffmpegs ended (their partial outputs go
    # with their temporary names), so the interrupt takes effect within a moment, not after every clip.
    cancel = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = [pool.submit(job, rel) for rel in videos]
        for fut in tqdm(
            as_completed(futures), total=len(futures), desc="converting", unit="video", disable=not progress
        ):
            rel, status, note = fut.result()
            if status == "cancelled":
                continue
            if status == "failed":
                summary.failed.append((rel, note or ""))
                continue
            getattr(summary, status).append(rel)
            if note:
                summary.short.append((rel, note))
    except BaseException:
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return summary
