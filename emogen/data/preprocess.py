"""Preprocessing a CREMA-D style video folder into face crops, 16 kHz audio and a cached mel per clip.

Layout written, per video: ``<out>/<video name>/<frame index>.jpg`` (frames where a face was found),
``audio.wav`` (16 kHz mono PCM), ``mel.npy`` (``audio.melspectrogram`` of that wav, float32) and last of all
``.complete.json`` (the per-video report). A folder without that marker is partial and is redone.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import threading
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator, Optional

import cv2
import numpy as np
from tqdm import tqdm

import audio
from emogen.common.atomic import atomic_path
from emogen.common.contract import WINDOW
from emogen.common.errors import UserError, one_line
from emogen.common.media import extract_audio, iter_frames
from hparams import hparams

from .crema_d import parse_crema_name
from .fps_conversion import find_videos
from .layout import AUDIO_FILE, MARKER, MEL_FILE, MIN_WINDOWS


@dataclass
class VideoReport:
    """What preprocessing found in one video."""

    name: str
    frames: int = 0
    faces: int = 0
    missing: int = 0
    usable_windows: int = 0
    status: str = "done"  # done | skipped-complete | failed | bad-name
    error: str = ""


def usable_windows(has_face: list[bool], window: int = WINDOW) -> int:
    """Number of start frames whose ``window`` consecutive frames all have a face crop."""
    run, count = 0, 0
    for ok in has_face:
        run = run + 1 if ok else 0
        if run >= window:
            count += 1
    return count


def is_complete(out_dir: str) -> bool:
    """True when the video's folder has its completion marker."""
    return os.path.isfile(os.path.join(out_dir, MARKER))


def read_report(out_dir: str) -> VideoReport:
    """The report stored in a completed folder's marker."""
    with open(os.path.join(out_dir, MARKER)) as handle:
        data = json.load(handle)
    data["status"] = "skipped-complete"
    return VideoReport(**data)


def _batches(frames: Iterable[np.ndarray], size: int) -> Iterable[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def frames_and_boxes(
    video_path: str, detector, batch_size: int = 32, detection: str = "exact"
) -> Iterator[tuple[np.ndarray, Optional[tuple]]]:
    """Each frame of a video with its best face box: the detector on every frame in batches (exact, the
    original), or on key frames with tracking in between (fast; face_detection/tracking.py)."""
    if detection == "fast":
        from face_detection.tracking import TrackSettings, track_video_boxes

        frames = list(iter_frames(video_path))  # a clip's frames; CREMA-D's are 2-5 s long
        yield from zip(frames, track_video_boxes(frames, detector, TrackSettings()))
        return
    from face_detection.video import BatchRunner

    run = BatchRunner(detector, batch_size)
    for batch in _batches(iter_frames(video_path), batch_size):
        yield from zip(batch, run(batch))


def preprocess_video(
    video_path: str, out_dir: str, detector, batch_size: int = 32, detection: str = "exact"
) -> VideoReport:
    """Write the crops, audio, mel and marker of one video (redoing a partial folder); never raises for bad media."""
    name = os.path.basename(out_dir)
    report = VideoReport(name)
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)  # partial from an interrupted run
    os.makedirs(out_dir)
    try:
        has_face: list[bool] = []
        for frame, box in frames_and_boxes(video_path, detector, batch_size, detection):
            index = len(has_face)
            has_face.append(box is not None)
            if box is not None:
                x1, y1, x2, y2 = box
                crop = frame[y1:y2, x1:x2]
                if crop.size and cv2.imwrite(os.path.join(out_dir, f"{index}.jpg"), crop):
                    continue
                has_face[-1] = False
        if not has_face:
            raise UserError("no readable frames")
        wav_path = os.path.join(out_dir, AUDIO_FILE)
        extract_audio(video_path, wav_path, hparams.sample_rate)
        mel = audio.melspectrogram(audio.load_wav(wav_path, hparams.sample_rate)).astype(np.float32)
        with atomic_path(os.path.join(out_dir, MEL_FILE), suffix=".npy") as tmp:
            np.save(tmp, mel)
        report.frames = len(has_face)
        report.faces = int(sum(has_face))
        report.missing = report.frames - report.faces
        report.usable_windows = usable_windows(has_face)
    except (UserError, cv2.error, OSError, ValueError, RuntimeError) as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        report.status, report.error = "failed", one_line(exc)
        return report
    with atomic_path(os.path.join(out_dir, MARKER), suffix=".tmp") as tmp:
        with open(tmp, "w") as handle:
            json.dump({k: v for k, v in asdict(report).items() if k != "status"}, handle)
    return report


_WORKER: dict = {}


def _init_worker(detector_name: str, devices: list[str], counter) -> None:
    from face_detection import create_detector

    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    try:
        _WORKER["detector"] = create_detector(detector_name, device=devices[slot % len(devices)])
    except BaseException as exc:  # reported by the first job this worker takes, which stops the run
        _WORKER["error"] = one_line(exc)


def _work(job: tuple[str, str, int, str]) -> VideoReport:
    src, dst, batch_size, detection = job
    if "error" in _WORKER:
        return VideoReport(os.path.basename(dst), status=WORKER_FAILED, error=_WORKER["error"])
    return preprocess_video(src, dst, _WORKER["detector"], batch_size, detection)


WORKER_FAILED = "worker-failed"


