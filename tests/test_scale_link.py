"""The serial link against simulated indicators on real ptys."""

from __future__ import annotations

import itertools
import logging
import random
import time
import tracemalloc
from pathlib import Path

import pytest

from firmware_bridge.link import LinkSettings, LinkState, ScaleLink, UnsupportedCommand
from firmware_bridge.protocols import NAMES, get_spec
from firmware_bridge.scenario import Scenario, Step
from tests.scale_helpers import drain, take, wait_state, wired


@pytest.mark.parametrize("protocol", NAMES)
def test_readings_arrive_and_an_item_already_on_the_scale_is_read(protocol: str,
                                                                   tmp_path: Path) -> None:
    with wired(protocol, tmp_path) as (_sim, link, changes):
        got = take(link, 8)
        # The load was on the pan before the link started: its first reading is it.
        assert got[0].weight_g == 1234
        # The same weight again and again is delivered as is, never reset to 0.
        assert {r.weight_g for r in got} == {1234}
        assert all(r.status == "ok" for r in got)
        # Flagless indicators become stable through the detector.
        take(link, 1, where=lambda r: r.stable is True)
        assert changes[0].state == LinkState.CONNECTED
        assert link.latest is not None and link.latest.weight_g == 1234
        fresh = link.fresh(1.0)
        assert fresh is not None and fresh.weight_g == 1234


def test_a_stale_reading_is_not_fresh(tmp_path: Path) -> None:
    with wired("ad", tmp_path) as (sim, link, _):
        take(link, 1)
        sim.set_faults(silent=True)
        time.sleep(0.3)
        assert link.latest is not None  # still known...
        assert link.fresh(0.2) is None  # ...but too old to record


TARE = [n for n in NAMES if get_spec(n).tare is not None]
ZERO = [n for n in NAMES if get_spec(n).zero is not None]


@pytest.mark.parametrize("protocol", TARE)
def test_tare_and_clear_tare(protocol: str, tmp_path: Path) -> None:
    spec = get_spec(protocol)
    with wired(protocol, tmp_path) as (_sim, link, _):
        take(link, 1, where=lambda r: r.weight_g == 1234)
        link.tare()
        (r,) = take(link, 1, where=lambda r: r.weight_g == 0)
        if protocol in ("ad", "xk3190-a12", "ohaus"):
            assert r.net is True
        if spec.clear_tare is None:
            with pytest.raises(UnsupportedCommand):
                link.clear_tare()
        else:
            link.clear_tare()
            take(link, 1, where=lambda r: r.weight_g == 1234)


@pytest.mark.parametrize("protocol", ZERO)
def test_zero(protocol: str, tmp_path: Path) -> None:
    scenario = Scenario(loop=False, steps=[Step(weight_g=40, duration_ms=1500),
                                           Step(weight_g=1040, duration_ms=60_000)])
    with wired(protocol, tmp_path, scenario) as (_sim, link, _):
        take(link, 1, where=lambda r: r.weight_g == 40)
        link.zero()
        take(link, 1, where=lambda r: r.weight_g == 0)
        # The load placed after zeroing weighs what it weighs, without the offset.
        take(link, 1, timeout=4, where=lambda r: r.weight_g == 1000)


def test_commands_the_protocol_lacks_are_refused() -> None:
    link = ScaleLink(LinkSettings(port="/nonexistent", protocol="xk3190-a9"))
    for cmd in (link.zero, link.tare, link.clear_tare):
        with pytest.raises(UnsupportedCommand):
            cmd()


@pytest.mark.parametrize("protocol", ["mt-sics", "xk3190-a9"])
def test_unplug_then_replug_recovers_within_two_seconds(protocol: str, tmp_path: Path) -> None:
    with wired(protocol, tmp_path) as (sim, link, changes):
        take(link, 2)
        sim.unplug()
        wait_state(link, LinkState.RECONNECTING, timeout=2)
        time.sleep(1.0)  # the cable stays out a while; the link keeps trying
        sim.replug()
        t0 = time.monotonic()
        drain(link)
        take(link, 1, timeout=2.0)
        assert time.monotonic() - t0 <= 2.0
        assert link.state == LinkState.CONNECTED
        seen = [c.state for c in changes]
        assert seen[:3] == [LinkState.CONNECTED, LinkState.RECONNECTING, LinkState.CONNECTED]
        # Logged and published once per change, not per attempt.
        assert all(a != b for a, b in itertools.pairwise(seen))


