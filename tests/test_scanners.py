"""Scanners: HID key sequences -> codes (pure), serial scanner over a real pty, repeats."""

from __future__ import annotations

import os
import threading
import time
import tty

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.codes.parse import GS1Result, parse_code
from firmware_bridge.scan import RepeatFilter, ScanEvent
from firmware_bridge.scanners.keymap import (
    KEY_ENTER,
    KEY_KPENTER,
    KEY_LEFTSHIFT,
    KEY_RIGHTSHIFT,
    KeystrokeAssembler,
    assemble,
    key_events_for,
)
from firmware_bridge.scanners.serial_lines import LineSplitter
from firmware_bridge.scanners.serial_scanner import SerialScanner
from tests.waiting import wait_until

# evdev codes typed by hand from linux/input-event-codes.h
K1, K2, K9, K0, KA, KS, KT, KF, KMINUS = 2, 3, 10, 11, 30, 31, 20, 33, 12


def press(code: int) -> list[tuple[int, int]]:
    return [(code, 1), (code, 0)]


def test_digits_and_enter() -> None:
    events = press(K1) + press(K2) + press(K9) + press(K0) + press(KEY_ENTER)
    assert assemble(events) == ["1290"]


def test_shift_both_sides_and_release() -> None:
    events = [
        (KEY_LEFTSHIFT, 1), *press(KS), *press(KT), (KEY_LEFTSHIFT, 0),
        *press(KA), (KEY_RIGHTSHIFT, 1), *press(KF), *press(KMINUS), (KEY_RIGHTSHIFT, 0),
        *press(K1), *press(KEY_KPENTER),
    ]
    assert assemble(events) == ["STaF_1"]


def test_autorepeat_and_key_up_type_nothing_and_empty_enter_is_no_code() -> None:
    events = [(K1, 1), (K1, 2), (K1, 2), (K1, 0), *press(KEY_ENTER), *press(KEY_ENTER)]
    assert assemble(events) == ["1"]


def test_ctrl_bracket_is_gs_and_gs1_roundtrip() -> None:
    text = "]C10109521234543213" + "10B2411\x1d" + "3103001250"
    codes = assemble(key_events_for(text))
    assert codes == [text]
    r = parse_code(codes[0])
    assert isinstance(r, GS1Result) and r.ais["3103"] == "001250"


def test_several_codes_in_one_stream() -> None:
    events = key_events_for("STAFF-A1234") + key_events_for("6901234567892")
    assert assemble(events) == ["STAFF-A1234", "6901234567892"]


def test_overlong_input_is_discarded_not_split() -> None:
    asm = KeystrokeAssembler(max_chars=16)
    out = [t for c, v in key_events_for("1" * 40) if (t := asm.feed(c, v))]
    assert out == [] and asm.overflows == 1
    out = [t for c, v in key_events_for("42") if (t := asm.feed(c, v))]
    assert out == ["42"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1,
               max_size=40))
def test_any_typable_text_roundtrips(text: str) -> None:
    assert assemble(key_events_for(text)) == [text]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 2)), max_size=80))
def test_arbitrary_key_events_never_raise(events: list[tuple[int, int]]) -> None:
    for code in assemble(events):
        assert code and len(code) <= 4096


def test_line_splitter_cr_lf_crlf_and_chunks() -> None:
    sp = LineSplitter()
    assert sp.feed(b"690123456") == []
    assert sp.feed(b"7892\r") == ["6901234567892"]
    assert sp.feed(b"\nSTAFF-A1234\n\r\nX\r\n") == ["STAFF-A1234", "X"]
    assert sp.feed("上海\r".encode()) == ["上海"]
    small = LineSplitter(max_chars=8)
    assert small.feed(b"0123456789ABCDEF\rOK\r") == ["OK"] and small.overflows == 1


def test_repeat_filter_window_and_new_placement() -> None:
    f = RepeatFilter(3.0)
    assert f.accept("A", 10.0)
    assert not f.accept("A", 11.0)  # within the window
    assert not f.accept("A", 13.5)  # still in view: window runs from the last sighting
    assert f.accept("B", 13.6)
    assert f.accept("A", 17.0)  # 3.5 s after the last sighting
    f.new_window()  # a new item placed on the scale
    assert f.accept("A", 17.1)
    assert not f.accept("A", 17.2)
    with pytest.raises(ValueError):
        RepeatFilter(-1)


def test_repeat_filter_zero_window_counts_every_read() -> None:
    f = RepeatFilter(0.0)
    assert f.accept("A", 1.0) and f.accept("A", 1.5)



def test_serial_scanner_over_pty() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    got: list[ScanEvent] = []
    lock = threading.Lock()

    def on_scan(ev: ScanEvent) -> None:
        with lock:
            got.append(ev)

    scanner = SerialScanner(port, on_scan, reopen_min_s=0.05)
    scanner.start()
    try:
        wait_until(lambda: scanner.state == "running")
        os.write(master, b"]C10109521234543213")
        time.sleep(0.05)
        os.write(master, b"3103001250\rSTAFF-A1234\r")
        wait_until(lambda: len(got) == 2)
    finally:
        scanner.stop()
        os.close(master)
        os.close(slave)
    assert [e.text for e in got] == ["]C101095212345432133103001250", "STAFF-A1234"]
    assert all(e.source == f"serial:{port}" and e.format is None for e in got)
    assert parse_code(got[1].text).kind == "badge"


