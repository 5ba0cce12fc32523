"""Helpers shared by the benchmark scripts (not used by the library)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def shared_dir() -> Path:
    """The shared reference data ($EMOGEN_SHARED or ../shared)."""
    return Path(os.environ.get("EMOGEN_SHARED") or ROOT.parent / "shared")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    from emogen.common.device import peak_rss_mib

    return peak_rss_mib()
