"""Write-then-rename helpers, so an interrupted job never leaves a truncated output behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from typing import Iterator, Optional

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (read by setting and restoring it, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def ensure_writable_dir(folder: str, what: str) -> None:
    """Create ``folder`` if needed and check a file can be written there, before any long work starts.

    ``what`` names the user's option (e.g. "--outfile results/x.mp4") in the one-line error.
    """
    from .errors import UserError

    try:
        os.makedirs(folder or ".", exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder or ".")
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise UserError(
            f"{what}: cannot write in {os.path.abspath(folder or '.')} ({exc.strerror}); choose a writable folder"
        ) from None


def check_creatable_dir(folder: str, what: str) -> None:
    """Check, before long work and without creating anything, that ``folder`` exists as a writable folder or
    could be made (its nearest existing parent is a writable folder); ``what`` names the user's option."""
    from .errors import UserError

    probe_dir = os.path.abspath(folder or ".")
    while not os.path.exists(probe_dir):
        probe_dir = os.path.dirname(probe_dir)
    try:
        if not os.path.isdir(probe_dir):
            raise NotADirectoryError(20, "Not a directory")
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=probe_dir)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise UserError(f"{what}: cannot write in {probe_dir} ({exc.strerror}); choose a writable folder") from None


@contextlib.contextmanager
def atomic_path(final_path: str, suffix: str = "") -> Iterator[str]:
    """Yield a temporary path beside ``final_path``; rename it into place only if the block succeeds.

    ``suffix`` keeps a meaningful extension on the temporary name (ffmpeg picks the container from it).
    """
    from .errors import interrupts_held

    folder = os.path.dirname(os.path.abspath(final_path))
    os.makedirs(folder, exist_ok=True)
    base = os.path.basename(final_path)
    with interrupts_held():  # a Ctrl-C between making the file and the try below would leave it behind
        # The writer's pid in the name: a later run can tell a partial file whose writer was killed (SIGKILL
        # leaves no chance to clean up) from one another process is still writing.
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}.", suffix=suffix or ".part", dir=folder)
        os.close(fd)
    try:
        yield tmp
        # mkstemp makes the file private (0600); the final file gets what a plain open() would give it.
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, final_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def process_alive(pid: int) -> bool:
    """Whether a process with this id is running (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_owner(name: str, prefix: str) -> bool:
    """Whether ``name`` is ``prefix`` + <pid> + '.' or '-' + ... and that pid no longer runs."""
    rest = name[len(prefix) :]
    digits = rest.split(".", 1)[0].split("-", 1)[0]
    return (
        name.startswith(prefix) and digits.isdigit() and int(digits) != os.getpid() and not process_alive(int(digits))
    )


def sweep_partials(final_path: str) -> int:
    """Remove the hidden partial files of ``final_path`` whose writer was killed; returns how many went."""
    folder = os.path.dirname(os.path.abspath(final_path))
    prefix = f".{os.path.basename(final_path)}."
    removed = 0
    if os.path.isdir(folder):
        for entry in os.scandir(folder):
            if entry.is_file(follow_symlinks=False) and _dead_owner(entry.name, prefix):
                with contextlib.suppress(OSError):
                    os.remove(entry.path)
                    removed += 1
    return removed


def owned_temp_prefix(kind: str) -> str:
    """The prefix of a private temporary folder that names its owner (emogen-<kind>-<pid>-), so a later run can
    sweep what a killed one left (see sweep_orphaned_temp_dirs)."""
    return f"emogen-{kind}-{os.getpid()}-"


def sweep_orphaned_temp_dirs(kind: str, root: Optional[str] = None) -> int:
    """Remove the emogen-<kind>-<pid>-* folders in the temporary directory whose owner no longer runs (a killed
    run's decoded audio, a killed server's uploads); returns how many went."""
    import shutil

    root = root or tempfile.gettempdir()
    prefix = f"emogen-{kind}-"
    removed = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            if entry.is_dir(follow_symlinks=False) and _dead_owner(entry.name, prefix):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
    return removed
