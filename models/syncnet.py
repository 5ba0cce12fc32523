"""Wav2Lip's lip-sync expert (SyncNet on colour lower-half faces and mel windows)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .conv import Conv2d


def _res(c: int) -> Conv2d:
    return Conv2d(c, c, kernel_size=3, stride=1, padding=1, residual=True)


class SyncNet_color(nn.Module):  # noqa: N801 - name kept for users' imports
    """Embeds a 16-step mel window and five stacked lower-half faces into a shared 512-d space."""

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder = nn.Sequential(
            Conv2d(15, 32, kernel_size=(7, 7), stride=1, padding=3),
            Conv2d(32, 64, kernel_size=5, stride=(1, 2), padding=1),
            _res(64),
            _res(64),
            Conv2d(64, 128, kernel_size=3, stride=2, padding=1),
            _res(128),
            _res(128),
            _res(128),
            Conv2d(128, 256, kernel_size=3, stride=2, padding=1),
            _res(256),
            _res(256),
            Conv2d(256, 512, kernel_size=3, stride=2, padding=1),
            _res(512),
            _res(512),
            Conv2d(512, 512, kernel_size=3, stride=2, padding=1),
            Conv2d(512, 512, kernel_size=3, stride=1, padding=0),
            Conv2d(512, 512, kernel_size=1, stride=1, padding=0),
        )
        self.audio_encoder = nn.Sequential(
            Conv2d(1, 32, kernel_size=3, stride=1, padding=1),
            _res(32),
            _res(32),
            Conv2d(32, 64, kernel_size=3, stride=(3, 1), padding=1),
            _res(64),
            _res(64),
            Conv2d(64, 128, kernel_size=3, stride=3, padding=1),
            _res(128),
            _res(128),
            Conv2d(128, 256, kernel_size=3, stride=(3, 2), padding=1),
            _res(256),
            _res(256),
            Conv2d(256, 512, kernel_size=3, stride=1, padding=0),
            Conv2d(512, 512, kernel_size=1, stride=1, padding=0),
        )

    def forward(self, audio_sequences: torch.Tensor, face_sequences: torch.Tensor):
        """mel (B,1,80,16), faces (B,15,48,96) -> (audio_embedding, face_embedding), each (B,512), unit norm."""
        face_embedding = self.face_encoder(face_sequences).flatten(1)
        audio_embedding = self.audio_encoder(audio_sequences).flatten(1)
        return F.normalize(audio_embedding, p=2, dim=1), F.normalize(face_embedding, p=2, dim=1)
