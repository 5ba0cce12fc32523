"""The epoch/step loop shared by the three trainers: progress, step and time limits, and a checkpoint on Ctrl-C."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from emogen.common.atomic import atomic_path
from emogen.common.errors import UserError

from .distributed import any_rank, is_main_process
from .state import TrainState


@dataclass
class LoopConfig:
    """Bounds and display of a training loop."""

    nepochs: int
    max_steps: Optional[int] = None
    progress: bool = True
    desc: str = "train"
    max_minutes: Optional[float] = None  # wall-clock budget; a checkpoint is saved when it runs out


SUMMARY_FILE = "train_summary.json"  # where train.py writes the run's TrainSummary, beside its checkpoints


@dataclass
class TrainSummary:
    """What a training run did: the global step it reached, why it stopped, and the mean losses of its first and
    last steps (LossTrend's window). Trainers return it; train.py also writes it beside its checkpoints."""

    steps: int
    stopped_by: str  # "step limit", "time limit", "epochs", or "already at the step limit"
    first_losses: dict = field(default_factory=dict)
    last_losses: dict = field(default_factory=dict)

    def save(self, path: str) -> None:
        """Write it as JSON (under a temporary name, then renamed)."""
        with atomic_path(path, suffix=".tmp") as tmp:
            with open(tmp, "w") as handle:
                json.dump(dataclasses.asdict(self), handle, indent=1)

    @classmethod
    def load(cls, path: str) -> TrainSummary:
        """Read one that ``save`` wrote."""
        with open(path) as handle:
            return cls(**json.load(handle))


class LossTrend:
    """The mean losses of a run's first and last ``window`` steps, to say in one line whether training learns."""

    def __init__(self, window: int = 10) -> None:
        self.window = window
        self.first: list[dict[str, float]] = []
        self.last: list[dict[str, float]] = []

    def add(self, losses: dict[str, float]) -> None:
        """Record one step's losses."""
        if len(self.first) < self.window:
            self.first.append(losses)
        self.last = (self.last + [losses])[-self.window :]

    def means(self) -> tuple[dict[str, float], dict[str, float]]:
        """The mean of each loss over the first and over the last steps."""

        def mean(rows: list[dict[str, float]], key: str) -> float:
            return sum(r[key] for r in rows if key in r) / max(1, sum(key in r for r in rows))

        keys = list(self.last[-1]) if self.last else []
        return {k: mean(self.first, k) for k in keys}, {k: mean(self.last, k) for k in keys}

    def summary(self) -> str:
        """'losses, first N steps -> last N steps: l1 0.4123 -> 0.1234, ...'."""
        first, last = self.means()
        parts = [f"{k} {first[k]:.4f} -> {last[k]:.4f}" for k in last]
        return f"losses, first {len(self.first)} steps -> last {len(self.last)} steps: " + ", ".join(parts)

    def result(self, steps: int, stopped_by: str) -> TrainSummary:
        """The run's TrainSummary."""
        first, last = self.means()
        return TrainSummary(steps, stopped_by, first, last)


def run_training(
    loader: DataLoader,
    state: TrainState,
    cfg: LoopConfig,
    train_step: Callable[[object], dict[str, float]],
    after_step: Callable[[dict[str, float]], None],
    end_epoch: Callable[[dict[str, float], int], None],
    save: Callable[[str], None],
) -> TrainSummary:
    """Call ``train_step`` per batch (it returns its losses), ``after_step`` once the step counter moved on,
    ``end_epoch`` with the epoch's mean losses; ``save(reason)`` on Ctrl-C (or SIGTERM) and when the step limit or
    the time budget stops the run.
    """
    if cfg.max_steps is not None and state.global_step >= cfg.max_steps:
        # A resumed run that already reached its limit: one more step would overshoot it on every resume.
        if is_main_process():
            tqdm.write(
                f"stopped at step {state.global_step}: step limit ({cfg.max_steps}) reached before this run; "
                "nothing trained"
            )
        return TrainSummary(state.global_step, "already at the step limit")
    deadline = None if cfg.max_minutes is None else time.monotonic() + 60.0 * cfg.max_minutes
    trend = LossTrend()
    shown = cfg.progress and is_main_process()
    # With a step limit one bar counts the steps to it (an epoch of a small set may be a single batch); without
    # one, each epoch gets its bar over its batches.
    steps_bar = (
        tqdm(total=cfg.max_steps, initial=state.global_step, desc=cfg.desc, unit="step", disable=not shown)
        if cfg.max_steps is not None
        else None
    )
    try:
        while state.global_epoch < cfg.nepochs:
            if isinstance(getattr(loader, "sampler", None), DistributedSampler):
                loader.sampler.set_epoch(state.global_epoch)  # type: ignore[union-attr]
            totals: dict[str, float] = {}
            batches = 0
            bar = tqdm(
                loader,
                desc=f"{cfg.desc} epoch {state.global_epoch}",
                unit="batch",
                disable=not shown or steps_bar is not None,
            )
            for batch in bar:
                losses = train_step(batch)
                diverged = [k for k, v in losses.items() if not math.isfinite(v)]
                if diverged:
                    # Nothing is saved: the weights after this step are not worth keeping, the last checkpoint is.
                    raise UserError(
                        f"training diverged at step {state.global_step + 1}: the {', '.join(diverged)} loss is not "
                        "finite; lower the learning rate (--hparams) and resume from the last saved checkpoint"
                    )
                state.global_step += 1
                batches += 1
                for k, v in losses.items():
                    totals[k] = totals.get(k, 0.0) + v
                means = {k: f"{v / batches:.4f}" for k, v in totals.items()}
                if steps_bar is None:
                    bar.set_postfix(means)
                else:
                    steps_bar.set_postfix(means, refresh=False)
                    steps_bar.update(1)
                trend.add(losses)
                after_step(losses)
                # Each rank's clock differs: under torchrun all stop at the step where the first one runs out.
                limit = (
                    "step limit"
                    if cfg.max_steps is not None and state.global_step >= cfg.max_steps
                    else "time limit"
                    if deadline is not None and any_rank(time.monotonic() >= deadline)
                    else None
                )
                if limit:
                    bar.close()
                    if steps_bar is not None:
                        steps_bar.close()  # before the closing lines, so that they do not share the bar's line
                    if state.saved_step != state.global_step:
                        save(limit)
                    if is_main_process():
                        tqdm.write(f"stopped at step {state.global_step}: {limit}; {trend.summary()}")
                    return trend.result(state.global_step, limit)
            end_epoch({k: v / max(1, batches) for k, v in totals.items()}, batches)
            state.global_epoch += 1
        return trend.result(state.global_step, "epochs")
    except KeyboardInterrupt:
        if state.saved_step != state.global_step:
            save("interrupted")
        raise
    finally:
        if steps_bar is not None:
            steps_bar.close()
