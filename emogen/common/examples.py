"""The example face video and speech shipped in examples/ (the demo's input and the int8 calibration data)."""

from __future__ import annotations

import os

from .weights import CHECKOUT

EXAMPLE_FACE = os.path.join(CHECKOUT, "examples", "face.mp4")
EXAMPLE_SPEECH = os.path.join(CHECKOUT, "examples", "speech.wav")
