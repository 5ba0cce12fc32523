"""The EmoGen generator (Wav2Lip with an emotion encoder) and Wav2Lip's visual-quality discriminator."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from .conv import Conv2d, Conv2dTranspose, nonorm_Conv2d


def fold_time(x: torch.Tensor, time_dim: int) -> torch.Tensor:
    """(B, ..., T, ...) -> (T*B, ...), time-major: all batch items of frame 0, then frame 1, ..."""
    x = x.movedim(time_dim, 0)
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def unfold_time(x: torch.Tensor, batch: int, time_dim: int) -> torch.Tensor:
    """Inverse of :func:`fold_time`: (T*B, ...) -> tensor with time at ``time_dim``."""
    x = x.reshape(x.shape[0] // batch, batch, *x.shape[1:])
    return x.movedim(0, time_dim)


# Channels of each decoder scale's input once joined with the encoder's skip, from the 1x1 start to 96x96.
DECODER_JOIN_CHANNELS = (1024, 1024, 768, 512, 320, 160, 80)


def _res(c: int) -> Conv2d:
    return Conv2d(c, c, kernel_size=3, stride=1, padding=1, residual=True)


class Wav2Lip(nn.Module):
    """EmoGen generator: face encoder, audio encoder, one-hot emotion encoder and U-Net face decoder.

    ``emotion=False`` builds the original Wav2Lip generator (the layout of Wav2Lip's public ``wav2lip.pth`` and
    ``wav2lip_gan.pth``): no emotion encoder, and the decoder starts from the audio embedding alone.

    ``emotion_film=True`` adds an option outside the released layout: the one-hot also scales and shifts every
    channel of each decoder scale's input (decoder output joined with the encoder's skip), so the label reaches
    the reference face's features at every resolution, not only at the 1x1 bottleneck. Its layers start at zero,
    so such a generator starts out as the released one.
    """

    def __init__(self, emotion: bool = True, emotion_film: bool = False) -> None:
        super().__init__()
        if emotion_film and not emotion:
            raise ValueError("emotion_film needs the emotion encoder (emotion=True)")
        self.has_emotion = emotion
        self.face_encoder_blocks = nn.ModuleList(
            [
                nn.Sequential(Conv2d(6, 16, kernel_size=7, stride=1, padding=3)),  # 96
                nn.Sequential(Conv2d(16, 32, kernel_size=3, stride=2, padding=1), _res(32), _res(32)),  # 48
                nn.Sequential(Conv2d(32, 64, kernel_size=3, stride=2, padding=1), _res(64), _res(64), _res(64)),  # 24
                nn.Sequential(Conv2d(64, 128, kernel_size=3, stride=2, padding=1), _res(128), _res(128)),  # 12
                nn.Sequential(Conv2d(128, 256, kernel_size=3, stride=2, padding=1), _res(256), _res(256)),  # 6
                nn.Sequential(Conv2d(256, 512, kernel_size=3, stride=2, padding=1), _res(512)),  # 3
                nn.Sequential(
                    Conv2d(512, 512, kernel_size=3, stride=1, padding=0),
                    Conv2d(512, 512, kernel_size=1, stride=1, padding=0),
                ),  # 1
            ]
        )
        if emotion:
            self.emotion_encoder = nn.Sequential(
                nn.Linear(6, 512), nn.LeakyReLU(0.2), nn.Linear(512, 512), nn.LeakyReLU(0.2)
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
            Conv2d(256, 512, kernel_size=3, stride=1, padding=0),
            Conv2d(512, 512, kernel_size=1, stride=1, padding=0),
        )
        self.face_decoder_blocks = nn.ModuleList(
            [
                nn.Sequential(Conv2d(1024 if emotion else 512, 512, kernel_size=1, stride=1, padding=0)),
                nn.Sequential(Conv2dTranspose(1024, 512, kernel_size=3, stride=1, padding=0), _res(512)),  # 3
                nn.Sequential(
                    Conv2dTranspose(1024, 512, kernel_size=3, stride=2, padding=1, output_padding=1),
                    _res(512),
                    _res(512),
                ),  # 6
                nn.Sequential(
                    Conv2dTranspose(768, 384, kernel_size=3, stride=2, padding=1, output_padding=1),
                    _res(384),
                    _res(384),
                ),  # 12
                nn.Sequential(
                    Conv2dTranspose(512, 256, kernel_size=3, stride=2, padding=1, output_padding=1),
                    _res(256),
                    _res(256),
                ),  # 24
                nn.Sequential(
                    Conv2dTranspose(320, 128, kernel_size=3, stride=2, padding=1, output_padding=1),
                    _res(128),
                    _res(128),
                ),  # 48
                nn.Sequential(
                    Conv2dTranspose(160, 64, kernel_size=3, stride=2, padding=1, output_padding=1), _res(64), _res(64)
                ),  # 96
            ]
        )
        self.output_block = nn.Sequential(
            Conv2d(80, 32, kernel_size=3, stride=1, padding=1),
            nn.Conv2d(32, 3, kernel_size=1, stride=1, padding=0),
            nn.Sigmoid(),
        )
        if emotion_film:
            # Outside the global random stream, so a seed builds the same other weights with or without the option.
            with torch.random.fork_rng(devices=[]):
                self.emotion_film = nn.ModuleList([nn.Linear(6, 2 * c) for c in DECODER_JOIN_CHANNELS])
            for layer in self.emotion_film:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(
        self, audio_sequences: torch.Tensor, face_sequences: torch.Tensor, emotion: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Generate faces.

        Training: mels (B,T,1,80,16), faces (B,6,T,96,96), one-hot (B,6) -> (B,3,T,96,96).
        Inference: mels (N,1,80,16), faces (N,6,96,96), one-hot (N,6) -> (N,3,96,96).
        A generator built with ``emotion=False`` takes no one-hot (the original Wav2Lip's two inputs).
        """
        if self.has_emotion and emotion is None:
            raise ValueError("the EmoGen generator needs a one-hot emotion")
        is_sequence = face_sequences.dim() > 4
        batch = audio_sequences.size(0)
        if is_sequence:
            steps = face_sequences.size(2)
            audio_sequences = fold_time(audio_sequences, 1)
            face_sequences = fold_time(face_sequences, 2)
            if self.has_emotion:  # the same emotion drives every frame of the window
                emotion = emotion.unsqueeze(0).expand(steps, *emotion.shape).reshape(-1, emotion.size(-1))

        audio_embedding = self.audio_encoder(audio_sequences)

        feats = []
        x = face_sequences
        for block in self.face_encoder_blocks:
            x = block(x)
            feats.append(x)

        if self.has_emotion:
            x = torch.cat((audio_embedding, self.emotion_encoder(emotion).view(-1, 512, 1, 1)), dim=1)
        else:
            x = audio_embedding
        film = getattr(self, "emotion_film", None)
        for i, block in enumerate(self.face_decoder_blocks):
            x = torch.cat((block(x), feats.pop()), dim=1)
            if film is not None:
                scale, shift = film[i](emotion).view(x.size(0), -1, 1, 1).chunk(2, dim=1)
                x = x * (1 + scale) + shift

        x = self.output_block(x)
        return unfold_time(x, batch, 2) if is_sequence else x


