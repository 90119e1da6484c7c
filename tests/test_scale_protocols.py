"""Table-driven frames for every indicator protocol (tests/scale_frames.py)."""

from __future__ import annotations

import pytest

from firmware_bridge.protocols import NAMES, REGISTRY, get_spec
from firmware_bridge.protocols.base import Reading, escape_raw, to_grams
from tests.scale_frames import BAD, FRAMES, SKIP, Expected


def _ids() -> list[str]:
    return [f"{p}-{escape_raw(f)}" for p, _u, f, _e in FRAMES]


@pytest.mark.parametrize(("protocol", "unit", "frame", "expected"), FRAMES, ids=_ids())
def test_frame_table(protocol: str, unit: str, frame: bytes, expected: Expected) -> None:
    parser = get_spec(protocol).new_parser(unit)
    got = parser.feed(frame)
    if expected == BAD:
        assert got == []
        assert parser.bad_frames >= 1
    elif expected == SKIP:
        assert got == []
        assert parser.bad_frames == 0
        assert parser.frames == 1
    else:
        assert isinstance(expected, tuple)
        assert len(got) == 1, got
        r = got[0]
        assert (r.weight_g, r.stable, r.net, r.status, r.exact) == expected
        assert r.raw == frame.rstrip(b"\n") if protocol.startswith(("toledo", "xk3190-a9")) \
            else r.raw == frame.rstrip(b"\r\n")
        assert parser.bad_frames == 0


def test_every_protocol_has_good_bad_and_zero_frames() -> None:
    for name in NAMES:
        rows = [e for p, _u, _f, e in FRAMES if p == name]
        assert BAD in rows, name
        assert any(isinstance(e, tuple) and e[0] == 0 for e in rows), name
        assert any(isinstance(e, tuple) and e[0] is not None and e[0] > 0 for e in rows), name


def test_protocol_names_match_the_issue() -> None:
    assert set(NAMES) == {"toledo8217", "mt-sics", "ad", "xk3190-a9", "xk3190-a12", "ohaus",
                          "hx711"}
    with pytest.raises(ValueError, match="unknown protocol"):
        get_spec("toledo")


@pytest.mark.parametrize(
    ("text", "unit", "grams", "exact"),
    [
        ("12.345", "kg", 12345, True),
        ("0.0005", "kg", 0, False),  # half-even: 0.5 g -> 0
        ("0.0015", "kg", 2, False),  # half-even: 1.5 g -> 2
        ("1", "lb", 454, False),
        ("16", "oz", 454, False),
        ("1.5", "t", 1500000, True),
        ("-2.5", "g", -2, False),
        ("  7 ", "g", 7, True),
        ("1000", "mg", 1, True),
    ],
)
def test_to_grams_is_exact_decimal(text: str, unit: str, grams: int, exact: bool) -> None:
    assert to_grams(text, unit) == (grams, exact)


@pytest.mark.parametrize(("text", "unit"), [("1.2.3", "kg"), ("", "g"), ("1", "stone"),
                                            ("NaN", "g"), ("Infinity", "kg")])
def test_to_grams_refuses_non_weights(text: str, unit: str) -> None:
    with pytest.raises(ValueError):
        to_grams(text, unit)


def test_raw_is_escaped_text() -> None:
    r = Reading(1, True, None, "ok", b"\x02 1.0\\\r\n\xff")
    assert r.to_json_dict()["raw"] == "\\x02 1.0\\\\\\r\\n\\xff"
    assert list(r.to_json_dict()) == ["weight_g", "stable", "net", "status", "raw"]


def test_specs_declare_line_settings_and_commands() -> None:
    toledo = REGISTRY["toledo8217"]
    assert (toledo.line.baud, toledo.line.bytesize, toledo.line.parity) == (9600, 7, "E")
    assert toledo.command("poll") == b"W" and toledo.command("clear_tare") == b"C"
    sics = REGISTRY["mt-sics"]
    assert sics.command("zero") == b"Z\r\n" and sics.command("clear_tare") == b"TAC\r\n"
    assert REGISTRY["hx711"].line.baud == 57600 and REGISTRY["hx711"].command("tare") == b"t"
    assert REGISTRY["xk3190-a9"].command("tare") is None
    assert {s.mode for s in REGISTRY.values()} == {"polled", "continuous"}


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown unit"):
        get_spec("ad").new_parser("stone")
