"""Crop boxes handed to the renderer while detection still runs, each one as soon as it can no longer change.

A frame's crop box depends on the raw boxes around it only: gap filling on the nearest detected boxes on either
side (a gap longer than ``max_gap`` stays empty), and the 5-frame smoothing on the box and the next four (the
clamped window at the end of a run of faces on that run's last five). So once the raw boxes up to a detected
face at index L-1 are known, every crop box before L-4 is final; the published values are those the whole list
would give (``final_prefix`` computes them on a short tail only, which the tests check against the whole list).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

from emogen.common.contract import WINDOW, Box, Coords

from .geometry import crop_coords, fill_gaps


@dataclass(frozen=True)
class CropRules:
    """What turns raw boxes into crop boxes: the missing-face mode, its gap limit, the frame, pads, smoothing."""

    missing_face: str  # interpolate | passthrough | error
    max_gap: int
    frame_shape: tuple[int, int]
    pads: tuple[int, int, int, int]
    nosmooth: bool

    def whole(self, raw: Sequence[Optional[Box]]) -> tuple[list[Optional[Coords]], int]:
        """Crop boxes of a complete list and the number of boxes filled in."""
        filled = 0
        if self.missing_face == "interpolate":
            raw, filled = fill_gaps(raw, self.max_gap)
        return crop_coords(raw, self.frame_shape, self.pads, self.nosmooth), filled


def final_prefix(raw: Sequence[Optional[Box]], published: int, rules: CropRules) -> tuple[int, list[Optional[Coords]]]:
    """(n, crop boxes for indices published..n-1) that no later raw box can change, for a list still growing."""
    n_raw = len(raw)
    if rules.missing_face == "interpolate":
        last_face = next((i for i in range(n_raw - 1, -1, -1) if raw[i] is not None), -1)
        # A trailing run of misses longer than the gap limit stays empty whatever comes next.
        settled = n_raw if n_raw - 1 - last_face > rules.max_gap else last_face + 1
    else:
        settled = n_raw  # no filling: a miss is final when it is seen
    if settled == 0:
        return published, []
    final = settled if raw[settled - 1] is None else settled - (WINDOW - 1)
    if final <= published:
        return published, []
    # Boxes from start on equal the whole list's: its fill sees the detected box before every gap it reaches, and
    # the run of faces it cuts at start is at least WINDOW long there, so smoothing reads the same boxes.
    start = max(0, published - WINDOW)
    while start > 0 and raw[start] is None:
        start -= 1
    coords, _ = rules.whole(raw[start:settled])
    return final, coords[published - start : final - start]


@dataclass
class BoxList:
    """Crop boxes known in full before rendering starts: a fixed --box, a detection-cache hit, or detection run
    to the end; the same interface as BoxStream."""

    coords: list[Optional[Coords]]
    filled: int = 0
    hit: bool = False

    def at(self, index: int) -> Optional[Coords]:
        """Output frame ``index``'s crop box (input frame index mod the frames detected)."""
        return self.coords[index % len(self.coords)]

    def result(self) -> tuple[list[Optional[Coords]], int]:
        """The whole list and the boxes filled in."""
        return self.coords, self.filled

    def close(self) -> None:
        """Nothing runs in the background."""


class BoxStream:
    """Crop boxes from a detection thread; ``at(i)`` waits until output frame i's box is final."""

    hit = False  # never a detection-cache hit: a hit needs no thread

    def __init__(
        self,
        boxes: Iterable[Optional[Box]],
        rules: CropRules,
        finish: Callable[[list[Optional[Box]]], tuple[list[Optional[Coords]], int]],
        check: Callable[[int, Optional[Coords], list[Optional[Box]]], None] = lambda i, c, raw: None,
    ) -> None:
        """``finish(raw)`` turns the complete list into (crop boxes, boxes filled), raising the run's UserError
        (no face, an empty box) as it would without streaming, and stores it (the detection cache); its crop
        boxes must be ``rules.whole``'s. ``check(index, box, raw)`` raises that error for a published box as
        soon as it is out (boxes come in order, so the first one it names is the whole list's first). Both run
        on the detection thread."""
        self.rules = rules
        self._check = check
        self.coords: list[Optional[Coords]] = []
        self.filled = 0
        self._raw: list[Optional[Box]] = []
        self._done = False
        self._error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(boxes, finish), daemon=True)
        self._thread.start()

    def _run(self, boxes: Iterable[Optional[Box]], finish) -> None:
        try:
            missed = False
            for box in boxes:
                if self._stop.is_set():
                    return
                self._raw.append(box)
                # With --missing_face error nothing after a miss is published: the check at the end raises, with
                # the whole list's message.
                missed = missed or (box is None and self.rules.missing_face == "error")
                if missed:
                    continue
                first, coords = final_prefix(self._raw, len(self.coords), self.rules)
                for k, c in enumerate(coords):
                    self._check(first - len(coords) + k, c, self._raw)
                if coords:
                    with self._changed:
                        self.coords.extend(coords)
                        self._changed.notify_all()
            whole, filled = finish(list(self._raw))
            with self._changed:
                self.coords, self.filled, self._done = whole, filled, True
                self._changed.notify_all()
        except BaseException as exc:  # handed to the renderer's thread, which raises it
            with self._changed:
                self._error = exc
                self._changed.notify_all()

    def at(self, index: int) -> Optional[Coords]:
        """Output frame ``index``'s crop box (input frame index mod the frames detected), once final."""
        with self._changed:
            while not (self._error or index < len(self.coords) or self._done):
                self._changed.wait(0.5)
            if self._error is not None:
                raise self._error
            if index < len(self.coords):
                return self.coords[index]
            return self.coords[index % len(self.coords)]

    def result(self) -> tuple[list[Optional[Coords]], int]:
        """The whole list and the boxes filled in, once detection has finished."""
        self.at(10**12)
        return self.coords, self.filled

    def close(self) -> None:
        """Stop the detection thread (the renderer stopped early) and wait for it."""
        self._stop.set()
        self._thread.join()
