"""The ``--hparams key=value`` option every script shares."""
from __future__ import annotations

import argparse
from typing import Iterable

from hparams import HParams, hparams as default_hparams

from .errors import UserError


def add_hparams_argument(parser: argparse.ArgumentParser) -> None:
    """Add a repeatable ``--hparams key=value`` override option to ``parser``."""
    parser.add_argument("--hparams", action="append", default=[], metavar="KEY=VALUE",
                        help="override a value of hparams.py for this run (repeatable), e.g. "
                             "--hparams batch_size=8 --hparams syncnet_wt=0.03")


def hparams_from_args(overrides: Iterable[str]) -> HParams:
    """A copy of the defaults with the command-line overrides applied (bad ones are a UserError)."""
    try:
        return default_hparams.copy().apply_overrides(overrides)
    except ValueError as exc:
        raise UserError(str(exc)) from None
