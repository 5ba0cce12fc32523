"""User-facing errors and the wrapper that turns them into one line and a non-zero exit."""
from __future__ import annotations

import os
import sys
from typing import Callable, Optional, Sequence


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (its type when empty), shortened at a word boundary."""
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0].rstrip(" ,;:(")
    return cut + " ..."


class UserError(Exception):
    """A mistake the user can fix (bad path, bad flag, missing weights); printed as one line, no traceback."""

    exit_code = 2


def require_file(path: str, flag: str, expected: str) -> None:
    """A UserError naming ``flag`` unless ``path`` is an existing regular file (a folder is called a folder)."""
    if os.path.isdir(path):
        raise UserError(f"{flag} {path} is a folder; pass {expected}")
    if not os.path.isfile(path):
        raise UserError(f"{flag} {path}: file not found; pass {expected}")
    if not os.access(path, os.R_OK):
        raise UserError(f"{flag} {path}: permission denied; make it readable or pass another file")


def run_cli(main: Callable[[Optional[Sequence[str]]], Optional[int]], argv: Optional[Sequence[str]] = None) -> int:
    """Run a script's ``main(argv)``; UserError, file-system errors and Ctrl-C become one line and a non-zero status.

    Set EMOGEN_DEBUG=1 to get the full traceback of a file-system error instead.
    """
    try:
        code = main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # A path that cannot be created, read or written (permissions, a missing parent, a full disk) is the
        # user's to fix; the traceback would only hide the one line that matters.
        # Errors without a file name (a broken pipe, a reset socket) are not about a path: keep their traceback.
        if os.environ.get("EMOGEN_DEBUG") or exc.strerror is None or exc.filename is None:
            raise
        print(f"error: {exc.filename}: {exc.strerror}; check the path, its permissions and the free disk space "
              "(EMOGEN_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)