def _run_in_workers(todo: list, detector_name: str, devices: list[str], processes: int, on_report) -> None:
    """Process ``todo`` in worker processes; a worker that cannot start its detector or dies stops the whole run
    with a UserError (a multiprocessing.Pool would respawn such workers forever)."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")
    counter = ctx.Value("i", 0)
    # Workers are started with SIGINT ignored, which a new Python process keeps: Ctrl-C reaches the whole process
    # group, and only the parent should handle it (one line), not every worker in the middle of its imports.
    previous = (
        signal.signal(signal.SIGINT, signal.SIG_IGN) if threading.current_thread() is threading.main_thread() else None
    )
    try:
        executor = ProcessPoolExecutor(
            processes, mp_context=ctx, initializer=_init_worker, initargs=(detector_name, devices, counter)
        )
        pending = {executor.submit(_work, job): job for job in todo}
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                try:
                    report = future.result()
                except BrokenProcessPool:
                    raise UserError(
                        f"a preprocessing worker died while processing {job[0]} (killed, or out of "
                        "memory); finished videos are kept, re-run to resume"
                    ) from None
                if report.status == WORKER_FAILED:
                    raise UserError(f"a preprocessing worker could not start its face detector: {report.error}")
                on_report(report)
    except KeyboardInterrupt:
        # Workers ignore SIGINT: end them now (their partial folders are redone on the next run).
        for process in list(getattr(executor, "_processes", {}).values()):
            process.terminate()
        raise
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)


def plan_jobs(data_root: str, out_root: str, allow_any_names: bool) -> tuple[list[tuple[str, str]], list[VideoReport]]:
    """(source, destination) per video to process, and reports for names refused or duplicated."""
    jobs, refused, seen = [], [], set()
    for rel in find_videos(data_root):
        stem = os.path.splitext(os.path.basename(rel))[0]
        if stem in seen:
            refused.append(VideoReport(stem, status="bad-name", error=f"duplicate video name ({rel})"))
            continue
        seen.add(stem)
        if any(c in stem for c in "\n\r\t"):
            # Filelists hold one name per line and the summary is tab-separated: such a name cannot survive.
            refused.append(
                VideoReport(
                    stem.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"),
                    status="bad-name",
                    error="the name has a line break or a tab; rename the file (filelists hold one name per line)",
                )
            )
            continue
        if parse_crema_name(stem) is None and not allow_any_names:
            refused.append(
                VideoReport(
                    stem, status="bad-name", error="not ActorID_SentenceID_EMOTION_INTENSITY; use --allow_any_names"
                )
            )
            continue
        jobs.append((os.path.join(data_root, rel), os.path.join(out_root, stem)))
    return jobs, refused


def preprocess_dataset(
    data_root: str,
    out_root: str,
    detector_name: str = "auto",
    ngpu: int = 0,
    workers: int = 1,
    batch_size: int = 32,
    allow_any_names: bool = False,
    progress: bool = True,
    detection: str = "exact",
) -> list[VideoReport]:
    """Preprocess every video (resuming), write the summary file, and return all reports."""
    from face_detection import create_detector, resolve_detector_name

    if not os.path.isdir(data_root):
        raise UserError(f"--data_root {data_root} is not a folder")
    jobs, reports = plan_jobs(data_root, out_root, allow_any_names)
    if not jobs and not reports:
        raise UserError(f"no videos (.mp4 .mpg .mov .flv) under {data_root}")
    os.makedirs(out_root, exist_ok=True)
    todo = []
    for src, dst in jobs:
        if is_complete(dst):
            reports.append(read_report(dst))
        else:
            todo.append((src, dst, batch_size, detection))
    concrete = resolve_detector_name(detector_name)
    bar = tqdm(total=len(todo), desc="preprocessing", unit="video", disable=not progress)

    def collect(report: VideoReport) -> None:
        reports.append(report)
        bar.update(1)

    if todo and (ngpu > 0 or workers > 1):
        # Start one detector here first: a detector that cannot start (missing or corrupt weights, no cascade)
        # is then one line before any worker is spawned.
        create_detector(concrete, device="cpu")
        devices = [f"cuda:{i}" for i in range(ngpu)] if ngpu > 0 else ["cpu"]
        _run_in_workers(todo, concrete, devices, max(ngpu, 1) if ngpu > 0 else workers, collect)
    else:
        detector = create_detector(concrete, device="cpu" if ngpu == 0 else None) if todo else None
        for src, dst, size, strategy in todo:
            collect(preprocess_video(src, dst, detector, size, strategy))
    bar.close()
    write_summary(out_root, reports)
    return reports


def write_summary(out_root: str, reports: list[VideoReport]) -> str:
    """Write ``preprocess_summary.tsv`` (one row per video) and return its path."""
    path = os.path.join(out_root, "preprocess_summary.tsv")
    with atomic_path(path, suffix=".tmp") as tmp:
        with open(tmp, "w") as handle:
            handle.write("name\tstatus\tframes\tfaces\tmissing\tusable_windows\terror\n")
            for r in sorted(reports, key=lambda r: r.name):
                handle.write(
                    f"{r.name}\t{r.status}\t{r.frames}\t{r.faces}\t{r.missing}\t{r.usable_windows}\t{r.error}\n"
                )
    return path


def trainable(report: VideoReport) -> bool:
    """Complete and with at least three 5-frame windows of consecutive faces."""
    return report.status in ("done", "skipped-complete") and report.usable_windows >= MIN_WINDOWS
