"""The JSON summary every evaluation script can write (--summary_json): its numbers for programs (the demos read
them), beside the table it prints for people."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any, Optional

from emogen.common.atomic import atomic_path


def add_summary_argument(p: argparse.ArgumentParser) -> None:
    """The --summary_json option."""
    p.add_argument(
        "--summary_json",
        default=None,
        metavar="PATH",
        help="also write the numbers as JSON to this file (written under a temporary name, then renamed)",
    )


def _plain(value: Any) -> Any:
    """JSON has no NaN: a number that is not finite becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_summary(path: Optional[str], data: dict) -> None:
    """Write ``data`` to ``path`` as JSON (nothing when ``path`` is None)."""
    if not path:
        return
    with atomic_path(path, suffix=".json") as tmp:
        with open(tmp, "w") as handle:
            json.dump(_plain(data), handle, indent=1)
