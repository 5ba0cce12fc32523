"""EmoGen's video emotion discriminator (per-frame CNN, projector, LSTM, 6-way classifier)."""

from __future__ import annotations

import torch
from torch import nn

EMOTION_FILTERS = [(64, 3, 2), (128, 3, 2), (256, 3, 2), (512, 3, 2), (512, 3, 2)]


class DISCEMO(nn.Module):
    """Classifies a (B,3,T,96,96) clip into the six emotions ANG, DIS, FEA, HAP, NEU, SAD (logits)."""

    def __init__(self) -> None:
        super().__init__()
        self.filters = EMOTION_FILTERS
        prev = 3
        for i, (num_filters, size, stride) in enumerate(self.filters):
            setattr(
                self,
                f"conv_{i + 1}",
                nn.Sequential(
                    nn.Conv2d(prev, num_filters, kernel_size=size, stride=stride, padding=size // 2), nn.LeakyReLU(0.3)
                ),
            )
            prev = num_filters
        self.projector = nn.Sequential(nn.Linear(4608, 2048), nn.LeakyReLU(0.3), nn.Linear(2048, 512))
        self.rnn_1 = nn.LSTM(512, 512, 1, bidirectional=False, batch_first=True)
        self.cls = nn.Sequential(nn.Linear(512, 6))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """video (B,3,T,H,W) in [0, 1] -> logits (B,6)."""
        n, c, t, h, w = video.shape
        # The released weights were trained with this plain reshape of (B,C,T,H,W) into T*B images (not a
        # permute): it mixes channels and time. Kept as is, since the checkpoints depend on it.
        x = video.contiguous().view(t * n, c, h, w)
        for i in range(len(self.filters)):
            x = getattr(self, f"conv_{i + 1}")(x)
        x = self.projector(x.view(n, t, -1))
        x, _ = self.rnn_1(x)
        return self.cls(x[:, -1, :])

    def enableGrad(self, requires_grad: bool) -> None:  # noqa: N802 - original name
        """Switch gradients of every parameter on or off (used to freeze it during generator steps)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
