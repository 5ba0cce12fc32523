"""User-facing errors and the wrapper that turns them into one line and a non-zero exit."""
from __future__ import annotations

import sys
from typing import Callable, Optional, Sequence


class UserError(Exception):
    """A mistake the user can fix (bad path, bad flag, missing weights); printed as one line, no traceback."""

    exit_code = 2


def run_cli(main: Callable[[Optional[Sequence[str]]], Optional[int]], argv: Optional[Sequence[str]] = None) -> int:
    """Run a script's ``main(argv)``; UserError and Ctrl-C become one line on stderr and a non-zero status."""
    try:
        code = main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)
