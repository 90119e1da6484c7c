"""Starting the configured scale for the station: the real port, or the simulator.

The station calls ``start_scale(cfg.scale, ...)`` and gets a running
``ScaleLink``; with ``simulate = true`` (demo only) a ``ScaleSimulator`` is
started first on a private stable path and the link reads it like any port, so
the rest of the station cannot tell the difference — except for the warning
logged at start.
"""

from __future__ import annotations

import logging
import queue
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core import log
from firmware_bridge.config import ScaleSection
from firmware_bridge.link import ScaleLink, StateChange
from firmware_bridge.protocols.base import Reading
from firmware_bridge.simulator import ScaleSimulator

logger = logging.getLogger("firmware_bridge.runtime")


@dataclass
class ScaleDevice:
    link: ScaleLink
    simulator: ScaleSimulator | None = None

    def stop(self) -> None:
        """Stop the link, then the simulator (in that order: the link sees no unplug)."""
        self.link.stop()
        if self.simulator is not None:
            self.simulator.stop()


def start_scale(
    section: ScaleSection,
    readings: queue.Queue[Reading] | None = None,
    on_state: Callable[[StateChange], None] | None = None,
    sim_dir: Path | None = None,
) -> ScaleDevice:
    """Start the scale described by ``section`` and return its running link."""
    sim = None
    port = section.port
    if section.simulate:
        where = sim_dir or Path(tempfile.mkdtemp(prefix="acceptance-scale-"))
        sim = ScaleSimulator(section.protocol, link_path=where / f"sim-{section.protocol}",
                             unit=section.unit).start()
        port = sim.path
        log.kv(logger, logging.WARNING, "scale is SIMULATED (demo only)",
               protocol=section.protocol, path=port)
    link = ScaleLink(section.link_settings(port), readings, on_state).start()
    return ScaleDevice(link, sim)
