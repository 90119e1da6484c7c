"""Scale frames corrupted on the line never become weights (issue 17).

A flipped bit, random bytes, a number wider than the indicator's field or a
weight beyond its capacity is refused and counted, never delivered. What stops
a corrupted frame depends on what the protocol really has (docs/scales.md):
the A9's XOR check, the Toledo 8217's 7E1 parity (the UART checks it once
``serialport`` turns INPCK on), and for streaming protocols without any check
(A&D, XK3190-A12, HX711) two consecutive frames that must agree.
"""

from __future__ import annotations

import os
import random
import termios
import tty

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.link import LinkSettings, ScaleLink
from firmware_bridge.protocols import NAMES, get_spec
from firmware_bridge.protocols.base import DeviceState, LineSettings, Reading
from firmware_bridge.serialport import open_port
from tests.scale_frames import GOOD

CONTINUOUS_UNCHECKED = [n for n in NAMES if get_spec(n).check == "none"
                        and get_spec(n).mode == "continuous"]


def _link(protocol: str, **kw: int) -> ScaleLink:
    return ScaleLink(LinkSettings(port="/nonexistent", protocol=protocol, **kw))  # type: ignore[arg-type]


def _delivered(link: ScaleLink, data: bytes) -> list[Reading]:
    got, _ = link._feed(data, 0.0)
    return got


def test_every_protocol_says_what_catches_a_corrupted_frame() -> None:
    checks = {n: get_spec(n).check for n in NAMES}
    assert checks["xk3190-a9"] == "checksum" and checks["toledo8217"] == "parity"
    assert sorted(CONTINUOUS_UNCHECKED) == ["ad", "hx711", "xk3190-a12"]


def _flips(frame: bytes, bits: int = 8) -> list[bytes]:
    return [frame[:i] + bytes([frame[i] ^ (1 << b)]) + frame[i + 1:]
            for i in range(len(frame)) for b in range(bits)]


@pytest.mark.parametrize("frame", [f for p, _, f in GOOD if p == "xk3190-a9"])
def test_a9_checksum_refuses_every_single_bit_flip(frame: bytes) -> None:
    for bad in _flips(frame):
        assert get_spec("xk3190-a9").new_parser().feed(bad) == [], bad


def _even_parity_bit(b: int) -> int:
    return bin(b & 0x7F).count("1") & 1


def _uart_7e1(wire: list[int]) -> bytes:
    """What the kernel hands over for 7E1 wire characters (7 data bits + parity in bit 7)
    with INPCK on and IGNPAR/PARMRK off: the data bits, or NUL for a parity error."""
    return bytes(0 if _even_parity_bit(c) != c >> 7 else c & 0x7F for c in wire)


@pytest.mark.parametrize("frame", [f for p, u, f in GOOD if p == "toledo8217" and u == "kg"])
def test_toledo_parity_refuses_every_single_bit_flip(frame: bytes) -> None:
    good = get_spec("toledo8217").new_parser("kg").feed(frame)
    wire = [b | _even_parity_bit(b) << 7 for b in frame]
    assert _uart_7e1(wire) == frame
    for i in range(len(wire)):
        for bit in range(8):
            flipped = [*wire[:i], wire[i] ^ (1 << bit), *wire[i + 1:]]
            got = get_spec("toledo8217").new_parser("kg").feed(_uart_7e1(flipped))
            # A flipped status byte reads as NUL: a status, never a weight.
            assert all(r.weight_g is None or r.weight_g == good[0].weight_g for r in got), \
                (i, bit, got)


