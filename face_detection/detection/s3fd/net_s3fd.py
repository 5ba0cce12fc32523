"""The S3FD network (layout of the face-alignment project's ``s3fd.pth``)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class L2Norm(nn.Module):
    """Channel-wise L2 normalization with a learned per-channel scale."""

    def __init__(self, n_channels: int, scale: float = 1.0) -> None:
        super().__init__()
        self.eps = 1e-10
        self.weight = nn.Parameter(torch.full((n_channels,), float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = x.pow(2).sum(dim=1, keepdim=True).sqrt() + self.eps
        return x / norm * self.weight.view(1, -1, 1, 1)


def _conv(cin: int, cout: int, k: int = 3, s: int = 1, p: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=k, stride=s, padding=p)


class S3FD(nn.Module):
    """Single Shot Scale-invariant Face Detector: VGG16 trunk with six detection heads (strides 4 to 128)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1_1, self.conv1_2 = _conv(3, 64), _conv(64, 64)
        self.conv2_1, self.conv2_2 = _conv(64, 128), _conv(128, 128)
        self.conv3_1, self.conv3_2, self.conv3_3 = _conv(128, 256), _conv(256, 256), _conv(256, 256)
        self.conv4_1, self.conv4_2, self.conv4_3 = _conv(256, 512), _conv(512, 512), _conv(512, 512)
        self.conv5_1, self.conv5_2, self.conv5_3 = _conv(512, 512), _conv(512, 512), _conv(512, 512)
        # fc6 pads by 3 with a 3x3 kernel, so it grows the map by 4 in each direction (as the weights expect).
        self.fc6 = _conv(512, 1024, 3, 1, 3)
        self.fc7 = _conv(1024, 1024, 1, 1, 0)
        self.conv6_1, self.conv6_2 = _conv(1024, 256, 1, 1, 0), _conv(256, 512, 3, 2, 1)
        self.conv7_1, self.conv7_2 = _conv(512, 128, 1, 1, 0), _conv(128, 256, 3, 2, 1)
        self.conv3_3_norm = L2Norm(256, scale=10)
        self.conv4_3_norm = L2Norm(512, scale=8)
        self.conv5_3_norm = L2Norm(512, scale=5)
        self.conv3_3_norm_mbox_conf, self.conv3_3_norm_mbox_loc = _conv(256, 4), _conv(256, 4)
        self.conv4_3_norm_mbox_conf, self.conv4_3_norm_mbox_loc = _conv(512, 2), _conv(512, 4)
        self.conv5_3_norm_mbox_conf, self.conv5_3_norm_mbox_loc = _conv(512, 2), _conv(512, 4)
        self.fc7_mbox_conf, self.fc7_mbox_loc = _conv(1024, 2), _conv(1024, 4)
        self.conv6_2_mbox_conf, self.conv6_2_mbox_loc = _conv(512, 2), _conv(512, 4)
        self.conv7_2_mbox_conf, self.conv7_2_mbox_loc = _conv(256, 2), _conv(256, 4)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B,3,H,W) mean-subtracted RGB -> [cls1, reg1, ..., cls6, reg6] for strides 4, 8, ..., 128."""
        h = F.relu(self.conv1_2(F.relu(self.conv1_1(x))))
        h = F.max_pool2d(h, 2, 2)
        h = F.relu(self.conv2_2(F.relu(self.conv2_1(h))))
        h = F.max_pool2d(h, 2, 2)
        f3_3 = F.relu(self.conv3_3(F.relu(self.conv3_2(F.relu(self.conv3_1(h))))))
        h = F.max_pool2d(f3_3, 2, 2)
        f4_3 = F.relu(self.conv4_3(F.relu(self.conv4_2(F.relu(self.conv4_1(h))))))
        h = F.max_pool2d(f4_3, 2, 2)
        f5_3 = F.relu(self.conv5_3(F.relu(self.conv5_2(F.relu(self.conv5_1(h))))))
        h = F.max_pool2d(f5_3, 2, 2)
        ffc7 = F.relu(self.fc7(F.relu(self.fc6(h))))
        f6_2 = F.relu(self.conv6_2(F.relu(self.conv6_1(ffc7))))
        f7_2 = F.relu(self.conv7_2(F.relu(self.conv7_1(f6_2))))

        f3_3, f4_3, f5_3 = self.conv3_3_norm(f3_3), self.conv4_3_norm(f4_3), self.conv5_3_norm(f5_3)
        cls1 = self.conv3_3_norm_mbox_conf(f3_3)
        # Stride-4 head predicts three background scores; keep their maximum ("max-out" background).
        background = torch.max(torch.max(cls1[:, 0:1], cls1[:, 1:2]), cls1[:, 2:3])
        cls1 = torch.cat([background, cls1[:, 3:4]], dim=1)
        return [
            cls1,
            self.conv3_3_norm_mbox_loc(f3_3),
            self.conv4_3_norm_mbox_conf(f4_3),
            self.conv4_3_norm_mbox_loc(f4_3),
            self.conv5_3_norm_mbox_conf(f5_3),
            self.conv5_3_norm_mbox_loc(f5_3),
            self.fc7_mbox_conf(ffc7),
            self.fc7_mbox_loc(ffc7),
            self.conv6_2_mbox_conf(f6_2),
            self.conv6_2_mbox_loc(f6_2),
            self.conv7_2_mbox_conf(f7_2),
            self.conv7_2_mbox_loc(f7_2),
        ]


s3fd = S3FD  # the face-alignment project's class name
