"""The counters a training run carries from step to step and across a resume (passed around, never global)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainState:
    """Counters that must survive a resume (kept out of globals)."""

    global_step: int = 0
    global_epoch: int = 0
    saved_step: int = -1  # step of the last checkpoint written, so a stop right after one does not rewrite it
