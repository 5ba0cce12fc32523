"""syncnet_python's S3FD network (state_dict keys vgg.*, L2Norm*, extras.*, loc.*, conf.*, as in sfd_face.pth).

It differs from the face-alignment S3FD in two operations that change its outputs: fc6 is a 3x3 convolution
with dilation 6 (padding 6), and the third max-pool rounds up (ceil_mode). It returns the raw head outputs;
``postprocess.detect`` turns them into boxes as that project does.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from emogen.common.weights import S3FD_EXTRA_LAYERS, S3FD_HEAD_SOURCES, S3FD_NORM_LEVELS, S3FD_VGG_LAYERS

from ..s3fd.net_s3fd import L2Norm

# (in, out) per 3x3 convolution of the VGG trunk; "M" a 2x2 max-pool, "C" the same rounding up.
_TRUNK = [
    (3, 64),
    (64, 64),
    "M",
    (64, 128),
    (128, 128),
    "M",
    (128, 256),
    (256, 256),
    (256, 256),
    "C",
    (256, 512),
    (512, 512),
    (512, 512),
    "M",
    (512, 512),
    (512, 512),
    (512, 512),
    "M",
]
HEAD_CHANNELS = (256, 512, 512, 1024, 512, 256)


def _trunk() -> nn.ModuleList:
    layers: list[nn.Module] = []
    for item in _TRUNK:
        if item in ("M", "C"):
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=item == "C"))
        else:
            layers += [nn.Conv2d(item[0], item[1], 3, 1, padding=1), nn.ReLU(inplace=True)]
    layers += [
        nn.Conv2d(512, 1024, 3, 1, padding=6, dilation=6),
        nn.ReLU(inplace=True),
        nn.Conv2d(1024, 1024, 1, 1),
        nn.ReLU(inplace=True),
    ]
    return nn.ModuleList(layers)


class SyncnetS3FDNet(nn.Module):
    """The network; ``forward`` gives (loc (B,P,4), face probability (B,P), feature-map sizes per head)."""

    def __init__(self) -> None:
        super().__init__()
        self.vgg = _trunk()
        self.L2Norm3_3, self.L2Norm4_3, self.L2Norm5_3 = L2Norm(256, 10), L2Norm(512, 8), L2Norm(512, 5)
        self.extras = nn.ModuleList(
            [
                nn.Conv2d(1024, 256, 1, 1),
                nn.Conv2d(256, 512, 3, 2, padding=1),
                nn.Conv2d(512, 128, 1, 1),
                nn.Conv2d(128, 256, 3, 2, padding=1),
            ]
        )
        self.loc = nn.ModuleList([nn.Conv2d(c, 4, 3, 1, padding=1) for c in HEAD_CHANNELS])
        self.conf = nn.ModuleList(
            [nn.Conv2d(c, 4 if i == 0 else 2, 3, 1, padding=1) for i, c in enumerate(HEAD_CHANNELS)]
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
        sources = []
        for k, layer in enumerate(self.vgg):
            x = layer(x)
            if k == 15:
                sources.append(self.L2Norm3_3(x))
            elif k == 22:
                sources.append(self.L2Norm4_3(x))
            elif k == 29:
                sources.append(self.L2Norm5_3(x))
        sources.append(x)
        for k, layer in enumerate(self.extras):
            x = F.relu(layer(x), inplace=True)
            if k % 2 == 1:
                sources.append(x)
        locs, confs, sizes = [], [], []
        for i, s in enumerate(sources):
            conf = self.conf[i](s)
            if i == 0:  # three background scores at stride 4: keep their maximum
                conf = torch.cat([conf[:, 0:3].max(dim=1, keepdim=True)[0], conf[:, 3:]], dim=1)
            loc = self.loc[i](s)
            sizes.append((loc.shape[2], loc.shape[3]))
            locs.append(loc.permute(0, 2, 3, 1).reshape(loc.shape[0], -1, 4))
            confs.append(conf.permute(0, 2, 3, 1).reshape(conf.shape[0], -1, 2))
        prob = F.softmax(torch.cat(confs, dim=1), dim=-1)[..., 1]
        return torch.cat(locs, dim=1), prob, sizes


def from_face_alignment_layout(state_dict: dict) -> dict:
    """Rename the keys of a face-alignment ``s3fd.pth`` to this layout (same tensors)."""
    vgg_index = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28, 31, 33]
    names = {f"{c}.{p}": f"vgg.{i}.{p}" for c, i in zip(S3FD_VGG_LAYERS, vgg_index) for p in ("weight", "bias")}
    for i, c in enumerate(S3FD_EXTRA_LAYERS):
        names.update({f"{c}.{p}": f"extras.{i}.{p}" for p in ("weight", "bias")})
    for level in S3FD_NORM_LEVELS:
        names[f"conv{level}_norm.weight"] = f"L2Norm{level}.weight"
    for i, head in enumerate(S3FD_HEAD_SOURCES):
        for kind in ("loc", "conf"):
            names.update({f"{head}_mbox_{kind}.{p}": f"{kind}.{i}.{p}" for p in ("weight", "bias")})
    return {names.get(k, k): v for k, v in state_dict.items()}
