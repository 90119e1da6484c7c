"""The rapid-test instrument (快检仪): line parser, pty link, simulator, config, CLI, and the station
filling the item's rapid test from it (source ``instrument``) through to the signed record."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cli import main
from app.config import ConfigError, parse_config
from app.station import Station
from edge.journal import read_events
from edge.orders import store
from edge.roster import store as roster_store
from edge.workflow.model import OpenDelivery, SelectLine, SignIn
from firmware_bridge.link import LinkState
from firmware_bridge.protocols.base import SKIP
from firmware_bridge.rapid_test import (
    RapidResult,
    RapidTestLink,
    RapidTestParser,
    RapidTestSection,
    format_result,
    parse_result,
)
from firmware_bridge.rapid_test_sim import RapidTestSimulator, command_result
from firmware_bridge.scenario import placement
from testbed.demo_data import PINS, demo_orders, demo_roster
from tests.conftest import CLI, ROOT
from tests.factories import write_station_config
from tests.waiting import wait_until

GOOD = [
    ("0012,上海青,23.5%,合格", RapidResult("上海青", "23.5", True, "0012")),
    ("上海青,61.2,不合格", RapidResult("上海青", "61.2", False)),
    ("菠菜，12.50%，合格", RapidResult("菠菜", "12.50", True)),  # full-width commas, digits as printed
    ("A-7, 小白菜 , 0 % , PASS", RapidResult("小白菜", "0", True, "A-7")),
    ("韭菜,-,阳性", RapidResult("韭菜", None, False)),  # a qualitative kit
    ("芹菜,45,-", RapidResult("芹菜", "45", None)),  # a rate without the instrument's verdict
]
HEADERS = ["样品,抑制率%,结果", "编号,样品名称,抑制率(%),判定", "农药残留速测仪 V2", "", "a,b", "12345"]
BAD = ["上海青,101,合格", "上海青,23.456,合格", "上海青,23.5,也许", "上海青,-,-", ",23.5,合格",
       "编号 12!,上海青,23.5,合格", "1,2,3,4,5", "上海青,2x3,合格", "1,2"]


@pytest.mark.parametrize(("line", "want"), GOOD)
def test_result_lines(line: str, want: RapidResult) -> None:
    assert parse_result(line) == want


@pytest.mark.parametrize("line", HEADERS)
def test_headers_and_banners_are_skipped(line: str) -> None:
    assert parse_result(line) is SKIP


@pytest.mark.parametrize("line", BAD)
def test_malformed_results_are_refused(line: str) -> None:
    assert parse_result(line) is None


def test_gbk_and_utf8_lines_and_undecodable_bytes() -> None:
    line = "0012,上海青,23.5%,合格\r\n"
    for enc in ("gb18030", "utf-8"):
        got = RapidTestParser(enc).feed(line.encode(enc))
        assert [(r.sample, r.inhibition_pct, r.passed) for r in got] == [("上海青", "23.5", True)]
        assert got[0].raw == line.strip().encode(enc)
    p = RapidTestParser("utf-8")
    assert p.feed(line.encode("gb18030")) == [] and p.bad_frames == 1


STREAM = b"".join(format_result(r) for _, r in GOOD) + "样品,抑制率%,结果\r\n".encode("gb18030")


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(0, 400), junk=st.binary(max_size=100))
def test_any_split_and_garbage(cut: int, junk: bytes) -> None:
    whole = RapidTestParser().feed(STREAM)
    assert [r.sample for r in whole] == [r.sample for _, r in GOOD]
    p = RapidTestParser()
    at = cut % len(STREAM)
    got = p.feed(junk) + p.feed(b"\r\n" + STREAM[:at]) + p.feed(STREAM[at:])
    assert got[-len(whole):] == whole
    assert p.pending() <= p.max_frame


def test_simulator_commands_are_checked() -> None:
    want = RapidResult("上海青", "23.5", None)
    assert command_result({"sample": "上海青", "inhibition_pct": "23.5"}) == want
    assert command_result({"raw": "样品,抑制率%,结果"}) == "样品,抑制率%,结果\r\n"
    for bad in ({"sample": "上海青", "inhibition_pct": 23.5}, {"sample": "", "passed": True},
                {"sample": "x", "inhibition_pct": "150"}, {"sample": "x", "colour": "red"}, [1]):
        with pytest.raises(ValueError):
            command_result(bad)


def test_link_over_a_pty_with_the_simulator(tmp_path: Path) -> None:
    sim = RapidTestSimulator(tmp_path / "rapid")
    link = RapidTestLink(RapidTestSection(port=str(tmp_path / "rapid"))).start()
    try:
        wait_until(lambda: link.state == LinkState.CONNECTED, 5, "link connected")
        sim.send_raw("样品,抑制率%,结果\r\n".encode("gb18030"))
        sim.send(RapidResult("上海青", "61.2", False, "0013"))
        r = link.readings.get(timeout=5)
        assert (r.sample_no, r.sample, r.inhibition_pct, r.passed) == ("0013", "上海青", "61.2", False)
        assert link.state == LinkState.CONNECTED and link.readings.empty()
    finally:
        link.stop()
        sim.close()


def test_config_section_is_optional_typed_and_closed() -> None:
    base = '[station]\nstation_id = "abc-01"\nschool_id = "abc"\n'
    assert parse_config(base).rapid_test is None
    cfg = parse_config(base + '[rapid_test]\nport = "/dev/x"\n')
    assert cfg.rapid_test is not None and cfg.rapid_test.encoding == "gb18030"
    for bad in ('[rapid_test]\nport = "/dev/x"\nparity = "E"\n',
                '[rapid_test]\nport = "/dev/x"\nencoding = "latin-1"\n', '[rapid_test]\nbaud = 9600\n'):
        with pytest.raises(ConfigError, match="rapid_test"):
            parse_config(base + bad)
    text = (ROOT / "config" / "station.example.toml").read_text()
    for key in RapidTestSection.model_fields:
        assert f"# {key} =" in text, key


def test_cli_simulate_and_read(tmp_path: Path) -> None:
    """``rapid-test simulate`` (a process, driven on stdin) read by ``rapid-test read`` (another)."""
    link = tmp_path / "rapid"
    sim = subprocess.Popen([*CLI, "rapid-test", "simulate", "--link", str(link)], cwd=ROOT,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert sim.stdin is not None and sim.stdout is not None
    try:
        assert sim.stdout.readline().strip() == str(link)
        reader = subprocess.Popen([*CLI, "rapid-test", "read", "--port", str(link), "--count", "2",
                                   "--timeout", "20"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert reader.stdout is not None
        first = "0012,上海青,23.5%,合格"
        sent = 0

        def send(cmd: dict[str, Any]) -> dict[str, Any]:
            assert sim.stdin is not None and sim.stdout is not None
            sim.stdin.write(json.dumps(cmd, ensure_ascii=False) + "\n")
            sim.stdin.flush()
            return dict(json.loads(sim.stdout.readline()))

        assert send({"sample": "x", "inhibition_pct": 7}) == {
            "ok": False, "error": send({"sample": "x", "inhibition_pct": 7})["error"]}
        # The reader may open the port after the first lines: send until it has two results.
        lines: list[dict[str, Any]] = []

        def two() -> bool:
            nonlocal sent
            assert send({"raw": first}) == {"ok": True}
            sent += 1
            return reader.poll() is not None

        wait_until(two, 30, "two results read", step=0.2)
        lines = [json.loads(x) for x in reader.stdout.read().splitlines()]
        assert reader.returncode == 0
        assert lines == [{"sample": "上海青", "inhibition_pct": "23.5", "passed": True, "sample_no": "0012",
                          "raw": lines[0]["raw"]}] * 2
    finally:
        if sim.stdin is not None:
            sim.stdin.close()  # the simulator ends with its input and removes its link
        sim.wait(10)
    assert not link.exists()
    assert main(["rapid-test", "read", "--port", "x", "--baud", "0"]) == 2


STATION_ID = "rapid-station-01"


@pytest.fixture
def station(tmp_path: Path) -> Iterator[tuple[Station, RapidTestSimulator]]:
    sim = RapidTestSimulator(tmp_path / "rapid")
    cfg_path = write_station_config(
        tmp_path, STATION_ID, school_id="rapid-school", scale={"simulate": True, "protocol": "ad"},
        camera={"source": "synthetic", "width": 320, "height": 240, "fps": 5}, video={"enabled": False},
        matching={"rapid_test_categories": ["vegetable"]}, rapid_test={"port": str(tmp_path / "rapid")})
    subprocess.run([*CLI, "keys", "init", "--config", str(cfg_path)], check=True, capture_output=True)
    from app.config import load_config

    st_ = Station(load_config(cfg_path), sim_dir=tmp_path)
    st_.start()
    try:
        yield st_, sim
    finally:
        st_.stop()
        sim.close()


def test_the_instrument_fills_the_items_rapid_test_and_decides(
        station: tuple[Station, RapidTestSimulator]) -> None:
    st_, sim = station
    assert st_.journal is not None and st_.workflow is not None
    wf = st_.workflow
    day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    doc = demo_orders(STATION_ID, day)
    store.adopt(st_.journal, doc, etag=None, source="test")
    roster_store.adopt(st_.journal, demo_roster(STATION_ID, cost_ln=10), etag=None, source="test")
    for who in ("zhang", "li"):
        st_.handle(SignIn(who, pin=PINS[who]))
    # A result while no delivery is open fills nothing (but shows on the device line).
    sim.send(RapidResult("菠菜", "5", True))
    wait_until(lambda: st_.devices.snapshot().get("rapid_test", {}).get("text") == "菠菜 5% 合格", 10,
               "the first result seen")
    assert wf.state.placement.rapid_test is None
    st_.handle(OpenDelivery(doc["orders"][0]["order_id"], "d-rapid"))
    st_.handle(SelectLine("1"))  # 上海青, a category that needs a rapid test
    sim.send(RapidResult("上海青", "61.2", False, "0013"))
    wait_until(lambda: wf.state.placement.rapid_test is not None, 10, "rapid test on the placement")
    t = wf.state.placement.rapid_test
    assert t is not None and (str(t.inhibition_pct), t.passed, t.sample, t.source) == (
        "61.2", False, "0013 上海青", "instrument")
    assert st_.devices.snapshot()["rapid_test"] == {"ok": True, "text": "上海青 61.2% 不合格"}
    from edge.web.view import snapshot  # the kiosk's view names the source

    assert snapshot(wf.state, st_.orders(), {})["placement"]["rapid_test"]["source"] == "instrument"
    sim_scale = st_.scale.simulator
    sim_scale.play(placement(15200))
    wait_until(lambda: wf.state.weight is not None and wf.state.weight.stable
               and wf.state.weight.net_g == 15200 and wf.state.placement.loaded, 15, "stable 15200 g")
    from edge.workflow.model import Confirm

    res = st_.handle(Confirm(wf.state.placement.placement_id))
    assert res.refused is None, res.refused
    (ev,) = list(read_events(st_.journal.db, types=("line.rejected",)))
    assert ev["body"]["reasons"] == ["RAPID_TEST_FAILED"]
    assert ev["body"]["rapid_test"] == {"inhibition_pct": "61.2", "passed": False, "sample": "0013 上海青",
                                        "operator": "", "source": "instrument"}
    # The decided placement takes no more results.
    sim.send(RapidResult("上海青", "10", True, "0014"))
    wait_until(lambda: st_.devices.snapshot()["rapid_test"]["text"] == "上海青 10% 合格", 10, "seen")
    assert wf.state.placement.decided and wf.state.placement.rapid_test == t