def test_serial_scanner_missing_port_is_lost_not_crash() -> None:
    states: list[str] = []
    scanner = SerialScanner("/dev/does-not-exist", lambda ev: None,
                            on_state=lambda s, d: states.append(s), reopen_min_s=0.05)
    scanner.start()
    try:
        wait_until(lambda: scanner.state == "lost")
        assert "does-not-exist" in scanner.detail
    finally:
        scanner.stop()
    assert states[-1] == "stopped"


def test_scanners_from_config_serial_over_pty() -> None:
    from firmware_bridge.scanners import make_scanners
    from firmware_bridge.scanners.config import ScannerDevice, ScannersSection
    from firmware_bridge.scanners.hid import HidScanner

    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    cfg = ScannersSection(devices=[
        ScannerDevice(kind="serial", device=port, baudrate=115200),
        ScannerDevice(kind="hid", device="/dev/input/no-such-event"),
    ], reopen_min_s=0.05)
    got: list[ScanEvent] = []
    states: list[tuple[str, str]] = []
    readers = make_scanners(cfg, got.append, lambda src, st, d: states.append((src, st)))
    assert isinstance(readers[1], HidScanner)
    for r in readers:
        r.start()
    try:
        wait_until(lambda: readers[0].state == "running" and readers[1].state == "lost")
        os.write(master, b"6901234567892\r\n")
        wait_until(lambda: len(got) == 1)
    finally:
        for r in readers:
            r.stop()
        os.close(master)
        os.close(slave)
    assert got[0].text == "6901234567892" and got[0].source == f"serial:{port}"
    assert ("hid:/dev/input/no-such-event", "lost") in states


class _FakeEvent:
    def __init__(self, type_: int, code: int, value: int) -> None:
        self.type, self.code, self.value = type_, code, value


class _FakeInputDevice:
    """Stands in for evdev.InputDevice: this machine has no /dev/uinput to make a real one.

    The real integration (open, grab, read) cannot run here; this checks the
    adapter's own loop: select on the fd, EV_KEY filtering, unplug as DeviceGone.
    """

    def __init__(self, events: list[tuple[int, int]]) -> None:
        self.r, self.w = os.pipe()
        self.fd = self.r
        self.batches = [[_FakeEvent(1, c, v) for c, v in events] + [_FakeEvent(0, 0, 0)]]
        os.write(self.w, b"x")

    def read(self) -> list[_FakeEvent]:
        if not self.batches:
            raise OSError(19, "No such device")
        return self.batches.pop(0)


def test_hid_adapter_loop_with_fake_device() -> None:
    from firmware_bridge.scanners.base import DeviceGone
    from firmware_bridge.scanners.hid import HidScanner

    scanner = HidScanner("/dev/input/event-fake", lambda ev: None)
    fake = _FakeInputDevice(key_events_for("STAFF-A1234") + key_events_for("42"))
    scanner._dev = fake
    assert scanner._read() == ["STAFF-A1234", "42"]
    with pytest.raises(DeviceGone, match="No such device"):
        scanner._read()
    os.close(fake.r)
    os.close(fake.w)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n",
                                               blacklist_categories=("Cs",)),
                        min_size=1, max_size=30), max_size=6),
       st.integers(1, 7))
def test_line_splitter_any_chunking(lines: list[str], chunk: int) -> None:
    data = b"".join(line.encode() + b"\r\n" for line in lines)
    sp = LineSplitter()
    out: list[str] = []
    for i in range(0, len(data), chunk):
        out += sp.feed(data[i : i + chunk])
    assert out == lines


def test_scan_hub_merges_threads_and_filters_repeats() -> None:
    from firmware_bridge.scan import ScanHub

    hub = ScanHub(window_s=5.0, maxsize=8)

    def reader(name: str) -> None:
        for i in range(20):
            hub.submit(ScanEvent(name, "6901234567892", None, 100.0 + i * 0.01))

    threads = [threading.Thread(target=reader, args=(f"r{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first = hub.get(0.1)
    assert first is not None and first.text == "6901234567892"
    assert hub.get(0.01) is None and hub.repeats == 59
    hub.new_window()  # the next item goes on the scale
    hub.submit(ScanEvent("camera", "6901234567892", "ean-13", 100.5))
    assert hub.get(0.1) is not None
    for i in range(20):
        hub.submit(ScanEvent("serial", f"CODE-{i}", None, 200.0))
    assert hub.dropped == 12  # bounded: 8 queued, the rest dropped and counted


def test_repeat_filter_out_of_order_events_count_once() -> None:
    f = RepeatFilter(3.0)
    assert f.accept("A", 10.0)
    assert not f.accept("A", 9.9)  # a slightly older event from another reader
    assert not f.accept("A", 12.9)
