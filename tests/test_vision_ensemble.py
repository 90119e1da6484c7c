"""The ensemble decoder: the hard distorted set, conflicts, confirmation, the time budget."""

from __future__ import annotations

import collections
from typing import get_args

import numpy as np
import pytest

from edge.vision.config import DecoderSection, PassName
from edge.vision.decode import Decoded, Image, ZxingDecoder
from edge.vision.ensemble import Ensemble, norm_text
from edge.vision.frame_decoder import FrameDecoder
from edge.vision.hard_set import CODES, FAULTS, hard_set
from edge.vision.passes import PASSES
from edge.vision.render import Sample

FORMATS = sorted({f for f, _ in CODES})


def _expected(s: Sample) -> str:
    return norm_text(Decoded(s.format, s.expected))


def _score(found: list[Decoded], s: Sample) -> tuple[bool, bool]:
    texts = {norm_text(d) for d in found}
    return _expected(s) in texts, bool(texts - {_expected(s)})


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return list(hard_set())


def test_hard_set_covers_every_format_and_fault(samples: list[Sample]) -> None:
    assert {s.format for s in samples} == {
        "ean-13", "ean-8", "upc-a", "code-128", "qr-code", "data-matrix", "databar-expanded"}
    assert collections.Counter(s.label.split()[1] for s in samples).keys() == set(FAULTS)
    again = list(hard_set())  # seeded: the same images every run
    assert all(np.array_equal(a.image, b.image) for a, b in zip(samples, again, strict=True))


def test_ensemble_reads_more_than_zxing_with_no_false_read(samples: list[Sample]) -> None:
    zx = ZxingDecoder(FORMATS)
    passes = DecoderSection().passes
    ens = Ensemble(FORMATS, passes, budget_ms=0)  # no budget: the same result on any machine
    zx_read = ens_read = ens_false = 0
    first = collections.Counter[str]()
    for s in samples:
        zx_read += _score(zx.decode(s.image), s)[0]
        ok, false = _score(ens.decode(s.image), s)
        ens_read += ok
        ens_false += false
        # The first pass after which the frame would have reported the code.
        first[next((name for name, res in ens.steps
                    if _expected(s) in {norm_text(d) for d in res}), "-")] += 1
    print(f"\nzxing alone {zx_read}/{len(samples)}, ensemble {ens_read}, false {ens_false}, "
          f"conflicts {ens.conflicts}, unconfirmed {ens.unconfirmed}; first read by {dict(first)}")
    assert ens_false == 0
    assert ens_read > zx_read
    useless = [p for p in passes if first[p] == 0]
    assert not useless, f"passes that read nothing the earlier ones miss: {useless}"


def test_every_pass_is_configurable() -> None:
    assert set(PASSES) == {"zxing", *get_args(PassName)}


# -- behaviour, with stand-in engines whose reads and costs are given -------------------------


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Engine:
    """Returns scripted reads and advances the clock by ``ms`` per call."""

    def __init__(self, clock: Clock, ms: float, reads: list[Decoded]) -> None:
        self.name = "fake"
        self.clock, self.ms, self.reads, self.calls = clock, ms, reads, 0

    def decode(self, grey: Image) -> list[Decoded]:
        self.calls += 1
        self.clock.t += self.ms / 1000
        return list(self.reads)


BOX = ((10, 10), (60, 10), (60, 40), (10, 40))
FAR = ((200, 150), (250, 150), (250, 180), (200, 180))
GREY = np.full((240, 320), 200, np.uint8)


def _ensemble(clock: Clock, base: list[Decoded], fixed: list[Decoded], pyzbar: list[Decoded],
              budget: float = 0, live: bool = False,
              costs: tuple[float, float, float] = (1, 1, 1)) -> tuple[Ensemble, dict[str, Engine]]:
    engs = {"zxing": Engine(clock, costs[0], base), "zxing-fixed": Engine(clock, costs[1], fixed),
            "pyzbar": Engine(clock, costs[2], pyzbar),
            "zxing-histogram": Engine(clock, 1, [])}
    ens = Ensemble(["ean-13"], ["zxing-fixed", "pyzbar"], budget_ms=budget, live=live,
                   clock=clock, decoders=dict(engs))
    return ens, engs


def test_a_base_read_ends_the_frame() -> None:
    clock = Clock()
    ens, engs = _ensemble(clock, [Decoded("ean-13", "6901234567892", BOX)], [], [])
    assert [(d.text, d.via) for d in ens.decode(GREY)] == [("6901234567892", "zxing")]
    assert engs["zxing-fixed"].calls == engs["pyzbar"].calls == 0


def test_two_passes_that_disagree_report_neither() -> None:
    clock = Clock()
    ens, _ = _ensemble(clock, [], [Decoded("ean-13", "6901234567892", BOX)],
                       [Decoded("ean-13", "6901234567885", BOX)])
    assert ens.decode(GREY) == []
    assert ens.conflicts == 1


