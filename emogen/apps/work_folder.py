"""A demo's work folder remembers what it was made from: its inputs (by content), its recipe and its step budgets,
in run.json. A rerun with the same inputs and recipe resumes (step budgets may grow: training continues); anything
else is refused in one line, so a report never comes from networks trained on other data. A lock file keeps two
demos out of one folder at once."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from typing import Optional, TextIO

from emogen.common.atomic import atomic_path, ensure_writable_dir
from emogen.common.errors import UserError

MANIFEST = "run.json"
LOCK = ".lock"


@dataclass
class WorkFolder:
    """A claimed work folder: its path, the lock held while the demo runs, and what an earlier run had trained."""

    path: str
    earlier_steps: dict = field(default_factory=dict)
    _lock: Optional[TextIO] = field(default=None, repr=False)

    def release(self) -> None:
        """Let another demo use the folder."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def claim_work_folder(path: str, flag: str, identity: dict, steps: dict) -> WorkFolder:
    """Take ``path`` for a run made from ``identity`` (inputs and recipe) with step budgets ``steps``; refuse a
    folder another demo holds, one made from other inputs or another recipe, and budgets below what it trained."""
    ensure_writable_dir(path, f"{flag} {path}")
    lock = open(os.path.join(path, LOCK), "w")  # held until release()
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise UserError.about(
            flag, f"{path}: another demo is running in this folder; wait for it or choose another"
        ) from None
    try:
        earlier = _read(os.path.join(path, MANIFEST), flag)
        if earlier is not None:
            _check_same_run(path, flag, earlier, identity, steps)
        grown = {k: max(v, (earlier or {}).get("steps", {}).get(k, 0)) for k, v in steps.items()}
        with atomic_path(os.path.join(path, MANIFEST), suffix=".json") as tmp:
            with open(tmp, "w") as handle:
                json.dump({"identity": identity, "steps": grown}, handle, indent=1, sort_keys=True)
    except BaseException:
        lock.close()
        raise
    return WorkFolder(path, dict((earlier or {}).get("steps", {})), lock)


def _read(manifest: str, flag: str) -> Optional[dict]:
    if not os.path.isfile(manifest):
        return None
    try:
        with open(manifest) as handle:
            data = json.load(handle)
        if not isinstance(data, dict) or not isinstance(data.get("identity"), dict):
            raise ValueError("not a demo manifest")
        return data
    except (OSError, ValueError) as exc:
        raise UserError.about(
            flag, f"{os.path.dirname(manifest)} holds an unreadable {MANIFEST} ({exc}); choose another folder"
        ) from None


def _check_same_run(path: str, flag: str, earlier: dict, identity: dict, steps: dict) -> None:
    differs = sorted(
        k for k in set(identity) | set(earlier["identity"]) if identity.get(k) != earlier["identity"].get(k)
    )
    if differs:
        raise UserError.about(
            flag,
            f"{path} holds a run made with another {', '.join(differs)}; resume it with the same settings, or "
            "choose another folder (nothing was changed)",
        )
    trained = earlier.get("steps", {})
    fewer = sorted(k for k, v in steps.items() if v < trained.get(k, 0))
    if fewer:
        what = ", ".join(f"{k} {steps[k]} < {trained[k]}" for k in fewer)
        raise UserError.about(
            flag,
            f"{path} already trained more steps than asked ({what}); its networks would not be the ones asked for: "
            "ask for at least as many, or choose another folder",
        )
