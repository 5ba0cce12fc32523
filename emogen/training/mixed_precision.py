"""Training arithmetic: float32 as the original, or autocast to bfloat16 / float16 (with a gradient scaler)."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Optional

import torch

from emogen.common.precision import Precision, autocast


class MixedPrecision:
    """Forward passes under autocast and optimizer steps through a gradient scaler when float16 needs one."""

    def __init__(self, precision: Precision, device: torch.device) -> None:
        self.precision, self.device = precision, device
        self.scaler = torch.amp.GradScaler("cuda") if precision.dtype == "float16" else None

    @contextlib.contextmanager
    def forward(self) -> Iterator[None]:
        """The autocast region of a step (a no-op context in float32)."""
        with autocast(self.device, self.precision.dtype):
            yield

    def step(
        self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, before_step: Optional[Callable[[], None]] = None
    ) -> None:
        """backward, ``before_step`` (e.g. averaging gradients over ranks), optimizer step; scaled for float16."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()
        if before_step is not None:
            before_step()
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()

    def prepare(self, *modules: torch.nn.Module) -> None:
        """channels_last weights for reduced precision (oneDNN and cuDNN run that layout faster)."""
        if self.precision.channels_last:
            for module in modules:
                module.to(memory_format=torch.channels_last)


FP32 = Precision("fp32", None, False)
