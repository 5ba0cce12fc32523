"""User-facing errors and the wrapper that turns them into one line and a non-zero exit."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
from typing import Callable, Iterator, Mapping, NoReturn, Optional, Sequence


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (its type when empty), shortened at a word boundary."""
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0].rstrip(" ,;:(")
    return cut + " ..."


class UserError(Exception):
    """A mistake the user can fix (bad path, bad flag, missing weights); printed as one line, no traceback.

    ``option`` names the setting the message is about, in the library's words (``face``, ``pads``): the Python
    API shows ``face x.mp4: file not found``, and a command line shows the same error with its flag
    (``--face x.mp4: file not found``, see :meth:`for_command_line`).
    """

    exit_code = 2
    option: Optional[str] = None
    try_options: tuple = ()  # settings that may fix it, named as the API or the command line names them

    @classmethod
    def about(cls, option: Optional[str], message: str, try_options: Sequence[str] = ()) -> UserError:
        """An error about the setting ``option`` (a library name, or a flag such as ``-i`` as it is; None for
        none), and the settings worth trying (``try_options``), which each surface names its own way."""
        error = cls(message)
        error.option = option
        error.try_options = tuple(try_options)
        return error

    @property
    def message(self) -> str:
        """What is wrong, without the setting's name."""
        return super().__str__()

    def _worded(self, name: Callable[[str], str]) -> str:
        text = f"{name(self.option)} {self.message}" if self.option else self.message
        if self.try_options:
            names = [name(o) for o in self.try_options]
            text += "; try " + (", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0])
        return text

    def __str__(self) -> str:
        return self._worded(lambda option: option)

    def for_command_line(self, flags: Optional[Mapping[str, str]] = None) -> str:
        """The message as a command line shows it: each setting as its flag (``flags`` maps the names that are
        not simply ``--`` + name)."""
        return self._worded(
            lambda option: (flags or {}).get(option) or (option if option.startswith("-") else f"--{option}")
        )


def require_file(path: str, option: str, expected: str) -> None:
    """A UserError about ``option`` unless ``path`` is an existing regular file (a folder is called a folder)."""
    if os.path.isdir(path):
        raise UserError.about(option, f"{path} is a folder; pass {expected}")
    if not os.path.isfile(path):
        raise UserError.about(option, f"{path}: file not found; pass {expected}")
    if not os.access(path, os.R_OK):
        raise UserError.about(option, f"{path}: permission denied; make it readable or pass another file")


# SIGHUP (a closed terminal, a dropped ssh session) ends a run like SIGTERM: it unwinds and cleans up.
HANDLED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM, raised once in the main thread so the run unwinds and removes its partial files."""


class SignalPolicy:
    """One policy for every script and the server: SIGTERM (kill, timeout, docker stop) and SIGHUP (a closed terminal) are treated as Ctrl-C, and
    only the first signal interrupts; any further one while the run cleans up is noted and ignored, so cleanup
    (temporary files, a final checkpoint, job folders) always finishes."""

    active: Optional[SignalPolicy] = None  # the one run_cli installed, for code that must know a signal came

    def __init__(self) -> None:
        self.received: Optional[int] = None
        self.previous: dict = {}
        self.holding = 0  # depth of held() blocks: a signal then waits until the outermost one ends
        self.pending = False

    def install(self) -> SignalPolicy:
        """Take over SIGINT, SIGTERM and SIGHUP (only possible in the main thread; elsewhere nothing changes)."""
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED_SIGNALS:
                self.previous[signum] = signal.signal(signum, self._handle)
            SignalPolicy.active = self
        return self

    def restore(self) -> None:
        """Put back the handlers that were there before ``install``, unless a signal came: then the process is
        on its way out, and further signals are ignored until it has exited (SIG_IGN, which, unlike a Python
        handler, outlives the interpreter's shutdown, where unloading torch takes a moment)."""
        if self.received is not None:
            for signum in self.previous:
                signal.signal(signum, signal.SIG_IGN)
            return
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}
        if SignalPolicy.active is self:
            SignalPolicy.active = None

    def _handle(self, signum: int, _frame) -> None:
        if self.received is not None:
            print("still cleaning up; please wait", file=sys.stderr, flush=True)
            return
        self.received = signum
        if self.holding:
            self.pending = True
            return
        raise Interrupted()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Delay an interrupt to the end of the block: for steps that must not be cut in two, such as making a
        temporary file and registering what will remove it, or starting a child and recording it."""
        self.holding += 1
        try:
            yield
        finally:
            self.holding -= 1
            if not self.holding and self.pending:
                self.pending = False
                raise Interrupted()


def interrupts_held() -> contextlib.AbstractContextManager:
    """The active SignalPolicy's :meth:`SignalPolicy.held` block, or a block that holds nothing when no policy
    is installed (a library caller keeps Python's own Ctrl-C)."""
    policy = SignalPolicy.active
    return policy.held() if policy is not None else contextlib.nullcontext()


def run_cli(main: Callable[[Optional[Sequence[str]]], Optional[int]], argv: Optional[Sequence[str]] = None) -> int:
    """Run a script's ``main(argv)``; UserError, file-system errors, Ctrl-C and SIGTERM become one line and a
    non-zero status (SignalPolicy: a second signal during cleanup does not abort it).

    Set EMOGEN_DEBUG=1 to get the full traceback of a file-system error instead.
    """
    policy = SignalPolicy().install()
    try:
        code = main(argv)
    except UserError as exc:
        print(f"error: {exc.for_command_line()}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # A path that cannot be created, read or written (permissions, a missing parent, a full disk) is the
        # user's to fix; the traceback would only hide the one line that matters.
        # Errors without a file name (a broken pipe, a reset socket) are not about a path: keep their traceback.
        if os.environ.get("EMOGEN_DEBUG") or exc.strerror is None or exc.filename is None:
            raise
        print(
            f"error: {exc.filename}: {exc.strerror}; check the path, its permissions and the free disk space "
            "(EMOGEN_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        policy.restore()
    return int(code or 0)


def run_script(main: Callable[[Optional[Sequence[str]]], Optional[int]]) -> NoReturn:
    """A top-level script's entry: :func:`run_cli`, then exit with its status.

    Before exiting, every live object is moved out of the collector's reach (gc.freeze): the interpreter's last
    collections would otherwise walk all of torch's objects, 0.35 s of every inference.py run (measured), while
    every output is already written and closed at this point.
    """
    code = run_cli(main)
    gc.freeze()
    sys.exit(code)
