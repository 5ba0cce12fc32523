"""Write-then-rename helpers, so an interrupted job never leaves a truncated output behind."""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator


@contextlib.contextmanager
def atomic_path(final_path: str, suffix: str = "") -> Iterator[str]:
    """Yield a temporary path beside ``final_path``; rename it into place only if the block succeeds.

    ``suffix`` keeps a meaningful extension on the temporary name (ffmpeg picks the container from it).
    """
    folder = os.path.dirname(os.path.abspath(final_path))
    os.makedirs(folder, exist_ok=True)
    base = os.path.basename(final_path)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=suffix or ".part", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, final_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
