"""Every training loss in one place: the expert's cosine BCE, the generator's lip-sync loss through the frozen
expert, the perceptual loss (MSE of VGG19 features) and the generator's weighted total.

VGG19's ImageNet weights are never downloaded here: they are read from torchvision's cache
($TORCH_HOME/hub/checkpoints/vgg19-dcbfe244.pth) or from a path. The network is defined here with torchvision's
exact layer indices, so torchvision itself is not needed.
"""

from __future__ import annotations

import os
from typing import Optional

import torch
from torch import nn

from emogen.common.checkpoint_io import read_checkpoint, state_dict_from_checkpoint
from emogen.common.errors import UserError
from emogen.common.weights import WEIGHTS
from hparams import HParams

_BCE = nn.BCELoss()


def cosine_loss(a: torch.Tensor, v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """BCE of the cosine similarity of audio and face embeddings against the sync label (the expert's loss)."""
    # In float32 even under autocast: BCE is unsafe in reduced precision (and a no-op cast in float32).
    with torch.autocast(a.device.type, enabled=False):
        d = nn.functional.cosine_similarity(a.float(), v.float()).clamp(0.0, 1.0)
        return _BCE(d.unsqueeze(1), y.float())


def sync_loss(syncnet: nn.Module, mel: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Expert loss of generated windows (B,3,T,H,W) against their mel: lower halves stacked on channels."""
    lower = g[:, :, :, g.size(3) // 2 :]
    stacked = torch.cat([lower[:, :, i] for i in range(lower.size(2))], dim=1)
    if syncnet.training and g.size(0) == 1:
        # BatchNorm has no batch statistics for one sample (the original crashes there): use the running ones.
        syncnet.eval()
        try:
            a, v = syncnet(mel, stacked)
        finally:
            syncnet.train()
    else:
        a, v = syncnet(mel, stacked)
    return cosine_loss(a, v, torch.ones(g.size(0), 1, device=g.device))


def total_loss(terms: dict, hp: HParams) -> torch.Tensor:
    """syncnet_wt*sync + pl_wt*perceptual + emo_wt*emotion + (1 - the three weights)*L1 (+ emo_swap_wt times
    the swapped-label term when present); a term of weight 0 may be absent from ``terms``."""
    weighted = ((hp.syncnet_wt, "sync"), (hp.pl_wt, "perceptual"), (hp.emo_wt, "emotion"))
    loss = sum(w * terms[k] for w, k in weighted if w)
    if "emotion_swap" in terms:  # an extra term (emo_swap_wt, 0 in the original): L1's share stays as it was
        loss = loss + hp.emo_swap_wt * terms["emotion_swap"]
    return loss + (1 - hp.syncnet_wt - hp.emo_wt - hp.pl_wt) * terms["l1"]


FEATURE_LAYERS = (4, 9, 18, 27, 36)  # outputs of the five max-pool layers of vgg19.features
_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def vgg19_features() -> nn.Sequential:
    """torchvision's ``vgg19().features`` layout (conv 3x3 + ReLU, max-pool 2x2), same indices and keys."""
    layers: list[nn.Module] = []
    cin = 3
    for v in _CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(cin, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            cin = v
    return nn.Sequential(*layers)


def vgg_weights_present(vgg_path: Optional[str] = None) -> bool:
    """Whether the VGG19 ImageNet weights the perceptual loss needs are at ``vgg_path`` (or torchvision's cache)."""
    return os.path.isfile(WEIGHTS["vgg19"].path(vgg_path))


def vgg_missing_line(vgg_path: Optional[str] = None) -> str:
    """The one line train.py prints when it leaves the perceptual term out for want of VGG19 weights."""
    return "note: the perceptual term (pl_wt) is left out: " + WEIGHTS["vgg19"].missing_message(
        WEIGHTS["vgg19"].path(vgg_path), "--vgg_path"
    )


class PerceptualLoss(nn.Module):
    """Sum over the five pool layers of the MSE between features of generated and ground-truth windows."""

    def __init__(self, vgg_path: Optional[str] = None, allow_random: bool = False) -> None:
        super().__init__()
        self.features = vgg19_features()
        path = WEIGHTS["vgg19"].path(vgg_path)
        self.pretrained = os.path.isfile(path)
        if self.pretrained:
            weights = state_dict_from_checkpoint(read_checkpoint(path), path)
            feats = {k[len("features.") :]: v for k, v in weights.items() if k.startswith("features.")}
            missing = set(self.features.state_dict()) - set(feats)
            if missing:
                raise UserError(f"{path} is not a torchvision VGG19 checkpoint (missing {sorted(missing)[:3]})")
            self.features.load_state_dict(feats)
        elif not allow_random:
            raise UserError(
                WEIGHTS["vgg19"].missing_message(path, "--vgg_path")
                + "; --random_vgg trains with an untrained VGG (not the paper's loss)"
            )
        else:
            print(
                f"warning: VGG19 weights not found at {path}; the perceptual loss uses a randomly initialised "
                "VGG19, so it is not the paper's loss"
            )
        self.features.eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.mse = nn.MSELoss()

    def train(self, mode: bool = True) -> PerceptualLoss:
        """The feature extractor always stays in eval mode."""
        super().train(mode)
        self.features.eval()
        return self

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in FEATURE_LAYERS:
                out.append(x)
            if i >= FEATURE_LAYERS[-1]:
                break
        return out

    def forward(self, generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """generated, real: (B,3,T,H,W) in [0, 1]."""
        b, c, t, h, w = generated.shape
        # The original folds windows into images with a plain view (not a permute); kept for the same loss.
        pred = self._features(generated.contiguous().view(b * t, c, h, w))
        with torch.no_grad():
            target = [f.detach() for f in self._features(real.contiguous().view(b * t, c, h, w))]
        return sum(self.mse(p, q) for p, q in zip(pred, target))