class Wav2Lip_disc_qual(nn.Module):  # noqa: N801 - name kept for users' imports
    """Wav2Lip's visual-quality discriminator on the lower half of each frame."""

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList(
            [
                nn.Sequential(nonorm_Conv2d(3, 32, kernel_size=7, stride=1, padding=3)),
                nn.Sequential(
                    nonorm_Conv2d(32, 64, kernel_size=5, stride=(1, 2), padding=2),
                    nonorm_Conv2d(64, 64, kernel_size=5, stride=1, padding=2),
                ),
                nn.Sequential(
                    nonorm_Conv2d(64, 128, kernel_size=5, stride=2, padding=2),
                    nonorm_Conv2d(128, 128, kernel_size=5, stride=1, padding=2),
                ),
                nn.Sequential(
                    nonorm_Conv2d(128, 256, kernel_size=5, stride=2, padding=2),
                    nonorm_Conv2d(256, 256, kernel_size=5, stride=1, padding=2),
                ),
                nn.Sequential(
                    nonorm_Conv2d(256, 512, kernel_size=3, stride=2, padding=1),
                    nonorm_Conv2d(512, 512, kernel_size=3, stride=1, padding=1),
                ),
                nn.Sequential(
                    nonorm_Conv2d(512, 512, kernel_size=3, stride=2, padding=1),
                    nonorm_Conv2d(512, 512, kernel_size=3, stride=1, padding=1),
                ),
                nn.Sequential(
                    nonorm_Conv2d(512, 512, kernel_size=3, stride=1, padding=0),
                    nonorm_Conv2d(512, 512, kernel_size=1, stride=1, padding=0),
                ),
            ]
        )
        self.binary_pred = nn.Sequential(nn.Conv2d(512, 1, kernel_size=1, stride=1, padding=0), nn.Sigmoid())
        self.label_noise = 0.0

    @staticmethod
    def get_lower_half(face_sequences: torch.Tensor) -> torch.Tensor:
        """Keep the bottom half of each frame (rows H//2 onwards)."""
        return face_sequences[:, :, face_sequences.size(2) // 2 :]

    @staticmethod
    def to_2d(face_sequences: torch.Tensor) -> torch.Tensor:
        """(B,C,T,H,W) -> (T*B,C,H,W), time-major."""
        return fold_time(face_sequences, 2)

    def _predict(self, face_sequences: torch.Tensor) -> torch.Tensor:
        x = self.get_lower_half(self.to_2d(face_sequences))
        for block in self.face_encoder_blocks:
            x = block(x)
        return self.binary_pred(x).view(len(x), -1)

    def perceptual_forward(self, false_face_sequences: torch.Tensor) -> torch.Tensor:
        """BCE pushing generated frames towards 'real'."""
        pred = self._predict(false_face_sequences)
        return F.binary_cross_entropy(pred, torch.ones_like(pred))

    def forward(self, face_sequences: torch.Tensor) -> torch.Tensor:
        """Probability that each frame is real, shape (T*B, 1)."""
        return self._predict(face_sequences)
