"""The ensemble decoder: zxing-cpp first, further passes only on a miss, within a time budget.

One frame: the base pass (zxing-cpp, local-average binarizer) runs on the
preprocessed image. When it reads a code confidently the frame is done — so a
frame zxing reads at once costs what zxing alone costs. Otherwise the
configured passes run in order, each only if its estimated cost still fits the
frame's ``budget_ms``, until a confident read. Costly passes run on candidate
regions (``edge.vision.regions``) instead of the whole image.

Confidence: a read is confident when its symbology corrects errors (QR,
DataMatrix), when the base pass read a 1D code on the image as the camera saw
it, or when two passes agree on it. Other reads — a 1D code seen only in a
transformed image, by another binarizer or by pyzbar, and any DataBar read
(its GTIN check digit is computed by the decoder, not read) — keep the search
going and are reported only once a second pass agrees; alone they are dropped
and counted in ``unconfirmed``. Reads of one symbol (overlapping outlines) that
disagree are both dropped and counted in ``conflicts``. On the hard set every
false read the single passes make is of these kinds: a missed code is read
again on the next frame, a false one would be recorded.

Live camera (``live=True``): when the budget made a frame skip passes, the
next frame starts with the first pass skipped (and wraps round), so over
consecutive frames a code held in view meets every pass while no single frame
exceeds the budget; a frame that tried everything or read a code leaves the
next one to start from the first pass, in the measured order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edge.codes.gs1 import GS1_SYMBOLOGY_IDS
from edge.vision.decode import Decoded, Decoder, Image
from edge.vision.passes import PASSES, PassSpec, engines, run_pass
from edge.vision.regions import Box, candidate_regions

BASE = "zxing"
MARGIN = 1.2  # estimated cost x this must fit in what is left of the budget
TRUSTED = ("zxing",)  # zxing-cpp on the image as the camera saw it
STRONG_FORMATS = ("qr-code", "data-matrix")  # Reed-Solomon: a misread is corrected or refused
WEAK_FORMATS = ("databar", "databar-expanded")  # GTIN check digit computed, not read


@dataclass
class PassStats:
    """What one pass did since start: runs, time spent, symbols it read first."""

    runs: int = 0
    ms: float = 0.0
    first_reads: int = 0
    skipped: int = 0  # not run: its estimated cost did not fit the frame's budget


def norm_text(d: Decoded) -> str:
    """What two reads of one symbol must agree on: no GS1 prefix, EAN/UPC as GTIN-14."""
    t = d.text[3:] if d.text[:3] in GS1_SYMBOLOGY_IDS else d.text
    if d.format in ("ean-13", "upc-a", "upc-e") and t.isascii() and t.isdigit():
        return t.zfill(14)
    return t


def _bbox(d: Decoded) -> Box | None:
    if not d.corners:
        return None
    xs, ys = [p[0] for p in d.corners], [p[1] for p in d.corners]
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def same_symbol(a: Decoded, b: Decoded) -> bool:
    """Outlines overlap (reads without an outline are compared by text alone)."""
    ba, bb = _bbox(a), _bbox(b)
    if ba is None or bb is None:
        return norm_text(a) == norm_text(b)
    return ba[0] < bb[2] and bb[0] < ba[2] and ba[1] < bb[3] and bb[1] < ba[3]


class Merge:
    """The reads of one frame, one per symbol, with their agreement and conflicts."""

    def __init__(self) -> None:
        self.reads: list[Decoded] = []
        self.votes: list[int] = []
        self.bad: list[bool] = []

    def add(self, found: Sequence[Decoded]) -> int:
        """Fold in one pass's reads; returns how many symbols it read first."""
        new = 0
        for d in found:
            hits = [i for i, r in enumerate(self.reads) if same_symbol(r, d)]
            for i in hits:
                if norm_text(self.reads[i]) == norm_text(d):
                    self.votes[i] += 1
                else:
                    self.bad[i] = True
            if not hits:
                self.reads.append(d)
                self.votes.append(1)
                self.bad.append(False)
                new += 1
        return new

    def _sure(self, i: int) -> bool:
        r = self.reads[i]
        if self.bad[i]:
            return False
        if self.votes[i] > 1 or r.format in STRONG_FORMATS:
            return True
        return r.via in TRUSTED and r.format not in WEAK_FORMATS

    def confident(self) -> bool:
        return any(self._sure(i) for i in range(len(self.reads)))

    def result(self) -> tuple[list[Decoded], int, int]:
        """(confident reads, symbols dropped for a conflict, weak reads nobody confirmed)."""
        good = [r for i, r in enumerate(self.reads) if self._sure(i)]
        return good, sum(self.bad), len(self.reads) - len(good) - sum(self.bad)


