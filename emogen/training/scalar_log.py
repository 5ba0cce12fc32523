"""TensorBoard scalars of a training run (rank 0 only)."""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

from .distributed import cleanup, is_main_process


class ScalarLog:
    """TensorBoard scalars on rank 0 (a no-op elsewhere)."""

    def __init__(self, log_dir: Optional[str]) -> None:
        self.writer = None
        if log_dir and is_main_process():
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir)

    def add(self, tag: str, value: float, step: int) -> None:
        """Record one value."""
        if self.writer is not None:
            self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        """Flush and close."""
        if self.writer is not None:
            self.writer.close()


@contextlib.contextmanager
def training_log(log_dir: Optional[str]) -> Iterator[ScalarLog]:
    """A run's TensorBoard log; closes it and leaves the process group however the run ends."""
    log = ScalarLog(log_dir)
    try:
        yield log
    finally:
        log.close()
        cleanup()
