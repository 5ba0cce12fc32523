"""Hyper-parameters shared by every EmoGen script.

Edit the defaults below, or override any value on the command line of any script with a repeatable
``--hparams key=value`` (for example ``--hparams batch_size=8 --hparams syncnet_wt=0.03``).
The names and defaults are those of the original EmoGen / Wav2Lip code, so released checkpoints and
published numbers stay comparable.
"""

from __future__ import annotations

import ast
import math
from typing import Any, Iterable

# The values each override may take: (lowest, highest), both included; None = no bound. The generator fixes
# the image size; every float must also be finite.
RANGES: dict[str, tuple[Any, Any]] = {
    "num_mels": (1, 512),
    "img_size": (96, 96),
    "n_fft": (16, 1 << 16),
    "hop_size": (1, 1 << 16),
    "win_size": (1, 1 << 16),
    "sample_rate": (1000, 192000),
    "rescaling_max": (0.0, 1.0),
    "max_abs_value": (0.0, None),
    "preemphasis": (0.0, 1.0),
    "fmin": (0, None),
    "fmax": (1, None),
    "fps": (1, 240),
    "batch_size": (1, 1 << 16),
    "syncnet_batch_size": (1, 1 << 16),
    "initial_learning_rate": (0.0, 10.0),
    "syncnet_lr": (0.0, 10.0),
    "disc_initial_learning_rate": (0.0, 10.0),
    "nepochs": (1, None),
    "num_workers": (0, 1024),
    "checkpoint_interval": (1, None),
    "eval_interval": (1, None),
    "syncnet_eval_interval": (1, None),
    "syncnet_checkpoint_interval": (1, None),
    "syncnet_wt": (0.0, 1.0),
    "emo_wt": (0.0, None),
    "emo_swap_wt": (0.0, None),
    "emo_blur": (0.0, 8.0),
    "pl_wt": (0.0, None),
    "disc_wt": (0.0, None),
    "beta_1": (0.0, 1.0),
    "beta_2": (0.0, 1.0),
}
POSITIVE = {"max_abs_value"}


def check_range(key: str, value: Any) -> None:
    """A ValueError unless ``value`` is finite and within the range ``key`` allows."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"hyper-parameter {key} must be a finite number, got {value}")
    if key not in RANGES or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    low, high = RANGES[key]
    if key in POSITIVE and value <= 0:
        raise ValueError(f"hyper-parameter {key} must be above 0, got {value}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"{low}"
            if low == high
            else f"{low if low is not None else '-inf'} to {high if high is not None else 'inf'}"
        )
        raise ValueError(f"hyper-parameter {key} must be {'exactly ' if low == high else ''}{bounds}, got {value}")


class HParams:
    """A bag of named values with attribute access and type-checked overrides."""

    def __init__(self, **values: Any) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"no hyper-parameter named {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.set_hparam(key, value)

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def set_hparam(self, key: str, value: Any) -> None:
        """Set an existing hyper-parameter (unknown names are refused to catch typos)."""
        if key not in self._values:
            raise KeyError(f"unknown hyper-parameter {key!r}; known: {', '.join(sorted(self._values))}")
        self._values[key] = value

    def values(self) -> dict[str, Any]:
        """A copy of all values as a plain dict."""
        return dict(self._values)

    def copy(self) -> HParams:
        """An independent copy (scripts override a copy, never the module default)."""
        return HParams(**self._values)

    def summary(self) -> str:
        """All values, one ``name: value`` per line, sorted by name."""
        width = max(len(k) for k in self._values)
        return "\n".join(f"{k:<{width}} : {v!r}" for k, v in sorted(self._values.items()))

    def parse_value(self, key: str, text: str) -> Any:
        """Convert ``text`` to the type of the current value of ``key``."""
        if key not in self._values:
            raise KeyError(f"unknown hyper-parameter {key!r}; known: {', '.join(sorted(self._values))}")
        current = self._values[key]
        if isinstance(current, bool):
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"hyper-parameter {key} expects true/false, got {text!r}")
        if isinstance(current, int):
            return int(float(text)) if "e" in text.lower() else int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, str):
            return text
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text

    def apply_overrides(self, overrides: Iterable[str]) -> HParams:
        """Apply ``key=value`` strings in place and return self."""
        for item in overrides or ():
            if "=" not in item:
                raise ValueError(f"--hparams expects key=value, got {item!r}")
            key, text = item.split("=", 1)
            key = key.strip()
            try:
                value = self.parse_value(key, text.strip())
                check_range(key, value)
                self.set_hparam(key, value)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"bad --hparams {item!r}: {exc.args[0]}") from None
        return self


hparams = HParams(
    # Audio (the mel front end the released checkpoints were trained on).
    num_mels=80,
    rescale=True,
    rescaling_max=0.9,
    use_lws=False,
    n_fft=800,
    hop_size=200,
    win_size=800,
    sample_rate=16000,
    frame_shift_ms=None,
    signal_normalization=True,
    allow_clipping_in_normalization=True,
    symmetric_mels=True,
    max_abs_value=4.0,
    preemphasize=True,
    preemphasis=0.97,
    min_level_db=-100,
    ref_level_db=20,
    fmin=55,
    fmax=7600,
    # Video.
    img_size=96,
    fps=25,
    # Generator training.
    batch_size=16,
    initial_learning_rate=1e-4,
    nepochs=200000000000000000,
    num_workers=16,
    checkpoint_interval=10000,
    eval_interval=3000,
    save_optimizer_state=True,
    # The original also saves right after step 1; short runs (the demos) turn it off to halve their disk use.
    checkpoint_at_step_one=True,
    syncnet_wt=0.0,
    # Lip-sync expert training.
    syncnet_batch_size=128,
    syncnet_lr=1e-4,
    syncnet_eval_interval=500,
    syncnet_checkpoint_interval=1000,
    # Emotion and perceptual terms, discriminator.
    emo_wt=0.01,
    # Not in the original (0 keeps its loss): the emotion term also on each window generated with another,
    # random label, so the label has to steer the face where the speech and reference say otherwise.
    emo_swap_wt=0.0,
    # Not in the original (0 keeps its loss): the generated frames pass a Gaussian blur of this sigma (pixels of
    # the 96 px face) before the emotion discriminator in the generator's emotion term. The discriminator's
    # gradient carries fine patterns (its stride-2 convolutions alternate pixel to pixel) that the generator
    # learns to draw as a grid and blotches; through the blur only coarse changes reach it (docs/emotion_demo.md).
    emo_blur=0.0,
    # Not in the original (False keeps the released generator's layout): the one-hot also scales and shifts the
    # decoder's features at every scale (models/wav2lip.py, Wav2Lip(emotion_film=True)). In the original the label
    # joins only at the 1x1 bottleneck, and the skips that carry the reference face pass it by.
    emotion_film=False,
    pl_wt=0.01,
    disc_wt=0.07,
    disc_initial_learning_rate=1e-4,
    beta_1=0.999,
    beta_2=0.999,
)
