"""Stability: N readings within ±d grams over at least t milliseconds.

Pure and clock-free: the caller passes each reading's time. Used alone for
indicators without a stable flag (XK3190, HX711) and, in "confirm" mode, to
confirm an indicator's own flag. A reading without a weight (overload, error)
breaks the run, so stability is never claimed across a fault.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

StabilityMode = Literal["flag", "confirm", "detector"]


@dataclass(frozen=True, slots=True)
class StabilityParams:
    count: int = 5  # at least this many readings in the run
    band_g: int = 2  # every one within ±band_g of the newest
    min_ms: int = 500  # and the run spans at least this long

    def __post_init__(self) -> None:
        if self.count < 2 or self.band_g < 0 or self.min_ms < 0:
            raise ValueError("stability needs count >= 2, band_g >= 0, min_ms >= 0")


class StabilityDetector:
    """Feed (weight, time) in order; ``update`` says whether the scale is settled."""

    def __init__(self, params: StabilityParams) -> None:
        self.params = params
        self._run: deque[tuple[int, int]] = deque(maxlen=max(params.count, 1024))

    def reset(self) -> None:
        self._run.clear()

    def update(self, weight_g: int | None, t_ms: int) -> bool:
        run = self._run
        if weight_g is None:
            run.clear()
            return False
        band = self.params.band_g
        # Keep only the trailing readings that are all within the band of this one.
        keep = 0
        for w, _t in reversed(run):
            if abs(w - weight_g) > band:
                break
            keep += 1
        while len(run) > keep:
            run.popleft()
        run.append((weight_g, t_ms))
        return len(run) >= self.params.count and t_ms - run[0][1] >= self.params.min_ms


def decide(flag: bool | None, detected: bool, mode: StabilityMode) -> bool:
    """Combine an indicator's flag with the detector's verdict.

    ``flag`` mode trusts the indicator when it has a flag; ``confirm`` needs both;
    ``detector`` ignores the flag. Without a flag the detector always decides.
    """
    if flag is None or mode == "detector":
        return detected
    if mode == "confirm":
        return flag and detected
    return flag