def test_a_port_missing_at_start_is_disconnected_then_connects(tmp_path: Path) -> None:
    path = tmp_path / "later"
    link = ScaleLink(LinkSettings(port=str(path), protocol="ad", reconnect_initial_s=0.05,
                                  reconnect_max_s=0.2)).start()
    try:
        time.sleep(0.3)
        assert link.state == LinkState.DISCONNECTED
        from firmware_bridge.scenario import constant
        from firmware_bridge.simulator import ScaleSimulator

        with ScaleSimulator("ad", constant(500), link_path=path, period_s=0.02):
            take(link, 1, where=lambda r: r.weight_g == 500)
    finally:
        link.stop()


def test_silence_is_a_state_and_the_link_recovers(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="firmware_bridge.link")
    with wired("ad", tmp_path) as (sim, link, changes):
        take(link, 1)
        sim.set_faults(silent=True)
        wait_state(link, LinkState.SILENT, timeout=2)
        time.sleep(0.9)  # long enough for the link to reopen the port once
        assert link.state == LinkState.SILENT
        sim.set_faults(silent=False)
        take(link, 1)
        assert link.state == LinkState.CONNECTED
        seen = [c.state for c in changes]
        assert seen == [LinkState.CONNECTED, LinkState.SILENT, LinkState.CONNECTED]
        # One log line per change (the reopen during silence and every frame: none).
        logged = [r for r in caplog.records if r.getMessage() == "scale link state"]
        assert [r.fields["state"] for r in logged] == [s.value for s in seen]  # type: ignore[attr-defined]


@pytest.mark.parametrize("protocol", ["ohaus", "toledo8217"])
def test_polled_silence(protocol: str, tmp_path: Path) -> None:
    with wired(protocol, tmp_path) as (sim, link, _):
        take(link, 1)
        sim.set_faults(silent=True)
        wait_state(link, LinkState.SILENT, timeout=2)
        sim.set_faults(silent=False)
        take(link, 1, timeout=3)


@pytest.mark.parametrize("protocol", ["xk3190-a9", "ad"])
def test_bad_frames_state_and_recovery(protocol: str, tmp_path: Path) -> None:
    with wired(protocol, tmp_path) as (sim, link, _):
        take(link, 1)
        sim.set_faults(bad_checksum=1.0)
        wait_state(link, LinkState.BAD_FRAMES, timeout=2)
        drain(link)
        time.sleep(0.2)
        assert link.readings.empty()  # nothing from a corrupted frame gets through
        sim.set_faults(bad_checksum=0.0)
        take(link, 1)
        assert link.state == LinkState.CONNECTED


@pytest.mark.parametrize("protocol", ["xk3190-a9", "ad", "mt-sics", "toledo8217"])
def test_garbage_and_split_frames_still_give_true_weights(protocol: str, tmp_path: Path) -> None:
    with wired(protocol, tmp_path) as (sim, link, _):
        sim.set_faults(garbage=0.5, split=True, bad_checksum=0.2)
        got = take(link, 15, timeout=5)
        assert {r.weight_g for r in got if r.status == "ok"} == {1234}


def test_one_megabyte_of_random_bytes_over_a_pty(tmp_path: Path) -> None:
    with wired("ad", tmp_path, silence_timeout_s=5) as (sim, link, _):
        take(link, 1, where=lambda r: r.weight_g == 1234)
        sim.set_faults(silent=True)  # only the noise on the line now
        time.sleep(0.1)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        noise = random.Random(1).randbytes(1 << 20)
        sim.inject(noise)
        del noise
        sim.inject(b"\r\n")
        sim.set_faults(silent=False)
        drain(link)
        take(link, 3, timeout=5, where=lambda r: r.weight_g == 1234)
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert grown < 512 * 1024, grown
        assert link.parser.pending() <= link.parser.max_frame
        assert link.parser.bad_frames > 0 and link.parser.dropped_bytes > 500_000
        assert link.is_alive()
