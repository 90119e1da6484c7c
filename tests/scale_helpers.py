"""Helpers for the pty tests: a simulator and a link wired together."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from firmware_bridge.link import LinkSettings, LinkState, ScaleLink, StateChange
from firmware_bridge.protocols.base import Reading
from firmware_bridge.scenario import Scenario, constant
from firmware_bridge.simulator import ScaleSimulator
from firmware_bridge.stability import StabilityParams

FAST = dict(poll_interval_s=0.02, silence_timeout_s=0.4, reconnect_initial_s=0.05,
            reconnect_max_s=0.4, bad_frames_threshold=3,
            stability=StabilityParams(count=3, band_g=2, min_ms=60))


@contextmanager
def wired(protocol: str, tmp_path: Path, scenario: Scenario | None = None,
          **overrides: object) -> Iterator[tuple[ScaleSimulator, ScaleLink, list[StateChange]]]:
    sim = ScaleSimulator(protocol, scenario or constant(1234), link_path=tmp_path / "scale",
                         period_s=0.02, seed=7).start()
    changes: list[StateChange] = []
    opts = {**FAST, **overrides}
    link = ScaleLink(LinkSettings(port=sim.path, protocol=protocol, **opts),  # type: ignore[arg-type]
                     on_state=changes.append).start()
    try:
        yield sim, link, changes
    finally:
        link.stop()
        sim.stop()


def take(link: ScaleLink, n: int, timeout: float = 3.0,
         where: Callable[[Reading], bool] = lambda r: True) -> list[Reading]:
    """The next ``n`` readings that satisfy ``where`` (AssertionError on timeout)."""
    out: list[Reading] = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(out)} of {n} readings; state {link.state}: {out[-3:]}"
        try:
            r = link.readings.get(timeout=min(left, 0.2))
        except queue.Empty:
            continue
        if where(r):
            out.append(r)
    return out


def wait_state(link: ScaleLink, state: LinkState, timeout: float = 3.0) -> float:
    """Seconds until ``link`` reaches ``state``."""
    t0 = time.monotonic()
    while link.state != state:
        assert time.monotonic() - t0 < timeout, f"state {link.state}, wanted {state}"
        time.sleep(0.005)
    return time.monotonic() - t0


def drain(link: ScaleLink) -> None:
    while not link.readings.empty():
        link.readings.get_nowait()
