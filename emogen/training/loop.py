"""The epoch/step loop shared by the three trainers: progress, step limit, and a checkpoint on Ctrl-C."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from .distributed import is_main_process
from .state import TrainState


@dataclass
class LoopConfig:
    """Bounds and display of a training loop."""

    nepochs: int
    max_steps: Optional[int] = None
    progress: bool = True
    desc: str = "train"


def run_training(loader: DataLoader, state: TrainState, cfg: LoopConfig,
                 train_step: Callable[[object], dict[str, float]],
                 after_step: Callable[[dict[str, float]], None],
                 end_epoch: Callable[[dict[str, float], int], None],
                 save: Callable[[str], None]) -> None:
    """Call ``train_step`` per batch (it returns its losses), ``after_step`` once the step counter moved on,
    ``end_epoch`` with the epoch's mean losses; ``save(reason)`` on Ctrl-C and when the step limit stops the run.
    """
    try:
        while state.global_epoch < cfg.nepochs:
            if isinstance(getattr(loader, "sampler", None), DistributedSampler):
                loader.sampler.set_epoch(state.global_epoch)  # type: ignore[union-attr]
            totals: dict[str, float] = {}
            batches = 0
            bar = tqdm(loader, desc=f"{cfg.desc} epoch {state.global_epoch}", unit="batch",
                       disable=not (cfg.progress and is_main_process()))
            for batch in bar:
                losses = train_step(batch)
                state.global_step += 1
                batches += 1
                for k, v in losses.items():
                    totals[k] = totals.get(k, 0.0) + v
                bar.set_postfix({k: f"{v / batches:.4f}" for k, v in totals.items()})
                after_step(losses)
                if cfg.max_steps is not None and state.global_step >= cfg.max_steps:
                    bar.close()
                    if state.saved_step != state.global_step:
                        save("step limit")
                    return
            end_epoch({k: v / max(1, batches) for k, v in totals.items()}, batches)
            state.global_epoch += 1
    except KeyboardInterrupt:
        if state.saved_step != state.global_step:
            save("interrupted")
        raise
