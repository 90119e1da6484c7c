"""Frame tables shared by the scale tests: (protocol, unit, frame, expected).

Expected is (weight_g, stable, net, status, exact) for a reading, SKIP for a
well-formed non-weight reply, BAD for a frame that must be refused. Sources:
the team's protocol notes' examples, the MT-SICS / A&D / XK3190-A12 formats as public drivers and
manuals print them (see docs/scales.md), and hand-built edge cases.
"""

from __future__ import annotations

from typing import Final

SKIP: Final = "skip"
BAD: Final = "bad"

Expected = tuple[int | None, bool | None, bool | None, str, bool] | str


def xor_hex(body: bytes) -> bytes:
    """Independent XK3190-A9 check: XOR of the body as two upper-case hex chars."""
    x = 0
    for b in body:
        x ^= b
    return f"{x:02X}".encode()


def a9(body: bytes, check: bytes | None = None) -> bytes:
    return b"\x02" + body + (check if check is not None else xor_hex(body)) + b"\x03"


FRAMES: list[tuple[str, str, bytes, Expected]] = [
    # --- Toledo 8217: STX weight CR, or STX ? status CR
    ("toledo8217", "kg", b"\x02 12.345\r", (12345, True, None, "ok", True)),
    ("toledo8217", "kg", b"\x02  0.000\r", (0, True, None, "ok", True)),
    ("toledo8217", "kg", b"\x02001.50N\r", (1500, True, True, "ok", True)),
    ("toledo8217", "lb", b"\x02 10.00\r", (4536, True, None, "ok", False)),
    ("toledo8217", "kg", b"\x02?\x21\r", (None, False, True, "motion", True)),
    ("toledo8217", "kg", b"\x02?\x02\r", (None, True, False, "overload", True)),
    ("toledo8217", "kg", b"\x02?\x04\r", (None, True, False, "underload", True)),
    ("toledo8217", "kg", b"\x02?\x40\r", (None, True, False, "error", True)),
    ("toledo8217", "kg", b"\x02?\x08\r", (None, True, False, "error", True)),
    ("toledo8217", "kg", b"\x02?\x10\r", (None, True, False, "ok", True)),
    ("toledo8217", "kg", b"\x02?\x0d\r", (None, False, False, "underload", True)),
    ("toledo8217", "kg", b"\x02 12.3a5\r", BAD),
    ("toledo8217", "kg", b"\x02-1.000\r", BAD),
    # --- MT-SICS
    ("mt-sics", "kg", b"S S     100.00 g\r\n", (100, True, None, "ok", True)),
    ("mt-sics", "kg", b"S D      12.345 kg\r\n", (12345, False, None, "ok", True)),
    ("mt-sics", "kg", b"S S     -0.500 kg\r\n", (-500, True, None, "ok", True)),
    ("mt-sics", "kg", b"S S      0.000 kg\r\n", (0, True, None, "ok", True)),
    ("mt-sics", "kg", b"S S        1.5 lb\r\n", (680, True, None, "ok", False)),
    ("mt-sics", "kg", b"S S     0.0004 kg\r\n", (0, True, None, "ok", False)),
    ("mt-sics", "kg", b"S +\r\n", (None, None, None, "overload", True)),
    ("mt-sics", "kg", b"S -\r\n", (None, None, None, "underload", True)),
    ("mt-sics", "kg", b"S I\r\n", (None, None, None, "busy", True)),
    ("mt-sics", "kg", b"ES\r\n", (None, None, None, "error", True)),
    ("mt-sics", "kg", b"ET\r\n", (None, None, None, "error", True)),
    ("mt-sics", "kg", b"EL\r\n", (None, None, None, "error", True)),
    ("mt-sics", "kg", b"Z A\r\n", SKIP),
    ("mt-sics", "kg", b"T S      0.500 kg\r\n", SKIP),
    ("mt-sics", "kg", b"TAC A\r\n", SKIP),
    ("mt-sics", "kg", b"S S     12.345 xx\r\n", BAD),
    ("mt-sics", "kg", b"S Q     12.345 kg\r\n", BAD),
    # --- A&D / CAS
    ("ad", "kg", b"ST,GS,+00123.45  g\r\n", (123, True, False, "ok", False)),
    ("ad", "kg", b"ST,GS,+  4.876kg\r\n", (4876, True, False, "ok", True)),
    ("ad", "kg", b"US,NT,+0001.234kg\r\n", (1234, False, True, "ok", True)),
    ("ad", "kg", b"ST,+00001234.5g\r\n", (1234, True, None, "ok", False)),
    ("ad", "kg", b"ST,+00001235.5g\r\n", (1236, True, None, "ok", False)),
    ("ad", "kg", b"ST,GS,-0000.500kg\r\n", (-500, True, False, "ok", True)),
    ("ad", "kg", b"ST,GS,+0000.000kg\r\n", (0, True, False, "ok", True)),
    ("ad", "kg", b"ST,GS,+   1.0  t\r\n", (1000000, True, False, "ok", True)),
    ("ad", "kg", b"ST,GS,+  10.00 lb\r\n", (4536, True, False, "ok", False)),
    ("ad", "kg", b"ST,GS,+0001.234\r\n", (1234, True, False, "ok", True)),
    ("ad", "kg", b"OL,+999999.9g\r\n", (None, None, None, "overload", True)),
    ("ad", "kg", b"OL,GS,-9999.999kg\r\n", (None, None, False, "underload", True)),
    ("ad", "kg", b"XX,GS,+0001.000kg\r\n", BAD),
    ("ad", "kg", b"ST,GS,+0001.000zz\r\n", BAD),
    # --- Yaohua XK3190-A9 (12 bytes, XOR of bytes 1..8)
    ("xk3190-a9", "kg", bytes.fromhex("022B303132343530303139 03".replace(" ", "")),
     (12450000, None, None, "ok", True)),
    ("xk3190-a9", "g", bytes.fromhex("022B30313234353030313903"), (12450, None, None, "ok", True)),
    ("xk3190-a9", "kg", a9(b"+0012343"), (1234, None, None, "ok", True)),
    ("xk3190-a9", "kg", a9(b"-0005003"), (-500, None, None, "ok", True)),
    ("xk3190-a9", "kg", a9(b"+0000003"), (0, None, None, "ok", True)),
    ("xk3190-a9", "kg", a9(b"+0012345"), (12, None, None, "ok", False)),
    ("xk3190-a9", "kg", bytes.fromhex("022B30313234353030313803"), BAD),  # check 18, not 19
    ("xk3190-a9", "kg", a9(b"+0012343", b"00"), BAD),
    ("xk3190-a9", "kg", a9(b"*0012343"), BAD),
    ("xk3190-a9", "kg", a9(b"+0012349"), BAD),  # 9 decimal places
    # --- Yaohua XK3190-A12
    ("xk3190-a12", "kg", b"ww000.000kg\r\n", (0, None, False, "ok", True)),
    ("xk3190-a12", "kg", b"wn-0000.1kg\r\n", (-100, None, True, "ok", True)),
    ("xk3190-a12", "kg", b"ww012.345kg\r\n", (12345, None, False, "ok", True)),
    ("xk3190-a12", "kg", b"ww001.000lb\r\n", (454, None, False, "ok", False)),
    ("xk3190-a12", "kg", b"wt000.500kg\r\n", SKIP),
    ("xk3190-a12", "kg", b"wx001.000kg\r\n", BAD),
    # --- OHAUS
    ("ohaus", "kg", b"     1.234 kg\r\n", (1234, True, None, "ok", True)),
    ("ohaus", "kg", b"     1.234 kg ?\r\n", (1234, False, None, "ok", True)),
    ("ohaus", "kg", b"     250.0 g N\r\n", (250, True, True, "ok", True)),
    ("ohaus", "kg", b"    -0.500 kg G\r\n", (-500, True, False, "ok", True)),
    ("ohaus", "kg", b"     0.000 kg G ?\r\n", (0, False, False, "ok", True)),
    ("ohaus", "kg", b"abc  1.000 kg\r\n", BAD),
    # --- HX711 bridge
    ("hx711", "g", b"Load_cell output val: 123.4\r\n", (123, None, None, "ok", False)),
    ("hx711", "g", b"Load_cell output val: -20.0\r\n", (-20, None, None, "ok", True)),
    ("hx711", "g", b"0\r\n", (0, None, None, "ok", True)),
    ("hx711", "g", b"weight=1.250 kg\r\n", (1250, None, None, "ok", True)),
    ("hx711", "g", b"Tare complete\r\n", SKIP),
    ("hx711", "g", b"val: 12\xff3\r\n", BAD),
]

GOOD: list[tuple[str, str, bytes]] = [
    (p, u, f) for p, u, f, e in FRAMES if not isinstance(e, str)
]
