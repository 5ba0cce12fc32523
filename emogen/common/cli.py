"""Command-line helpers every script shares: one-line argument errors and checked number types."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Callable, NoReturn, Optional


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error (the usage block hides the line that matters; --help shows it)."""

    def error(self, message: str) -> NoReturn:
        """Print 'error: <what is wrong> (see --help)' and exit with status 2."""
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def _number(kind: type, low: Optional[float], high: Optional[float], low_open: bool = False) -> Callable[[str], float]:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if low is not None and (value <= low if low_open else value < low):
            raise argparse.ArgumentTypeError(f"must be {'above' if low_open else 'at least'} {low:g}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def int_range(low: Optional[int] = None, high: Optional[int] = None) -> Callable[[str], int]:
    """An int type for argparse limited to [low, high]."""
    return _number(int, low, high)  # type: ignore[return-value]


def float_range(
    low: Optional[float] = None, high: Optional[float] = None, low_open: bool = False
) -> Callable[[str], float]:
    """A float type for argparse limited to [low, high] (or (low, high] with ``low_open``)."""
    return _number(float, low, high, low_open)


positive_int = int_range(1)
non_negative_int = int_range(0)
positive_float = _number(float, 0.0, None, low_open=True)
non_negative_float = _number(float, 0.0, None)