class Ensemble:
    """zxing-cpp first, then ``passes`` on a miss, within ``budget_ms`` (0 = no limit)."""

    def __init__(self, formats: Sequence[str], passes: Sequence[str], budget_ms: float = 40.0,
                 live: bool = False, clock: Callable[[], float] = time.perf_counter,
                 decoders: dict[str, Decoder] | None = None) -> None:
        unknown = [p for p in passes if p not in PASSES or p == BASE]
        if unknown:
            raise ValueError(f"unknown or repeated passes {unknown}")
        self.passes = list(passes)
        self.budget_ms = budget_ms
        self.live = live
        self._clock = clock
        self._engines = decoders if decoders is not None else engines(formats)
        self._rate: dict[str, float] = {}  # EWMA of ms per megapixel, per pass
        self._resume = 0  # live: the first pass the last frame had to skip for the budget
        self.conflicts = 0  # symbols two passes read differently: neither reported
        self.unconfirmed = 0  # weak reads (1D or DataBar off a transformed image) no pass confirmed
        self.stats = {name: PassStats() for name in [BASE, *self.passes]}
        # After each pass of the last frame: (pass, what the frame would report if it stopped there).
        self.steps: list[tuple[str, list[Decoded]]] = []

    def _fits(self, name: str, pixels: int, spent_ms: float) -> bool:
        """Whether the pass is expected to end within the budget (pessimistic estimates)."""
        if not self.budget_ms:
            return True
        rate = self._rate.get(name)
        if rate is None:  # never run: try it only while half the budget is left
            return spent_ms <= self.budget_ms / 2
        return spent_ms + MARGIN * rate * pixels / 1e6 <= self.budget_ms

    def _run(self, name: str, grey: Image, boxes: list[Box] | None) -> tuple[list[Decoded], int]:
        spec: PassSpec = PASSES[name]
        dec = self._engines[spec.engine]
        if not spec.regional or not boxes:
            return run_pass(spec, dec, grey, name), grey.size
        out, pixels = [], 0
        for x0, y0, x1, y1 in boxes:
            crop = np.ascontiguousarray(grey[y0:y1, x0:x1])
            pixels += crop.size
            for d in run_pass(spec, dec, crop, name):
                out.append(Decoded(d.format, d.text, tuple((x + x0, y + y0) for x, y in d.corners),
                                   d.via))
        return out, pixels

    def _timed(self, name: str, grey: Image, boxes: list[Box] | None, merge: Merge) -> None:
        t0 = self._clock()
        found, pixels = self._run(name, grey, boxes)
        ms = (self._clock() - t0) * 1000
        rate = ms * 1e6 / max(pixels, 1)
        old = self._rate.get(name)
        # Up fast, down slowly: a load spike makes the estimates careful at once.
        self._rate[name] = rate if old is None else (
            0.5 * old + 0.5 * rate if rate > old else 0.9 * old + 0.1 * rate)
        st = self.stats[name]
        st.runs += 1
        st.ms += ms
        st.first_reads += merge.add(found)
        self.steps.append((name, merge.result()[0]))

    def _order(self) -> list[int]:
        n = len(self.passes)
        start = self._resume % n if (self.live and n) else 0
        return [(start + i) % n for i in range(n)]

    def decode(self, grey: Image) -> list[Decoded]:
        """Codes in ``grey`` (preprocessed greyscale), outlines in its pixels, ``via`` set."""
        t0 = self._clock()
        merge = Merge()
        self.steps = []
        self._timed(BASE, grey, None, merge)
        boxes: list[Box] | None = None
        skipped: int | None = None
        for i in self._order():
            if merge.confident():
                skipped = None  # done: the next frame starts from the first pass again
                break
            name = self.passes[i]
            if PASSES[name].regional and boxes is None:
                boxes = candidate_regions(grey)
            pixels = sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes) if (
                PASSES[name].regional and boxes) else grey.size
            if not self._fits(name, pixels, (self._clock() - t0) * 1000):
                self.stats[name].skipped += 1
                skipped = i if skipped is None else skipped
                continue
            self._timed(name, grey, boxes, merge)
        self._resume = skipped if skipped is not None else 0
        found, dropped, weak = merge.result()
        self.conflicts += dropped
        self.unconfirmed += weak
        return found
