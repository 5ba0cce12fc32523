"""CREMA-D file names: ActorID_SentenceID_EMOTION_INTENSITY (e.g. 1001_DFA_ANG_XX), and their label indices."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from emogen.common.contract import EMOTIONS

INTENSITIES = ("XX", "LO", "MD", "HI")
"""Intensity labels in the original's index order (XX 0, LO 1, MD 2, HI 3)."""

_PATTERN = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<intensity>[A-Z]{2})$")


@dataclass(frozen=True)
class CremaName:
    """The parts of a CREMA-D clip name."""

    actor: str
    sentence: str
    emotion: str
    intensity: str

    @property
    def emotion_index(self) -> int:
        """ANG 0, DIS 1, FEA 2, HAP 3, NEU 4, SAD 5 (the index order the released generator expects)."""
        return EMOTIONS.index(self.emotion)

    @property
    def intensity_index(self) -> int:
        """XX 0, LO 1, MD 2, HI 3."""
        return INTENSITIES.index(self.intensity)


def parse_crema_name(stem: str) -> Optional[CremaName]:
    """Parse a clip name without extension; None when it does not follow the CREMA-D pattern."""
    m = _PATTERN.match(stem)
    if not m or m["emotion"] not in EMOTIONS or m["intensity"] not in INTENSITIES:
        return None
    return CremaName(m["actor"], m["sentence"], m["emotion"], m["intensity"])


def emotion_of(stem: str) -> int:
    """Emotion index from a clip name, read from its third field even for names outside the strict pattern."""
    parsed = parse_crema_name(stem)
    if parsed:
        return parsed.emotion_index
    parts = stem.split("_")
    if len(parts) >= 3 and parts[2] in EMOTIONS:
        return EMOTIONS.index(parts[2])
    raise ValueError(f"cannot read an emotion label from {stem!r} (expected ActorID_Sentence_EMOTION_INTENSITY)")
