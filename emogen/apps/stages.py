"""What the demos and the web page share: a stage is one of the project's scripts run as a subprocess (its command
printed, its output logged, its result read from the JSON summary it writes), the checkpoints a stage leaves, and
which generator to serve. Each stage runs in the demo's process group and dies with the demo, even on SIGKILL."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Optional

from emogen.common.errors import UserError
from emogen.common.media import probe
from emogen.common.weights import CHECKOUT, WEIGHTS

ROOT = CHECKOUT
RELEASED_GENERATOR = WEIGHTS["emogen_generator"].default
DEFAULT_WORK_DIR = os.path.join(ROOT, "demo_run")  # demo.py
DATASET_WORK_DIR = os.path.join(ROOT, "demo_crema_d")  # demo.py --dataset
_PR_SET_PDEATHSIG = 1


@dataclass
class Stage:
    """One script run: a title, its arguments (the script first, relative to the checkout) and the JSON summary it
    writes (read back after the run)."""

    title: str
    args: list
    summary: Optional[str] = None
    progress: bool = False  # the script draws a progress bar, shown live on a terminal (long stages)


@dataclass
class StageResult:
    """What a stage left: its exit status, its output and log file, and its JSON summary (empty when none)."""

    returncode: int
    output: str
    log: str
    summary: dict = field(default_factory=dict)


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to send SIGTERM when the demo dies, however it dies (a stage keeps
    writing into the work folder otherwise, racing a rerun)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _run_script(args: list, live_progress: bool) -> tuple[int, str]:
    """Run ``python3 <script> args...`` in the checkout; its exit status and output (stdout and stderr as they
    came). ``live_progress``: the latest state of its progress bar (what follows its last carriage return) is
    redrawn on this process's stderr as it comes."""
    linux = sys.platform.startswith("linux")
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent if linux else None,
    )
    chunks = []
    drawn = False
    width = shutil.get_terminal_size().columns - 4
    while proc.stdout is not None:
        chunk = proc.stdout.read1(65536)
        if not chunk:
            break
        chunks.append(chunk)
        text = chunk.decode("utf-8", errors="replace")
        if live_progress and "\r" in text:
            bar = text.rsplit("\r", 1)[1].split("\n", 1)[0].strip()[:width]
            if bar:
                # Erase to the end of the line: a shorter state must not leave the longer one's tail.
                sys.stderr.write(f"\r   {bar}\x1b[K")
                sys.stderr.flush()
                drawn = True
    returncode = proc.wait()
    if drawn:
        sys.stderr.write("\n")
    return returncode, b"".join(chunks).decode("utf-8", errors="replace")


def run_stage(stage: Stage, log_dir: str) -> StageResult:
    """Run one project script, print its command and the tail of its output, log all of it; a UserError when it
    fails (any exit status but 0: a demo's inputs were checked, so a clip that fails is a failure), naming its
    last error line and its log."""
    print(f"\n== {stage.title}\n$ {shlex.join(['python3', *stage.args])}", flush=True)
    start = time.perf_counter()
    returncode, output = _run_script(stage.args, stage.progress and sys.stderr.isatty())
    os.makedirs(log_dir, exist_ok=True)
    log = os.path.join(log_dir, re.sub(r"[^a-z0-9]+", "_", stage.title.lower()).strip("_") + ".log")
    with open(log, "w") as handle:
        handle.write(output)
    # Lines split at newlines only, so a progress bar's redraws (carriage returns) stay on one line and drop out.
    tail = [ln for ln in output.split("\n") if ln.strip() and "\r" not in ln][-4:]
    for line in tail:
        print(f"   {line}")
    shown = os.path.relpath(log, ROOT) if log.startswith(ROOT) else log
    print(f"   ({time.perf_counter() - start:.0f} s, log {shown})", flush=True)
    if returncode != 0:
        reason = next(
            (ln.strip() for ln in reversed(output.splitlines()) if ln.strip().startswith("error:")),
            tail[-1].strip() if tail else "no output",
        )
        raise UserError(f"demo stage '{stage.title}' failed (exit {returncode}): {reason} (log: {log})")
    return StageResult(returncode, output, log, read_summary(stage.summary) if stage.summary else {})


def read_summary(path: str) -> dict:
    """A stage's JSON summary, or a UserError saying the stage wrote none."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise UserError(f"the stage's summary {path} could not be read ({exc}); see its log") from None


def has_checkpoints(folder: str) -> bool:
    """Whether a training stage already saved checkpoints in ``folder``."""
    return os.path.isdir(folder) and any(f.endswith(".pth") for f in os.listdir(folder))


def resume_args(folder: str) -> list:
    """A rerun continues a stage's earlier training instead of being refused by the script."""
    return ["--checkpoint_path", "latest"] if has_checkpoints(folder) else []


def picture_duration(path: str) -> float:
    """The length of a video's picture (its audio may run a little longer), else of the file."""
    info = probe(path)
    video = next((st for st in info.get("streams", []) if st.get("codec_type") == "video" and st.get("duration")), None)
    return float(video["duration"] if video else info["format"]["duration"])


def render_precision() -> str:
    """--precision of the demos' renders: what auto picks in floating point (bf16 where native, else fp32-cl).
    auto's int8 would first quantize each generator the demo renders, which costs more than it saves on short
    clips."""
    from emogen.common.device import choose_device
    from emogen.common.precision import resolve_precision

    return resolve_precision("auto", choose_device(None)).name


def wav2lip_generator() -> Optional[str]:
    """Wav2Lip's public generator when it is in checkpoints/ (wav2lip_gan.pth, else wav2lip.pth), else None."""
    path = WEIGHTS["wav2lip_generator"].path()
    return path if os.path.isfile(path) else None


def choose_generator(requested: Optional[str]) -> tuple[str, str]:
    """The generator the web page serves and a line saying what it is: the path asked for; else the released
    checkpoints/emogen_generator.pth; else the newest generator a demo trained (said on the page); else Wav2Lip's
    generator in checkpoints/ (lip sync only, said on the page); else the released path (the page then says it
    is missing and how to get one)."""
    if requested or os.path.isfile(RELEASED_GENERATOR):
        return requested or RELEASED_GENERATOR, ""
    from emogen.training.checkpoint_files import latest_checkpoint

    trained = [
        (path, work)
        for work in (DEFAULT_WORK_DIR, DATASET_WORK_DIR)
        for path in [latest_checkpoint(os.path.join(work, "checkpoints", "generator"))]
        if path is not None
    ]
    if not trained:
        return wav2lip_generator() or RELEASED_GENERATOR, ""
    path, work = max(trained, key=lambda pair: os.path.getmtime(pair[0]))
    # The page shows this line: a path inside the checkout, never the server's folders.
    shown = os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else os.path.basename(path)
    get_released = (
        "For any face, get the released EmoGen generator (checkpoints/README.md) and put it at "
        "checkpoints/emogen_generator.pth."
    )
    if work == DATASET_WORK_DIR:
        return path, (
            f"Using the generator demo.py --dataset trained ({shown}): it learned one CREMA-D actor saying one "
            "sentence in six emotions, so switch emotions on that actor's clip (demo_crema_d/fps25/ holds it); "
            f"other faces will look wrong. {get_released}"
        )
    return path, (
        f"Using the generator demo.py trained ({shown}): it learned the example face only, for a few "
        f"minutes, so other faces will look wrong. {get_released}"
    )
