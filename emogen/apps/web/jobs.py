"""Generation jobs for the web interface: one worker runs them one at a time, others wait in a visible queue.

Bounded: at most ``max_queued`` jobs wait in all and ``max_per_client`` per client address; finished jobs are
forgotten (and their private folders deleted) ``keep_seconds`` after they ended, by a cleaner thread
that runs whether or not the worker is busy; ``shutdown`` deletes every job folder.
"""

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

from emogen.common.atomic import owned_temp_prefix, sweep_orphaned_temp_dirs
from emogen.common.errors import one_line

WEB_TEMP = "web"  # the server's private folder: emogen-web-<pid>-...


@dataclass
class Job:
    """One request: its private folder, inputs, state and results."""

    id: str
    folder: str
    face: str
    audio: str
    emotions: list[str]
    client: str = ""
    created: float = field(default_factory=time.time)
    state: str = "queued"  # receiving (upload being checked) | queued | running | done | error
    finished_at: Optional[float] = None  # when it ended: files are kept keep_seconds after that
    stage: str = ""
    done: int = 0
    total: int = 0
    error: str = ""
    started: list = field(default_factory=list)  # emotions whose video has begun, in generation order
    finished: list = field(default_factory=list)  # emotions whose video is complete
    partial: dict = field(default_factory=dict)  # emotion -> file being written (a fragmented MP4 that plays)
    outputs: dict = field(default_factory=dict)  # emotion -> finished file
    timings: dict = field(default_factory=dict)
    detection_cached: bool = False


class QueueFull(Exception):
    """A submission refused because too many jobs wait (message for the page)."""


class Cancelled(Exception):
    """Raised inside a running job when the server shuts down, so the job unwinds and cleans up after itself."""


class JobQueue:
    """FIFO of jobs with a single worker thread and a cleaner thread."""

    def __init__(
        self,
        run: Callable[[Job], None],
        root: Optional[str] = None,
        keep_seconds: float = 1800,
        max_queued: int = 20,
        max_per_client: int = 3,
        clean_every: float = 30.0,
    ) -> None:
        self.owns_root = root is None
        if root is None:
            sweep_orphaned_temp_dirs(WEB_TEMP)  # users' uploads a killed server left behind
        self.root = root or tempfile.mkdtemp(prefix=owned_temp_prefix(WEB_TEMP))
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o700)
        self.run = run
        self.keep_seconds, self.max_queued, self.max_per_client = keep_seconds, max_queued, max_per_client
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.lock = threading.Lock()
        self.wakeup = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.worker = threading.Thread(target=self._work, name="emogen-worker", daemon=True)
        self.cleaner = threading.Thread(target=self._clean, args=(clean_every,), name="emogen-cleaner", daemon=True)
        self.worker.start()
        self.cleaner.start()

    def new_folder(self) -> tuple[str, str]:
        """A fresh, unguessable job id (96 random bits) and its private folder (mode 700)."""
        job_id = secrets.token_urlsafe(12)
        folder = os.path.join(self.root, job_id)
        os.makedirs(folder, mode=0o700)
        return job_id, folder

    def _check_room(self, client: str) -> None:
        live = [j for j in self.jobs.values() if j.state in ("receiving", "queued", "running")]
        if sum(1 for j in live if j.state in ("receiving", "queued")) >= self.max_queued:
            raise QueueFull(f"the queue is full ({self.max_queued} requests waiting); try again in a minute")
        if sum(1 for j in live if j.client == client) >= self.max_per_client:
            raise QueueFull(
                f"you already have {self.max_per_client} requests waiting or running; wait for one to finish"
            )

    def check_room(self, client: str) -> None:
        """Raise QueueFull when no more jobs may wait, in all or for this client."""
        with self.lock:
            self._check_room(client)

    def reserve(self, client: str) -> Job:
        """Admit a request atomically: check the limits and hold a place in one locked step (QueueFull when no
        place is left), so concurrent posts cannot all pass the check before any of them is counted. The place
        is an empty job in state 'receiving' with its private folder: fill it and ``submit`` it, or ``discard``
        it when the upload is refused."""
        with self.lock:
            self._check_room(client)
            job_id, folder = self.new_folder()
            job = Job(job_id, folder, "", "", [], client=client, state="receiving")
            self.jobs[job_id] = job
            return job

    def submit(self, job: Job) -> None:
        """Queue a job (a reserved one once its inputs are in place)."""
        with self.wakeup:
            job.state = "queued"
            self.jobs.setdefault(job.id, job)
            self.wakeup.notify()

    def discard(self, job: Job) -> None:
        """Give a reserved place back and delete its folder (a refused upload leaves nothing behind)."""
        with self.lock:
            self.jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

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
        while not self.stopping.is_set():
            with self.wakeup:
                job = self._next()
                while job is None and not self.stopping.is_set():
                    self.wakeup.wait(timeout=1.0)
                    job = self._next()
                if job is None:
                    return
                job.state = "running"
            try:
                self.run(job)
                job.state = "done"
            except Exception as exc:  # the page shows it; the server keeps serving
                job.error = self.public_error(job, exc)
                job.state = "error"
            job.finished_at = time.time()

    def public_error(self, job: Job, exc: BaseException) -> str:
        """The one-line error for the page, without the server's folders (the job's files by their own names)."""
        text = one_line(exc)
        for folder, name in ((job.folder + os.sep, ""), (job.folder, "the job folder"), (self.root, "the server")):
            text = text.replace(folder, name)
        return text

    def _clean(self, every: float) -> None:
        while not self.stopping.wait(every):
            self.cleanup()

    def cleanup(self, now: Optional[float] = None) -> None:
        """Forget finished jobs older than keep_seconds and delete their folders."""
        now = time.time() if now is None else now
        with self.lock:
            for job_id, job in list(self.jobs.items()):
                ended = job.finished_at if job.finished_at is not None else job.created
                if job.state in ("done", "error") and now - ended > self.keep_seconds:
                    shutil.rmtree(job.folder, ignore_errors=True)
                    del self.jobs[job_id]

    def check_cancelled(self) -> None:
        """Raise Cancelled when the server is shutting down (a running job calls this as it progresses)."""
        if self.stopping.is_set():
            raise Cancelled("the server is shutting down")

    def shutdown(self, wait: float = 60.0) -> None:
        """Stop the threads (a running job is cancelled and cleans up its temporary files), then delete every
        job folder (users' uploads and partial results included)."""
        self.stopping.set()
        with self.wakeup:
            self.wakeup.notify_all()
        self.worker.join(timeout=wait)
        for name in os.listdir(self.root) if os.path.isdir(self.root) else []:
            shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)
