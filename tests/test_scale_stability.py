"""Table-driven tests of the stability detector and the flag/detector policy."""

from __future__ import annotations

import pytest

from firmware_bridge.stability import StabilityDetector, StabilityParams, decide

P = StabilityParams(count=3, band_g=2, min_ms=200)

# (params, [(weight or None, t_ms)], expected verdict after each reading)
CASES = [
    ("settles after N readings and t ms", P,
     [(100, 0), (101, 100), (100, 200)], [False, False, True]),
    ("N readings but too short a time", P,
     [(100, 0), (100, 50), (100, 100), (100, 199), (100, 200)],
     [False, False, False, False, True]),
    ("long enough but too few readings", P, [(100, 0), (100, 500)], [False, False]),
    ("a swing outside the band restarts the run", P,
     [(100, 0), (100, 100), (110, 200), (100, 300), (100, 400), (100, 500)],
     [False, False, False, False, False, True]),
    ("band is measured from the newest reading", P,
     [(96, 0), (98, 100), (100, 200), (102, 300), (102, 400)],
     [False, False, False, False, True]),
    ("band 0 needs equal readings", StabilityParams(count=2, band_g=0, min_ms=0),
     [(5, 0), (5, 1), (6, 2), (6, 3)], [False, True, False, True]),
    ("no weight (overload) breaks the run", P,
     [(100, 0), (100, 100), (None, 150), (100, 200), (100, 300), (100, 400)],
     [False, False, False, False, False, True]),
    ("stays stable while it holds", P,
     [(100, 0), (100, 100), (100, 200), (101, 300), (99, 400)],
     [False, False, True, True, True]),
    ("negative weights", P, [(-50, 0), (-51, 100), (-49, 200)], [False, False, True]),
]


@pytest.mark.parametrize(("name", "params", "seq", "expected"), CASES, ids=[c[0] for c in CASES])
def test_detector_table(name: str, params: StabilityParams, seq: list[tuple[int | None, int]],
                        expected: list[bool]) -> None:
    det = StabilityDetector(params)
    assert [det.update(w, t) for w, t in seq] == expected


def test_reset_forgets_the_run() -> None:
    det = StabilityDetector(P)
    for t in (0, 100, 200):
        det.update(100, t)
    det.reset()
    assert det.update(100, 300) is False


@pytest.mark.parametrize(
    ("flag", "detected", "mode", "expected"),
    [
        (True, False, "flag", True),
        (False, True, "flag", False),
        (None, True, "flag", True),  # no flag: the detector decides
        (None, False, "flag", False),
        (True, True, "confirm", True),
        (True, False, "confirm", False),
        (False, True, "confirm", False),
        (None, True, "confirm", True),
        (False, True, "detector", True),
        (True, False, "detector", False),
    ],
)
def test_decide_policy(flag: bool | None, detected: bool, mode: str, expected: bool) -> None:
    assert decide(flag, detected, mode) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [dict(count=1), dict(band_g=-1), dict(min_ms=-5)])
def test_params_are_validated(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        StabilityParams(**bad)
