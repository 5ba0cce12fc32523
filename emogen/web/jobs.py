"""Generation jobs for the web interface: one worker runs them one at a time, others wait in a visible queue."""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Optional

from emogen import EMOTIONS
from emogen.errors import one_line


@dataclass
class Job:
    """One request: its private folder, inputs, state and results."""

    id: str
    folder: str
    face: str
    audio: str
    emotions: list[str]
    created: float = field(default_factory=time.time)
    state: str = "queued"  # queued | running | done | error
    stage: str = ""
    done: int = 0
    total: int = 0
    error: str = ""
    outputs: dict = field(default_factory=dict)  # emotion -> file path
    timings: dict = field(default_factory=dict)
    detection_cached: bool = False


class JobQueue:
    """FIFO of jobs with a single worker thread; finished job folders are removed after ``keep_seconds``."""

    def __init__(self, run: Callable[[Job], None], root: Optional[str] = None, keep_seconds: float = 1800) -> None:
        self.root = root or tempfile.mkdtemp(prefix="emogen-web-")
        os.chmod(self.root, 0o700)
        self.run = run
        self.keep_seconds = keep_seconds
        self.jobs: "OrderedDict[str, Job]" = OrderedDict()
        self.lock = threading.Lock()
        self.wakeup = threading.Condition(self.lock)
        self.worker = threading.Thread(target=self._work, name="emogen-worker", daemon=True)
        self.worker.start()

    def new_folder(self) -> tuple[str, str]:
        """A fresh job id and its private folder (mode 700)."""
        job_id = secrets.token_urlsafe(12)
        folder = os.path.join(self.root, job_id)
        os.makedirs(folder, mode=0o700)
        return job_id, folder

    def submit(self, job: Job) -> None:
        """Queue a job."""
        with self.wakeup:
            self.jobs[job.id] = job
            self.wakeup.notify()

    def get(self, job_id: str) -> Optional[Job]:
        """The job with this id, if it still exists."""
        with self.lock:
            return self.jobs.get(job_id)

    def position(self, job: Job) -> int:
        """How many jobs run or wait before this one (0 when it runs)."""
        with self.lock:
            ahead = 0
            for other in self.jobs.values():
                if other is job:
                    return ahead
                if other.state in ("queued", "running"):
                    ahead += 1
            return ahead

    def _next(self) -> Optional[Job]:
        for job in self.jobs.values():
            if job.state == "queued":
                return job
        return None

    def _work(self) -> None:
        while True:
            with self.wakeup:
                job = self._next()
                while job is None:
                    self.wakeup.wait(timeout=30)
                    self.cleanup_locked()
                    job = self._next()
                job.state = "running"
            try:
                self.run(job)
                job.state = "done"
            except Exception as exc:  # the page shows it; the server keeps serving
                job.error = one_line(exc)
                job.state = "error"

    def cleanup_locked(self, now: Optional[float] = None) -> None:
        """Forget finished jobs older than keep_seconds and delete their folders (lock held)."""
        now = time.time() if now is None else now
        for job_id, job in list(self.jobs.items()):
            if job.state in ("done", "error") and now - job.created > self.keep_seconds:
                shutil.rmtree(job.folder, ignore_errors=True)
                del self.jobs[job_id]

    def cleanup(self, now: Optional[float] = None) -> None:
        """Public, locking version of the clean-up."""
        with self.lock:
            self.cleanup_locked(now)


def parse_emotions(value: str) -> list[str]:
    """'all' or one emotion name -> the list to generate (None-safe)."""
    value = (value or "").strip().upper()
    if value == "ALL":
        return list(EMOTIONS)
    if value in EMOTIONS:
        return [value]
    raise ValueError(f"unknown emotion {value!r}; choose one of {', '.join(EMOTIONS)} or all")