def test_a_weak_read_needs_a_second_pass() -> None:
    clock = Clock()
    alone, _ = _ensemble(clock, [], [Decoded("code-128", "SUP-1", BOX)], [])
    assert alone.decode(GREY) == [] and alone.unconfirmed == 1
    both, _ = _ensemble(clock, [], [Decoded("code-128", "SUP-1", BOX)],
                        [Decoded("code-128", "SUP-1", BOX)])
    assert [(d.text, d.via) for d in both.decode(GREY)] == [("SUP-1", "zxing-fixed")]  # once
    # Elsewhere in the image, a different code is another symbol, not a conflict.
    apart, _ = _ensemble(clock, [Decoded("qr-code", "STAFF-A1", FAR)],
                         [Decoded("code-128", "SUP-1", BOX)], [])
    assert [d.text for d in apart.decode(GREY)] == ["STAFF-A1"] and apart.conflicts == 0


def test_databar_from_the_base_pass_is_confirmed_first() -> None:
    clock = Clock()
    bar = Decoded("databar-expanded", "]e00109521234543213", BOX)
    ens, engs = _ensemble(clock, [bar], [Decoded("databar-expanded", "0109521234543213", BOX)], [])
    assert [d.text for d in ens.decode(GREY)] == ["]e00109521234543213"]
    assert engs["zxing-fixed"].calls == 1 and engs["pyzbar"].calls == 0


def test_budget_skips_what_does_not_fit() -> None:
    clock = Clock()
    ens, engs = _ensemble(clock, [], [], [], budget=20, costs=(5, 5, 30))
    ens.decode(GREY)  # first frame: costs unknown, each runs while half the budget is left
    assert engs["pyzbar"].calls == 1
    t0 = clock.t
    ens.decode(GREY)  # now pyzbar's 30 ms is known not to fit in 20
    assert clock.t - t0 <= 0.020
    assert engs["pyzbar"].calls == 1 and ens.stats["pyzbar"].skipped == 1
    assert engs["zxing-fixed"].calls == 2


def test_live_frames_continue_where_the_last_one_stopped() -> None:
    clock = Clock()
    ens, engs = _ensemble(clock, [], [], [], budget=12, live=True, costs=(5, 5, 5))
    order = []
    for _ in range(4):
        before = (engs["zxing-fixed"].calls, engs["pyzbar"].calls)
        ens.decode(GREY)  # base 5 ms + one 5 ms pass fit in 12 (with the 1.2 margin); two do not
        order.append("fixed" if engs["zxing-fixed"].calls > before[0] else "pyzbar")
    assert order == ["fixed", "pyzbar", "fixed", "pyzbar"]


def test_frame_decoder_uses_the_ensemble_by_default(samples: list[Sample]) -> None:
    zx = ZxingDecoder(FORMATS)
    s = next(s for s in samples if not _score(zx.decode(s.image), s)[0]
             and _score(Ensemble(FORMATS, ["zxing-fixed"], 0).decode(s.image), s)[0])
    cfg = DecoderSection(formats=FORMATS, budget_ms=0)
    found = FrameDecoder(cfg, strategy="fallback")(s.image)
    assert [norm_text(d) for d in found] == [_expected(s)] and found[0].via != "zxing"
    assert FrameDecoder(cfg.model_copy(update={"ensemble": False}), strategy="fallback").ensemble is None


def test_live_worker_reports_a_hard_code_once_per_placement(samples: list[Sample]) -> None:
    """Frames of a label only a later pass reads: one scan through the hub, not one per frame."""
    from edge.vision.worker import DecodeWorker, Frame
    from firmware_bridge.scan import ScanHub
    from tests.waiting import wait_until

    zx = ZxingDecoder(FORMATS)
    s = next(s for s in samples if s.format in ("qr-code", "data-matrix")
             and not _score(zx.decode(s.image), s)[0]
             and _score(Ensemble(FORMATS, ["zxing-fixed", "upscale-sharpen"], 0).decode(s.image),
                        s)[0])
    hub = ScanHub(window_s=3.0)
    cfg = DecoderSection(formats=FORMATS, budget_ms=0)
    worker = DecodeWorker(FrameDecoder(cfg, strategy="alternate"), hub.submit)
    worker.start()
    try:
        for i in range(6):
            worker.submit(Frame(s.image, at=100.0 + i * 0.07, seq=i))
            wait_until(lambda i=i: worker.decoded >= i + 1, 20)  # one frame at a time
    finally:
        worker.stop()
    first = hub.get(timeout=1)
    assert first is not None and norm_text(Decoded(first.format or "", first.text)) == _expected(s)
    assert hub.get(timeout=0.2) is None and hub.repeats >= 1
