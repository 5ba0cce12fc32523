"""Hyper-parameters shared by every EmoGen script.

Edit the defaults below, or override any value on the command line of any script with a repeatable
``--hparams key=value`` (for example ``--hparams batch_size=8 --hparams syncnet_wt=0.03``).
The names and defaults are those of the original EmoGen / Wav2Lip code, so released checkpoints and
published numbers stay comparable.
"""

from __future__ import annotations

import ast
from typing import Any, Iterable


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
                self.set_hparam(key, self.parse_value(key, text.strip()))
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
    syncnet_wt=0.0,
    # Lip-sync expert training.
    syncnet_batch_size=128,
    syncnet_lr=1e-4,
    syncnet_eval_interval=500,
    syncnet_checkpoint_interval=1000,
    # Emotion and perceptual terms, discriminator.
    emo_wt=0.01,
    pl_wt=0.01,
    disc_wt=0.07,
    disc_initial_learning_rate=1e-4,
    beta_1=0.999,
    beta_2=0.999,
)


def hparams_debug_string() -> str:
    """The summary of the default hyper-parameters (name kept from the original code)."""
    return "Hyperparameters:\n" + hparams.summary()