def test_the_port_checks_parity_on_a_7e1_line() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        dev = open_port(os.ttyname(slave), LineSettings(9600, 7, "E", 1))
        iflag = termios.tcgetattr(dev.fd)[0]
        dev.close()
        assert iflag & termios.INPCK, "pyserial leaves INPCK off: parity errors pass silently"
        assert not iflag & (termios.IGNPAR | termios.PARMRK | termios.ISTRIP)
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("protocol", CONTINUOUS_UNCHECKED)
def test_a_flipped_bit_in_one_frame_of_a_stream_is_never_delivered(protocol: str) -> None:
    spec = get_spec(protocol)
    frame = spec.encode(DeviceState(12345, net=True), spec.default_unit)
    for bad in _flips(frame.rstrip(b"\r\n")):
        link = _link(protocol)
        got = _delivered(link, frame * 3 + bad + b"\r\n" + frame * 3)
        assert got and {r.weight_g for r in got} == {12345}, (bad, got)


@pytest.mark.parametrize("protocol", CONTINUOUS_UNCHECKED)
def test_a_stream_is_still_read_and_follows_changes(protocol: str) -> None:
    spec = get_spec(protocol)
    link = _link(protocol)
    frames = [spec.encode(DeviceState(w), spec.default_unit) for w in (0, 0, 500, 15200, 15200)]
    assert [r.weight_g for r in _delivered(link, b"".join(frames))] == [0, 15200]
    assert link.unconfirmed == 3


def test_hx711_does_not_turn_random_bytes_into_weights() -> None:
    rng = random.Random(17)
    link = _link("hx711")
    parser_weights = []
    delivered = 0
    for _ in range(64):
        data = rng.randbytes(1 << 16)
        delivered += len(_delivered(link, data))
        parser_weights += [r.weight_g for r in get_spec("hx711").new_parser().feed(data)
                           if r.weight_g is not None]
    assert delivered == 0
    assert all(abs(w) < 10**8 for w in parser_weights)


WIDE = [
    ("hx711", b"Load_cell output val: 1234567890123456789012345678901234567890\r\n"),
    ("hx711", b"123456789\r\n"),
    ("hx711", b"12.3456\r\n"),
    ("ad", b"ST,GS,+1234567890.1kg\r\n"),
    ("xk3190-a12", b"ww1234.567kg\r\n"),
    ("toledo8217", b"\x021234.567\r"),
    ("mt-sics", b"S S  12345678901 g\r\n"),
    ("ohaus", b"  1.23456 kg\r\n"),
]


@pytest.mark.parametrize("protocol,frame", WIDE, ids=[f"{p}-{f[:12]!r}" for p, f in WIDE])
def test_more_digits_than_the_field_holds_is_refused(protocol: str, frame: bytes) -> None:
    parser = get_spec(protocol).new_parser()
    assert parser.feed(frame) == [] and parser.bad_frames == 1


@pytest.mark.parametrize("protocol", NAMES)
def test_weights_beyond_capacity_are_refused_and_counted(protocol: str) -> None:
    spec = get_spec(protocol)
    link = _link(protocol)
    for w in (300_001, 299_000, -300_001, -1000):
        frame = spec.encode(DeviceState(w), spec.default_unit)
        got = _delivered(link, frame * 2)
        if abs(w) > 300_000:  # refused (or an under/overload status without a weight)
            assert all(r.weight_g is None for r in got), (w, got)
        elif protocol != "toledo8217" or w > 0:  # the 8217 sends no negative weight
            assert got and got[-1].weight_g == w, (w, got)
    assert link.out_of_range == 4 if spec.mode == "continuous" else link.out_of_range >= 1
    tight = _link(protocol, min_g=0, max_g=20_000)
    assert _delivered(tight, spec.encode(DeviceState(25_000), spec.default_unit) * 2) == []
    assert tight.out_of_range >= 1


@settings(max_examples=300, deadline=None)
@given(protocol=st.sampled_from(NAMES), data=st.binary(max_size=300))
def test_any_bytes_give_readings_within_capacity_or_nothing(protocol: str, data: bytes) -> None:
    link = _link(protocol)
    got, bad = link._feed(data, 0.0)
    assert bad >= 0
    for r in got:
        assert r.weight_g is None or -300_000 <= r.weight_g <= 300_000
