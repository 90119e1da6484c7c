"""The optional serial probe thermometer: pattern parsing, pty link, config, CLI."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cli import main
from app.config import parse_config
from firmware_bridge.link import LinkState
from firmware_bridge.thermometer import (
    TemperatureParser,
    TemperatureReading,
    ThermometerLink,
    ThermometerSection,
)

LINES = [
    (b"T1: -18.5 C\r\n", "-18.5"),
    (b"+023.4C\r\n", "23.4"),
    (b"4.0\xc2\xb0C\r\n", "4.0"),
    (b"T2 = 5 deg C\r\n", "5"),
    (b"-0.25\n", "-0.25"),
    (b"Probe ready\r\n", None),  # banner: skipped, not bad
]
BAD = [b"999\r\n", b"T1: 12.3.4 C\r\n", b"temp \xff 3\r\n", b"-90.0\r\n"]


@pytest.mark.parametrize(("line", "celsius"), LINES)
def test_default_pattern(line: bytes, celsius: str | None) -> None:
    p = TemperatureParser()
    got = p.feed(line)
    assert [r.celsius for r in got] == ([] if celsius is None else [celsius])
    assert p.bad_frames == 0


@pytest.mark.parametrize("line", BAD)
def test_refused_lines(line: bytes) -> None:
    p = TemperatureParser()
    assert p.feed(line) == [] and p.bad_frames == 1


def test_configured_pattern() -> None:
    p = TemperatureParser(r"TEMP,(?P<c>-?\d+\.\d),OK")
    assert p.feed(b"TEMP,-18.2,OK\r\nTEMP,3.1,ERR\r\n") == [
        TemperatureReading("-18.2", b"TEMP,-18.2,OK")]
    with pytest.raises(ValueError, match="needs a group"):
        TemperatureParser(r"\d+")
    with pytest.raises(ValueError, match="bad thermometer pattern"):
        TemperatureParser(r"(")


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, 200), junk=st.binary(max_size=100))
def test_any_split_and_garbage(cut: int, junk: bytes) -> None:
    stream = b"".join(line for line, _ in LINES)
    whole = TemperatureParser().feed(stream)
    p = TemperatureParser()
    got = p.feed(junk) + p.feed(b"\r\n" + stream[: cut % len(stream)])
    got += p.feed(stream[cut % len(stream):])
    assert got[-len(whole):] == whole
    assert p.pending() <= p.max_frame


def test_link_over_a_pty(tmp_path: Path) -> None:
    master, slave = os.openpty()
    path = tmp_path / "thermo"
    os.symlink(os.ttyname(slave), path)
    link = ThermometerLink(ThermometerSection(port=str(path), silence_timeout_ms=300)).start()
    try:
        deadline = time.monotonic() + 3
        while link.state != LinkState.CONNECTED and time.monotonic() < deadline:
            time.sleep(0.01)
        os.write(master, b"T1: -19.0 C\r\n")
        assert link.readings.get(timeout=3).celsius == "-19.0"
        deadline = time.monotonic() + 3
        while link.state != LinkState.SILENT and time.monotonic() < deadline:
            time.sleep(0.01)
        assert link.state == LinkState.SILENT
    finally:
        link.stop()
        os.close(master)
        os.close(slave)


def test_config_section_is_optional() -> None:
    base = '[station]\nstation_id = "abc-01"\nschool_id = "abc"\n'
    assert parse_config(base).thermometer is None
    cfg = parse_config(base + '[thermometer]\nport = "/dev/x"\n')
    assert cfg.thermometer is not None and cfg.thermometer.baud == 9600
    text = (Path(__file__).resolve().parent.parent / "config" / "station.example.toml").read_text()
    for key in ThermometerSection.model_fields:
        assert f"# {key} =" in text, key


def test_cli_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    master, slave = os.openpty()
    path = tmp_path / "thermo"
    os.symlink(os.ttyname(slave), path)
    os.set_blocking(master, False)
    import threading

    stop = threading.Event()

    def feed() -> None:
        for _ in range(40):
            if stop.wait(0.05):
                return
            try:
                os.write(master, b"+003.5C\r\n")
            except OSError:
                return

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        assert main(["thermometer", "read", "--port", str(path), "--count", "2",
                     "--timeout", "3"]) == 0
    finally:
        # The feeder must be gone before the fds close: their numbers are reused by the
        # next test's pty, which would then receive this probe's lines.
        stop.set()
        feeder.join(5)
        os.close(master)
        os.close(slave)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines == [{"celsius": "3.5", "raw": "+003.5C"}] * 2
    assert main(["thermometer", "read", "--port", "x", "--pattern", "("]) == 2
