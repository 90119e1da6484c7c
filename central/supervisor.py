"""Central's supervisor: runs the ingest worker processes, restarts the dead, knows their health.

Each worker is a child process started with ``command + [index]``; it learns the
supervisor's pid from ``core.process.SUPERVISOR_PID_ENV`` (so it can die with
it, see ``core.process.die_with_parent``) and writes one JSON line per beat to its
stdout, a pipe read here by one small thread per worker. ``health`` is what
``/healthz`` shows: per worker, alive (process running and beating), the last
beat's age, its broker connection and its store.

Workers stay in the supervisor's process group and cgroup: a terminal's Ctrl-C
or ``kill -- -PGID`` reaches them all, and systemd's ``KillMode=control-group``
stops them with the unit.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

from central.config import IngestSection
from core import log
from core.process import SUPERVISOR_PID_ENV

logger = logging.getLogger("central.supervisor")


@dataclass
class Slot:
    """One worker index: its current process and what it last reported."""

    index: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    died_at: float | None = None
    last_beat_at: float | None = None
    beat: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0


class Supervisor:
    def __init__(self, command: list[str], ingest: IngestSection, *,
                 clock: Any = time.monotonic) -> None:
        self.command = command
        self.ingest = ingest
        self.clock = clock
        self.slots = [Slot(i) for i in range(ingest.workers)]
        self._lock = threading.Lock()

    # -- processes -------------------------------------------------------------------------------
    def start(self) -> None:
        for slot in self.slots:
            self._spawn(slot)

    def _spawn(self, slot: Slot) -> None:
        env = {**os.environ, SUPERVISOR_PID_ENV: str(os.getpid())}
        proc = subprocess.Popen([*self.command, str(slot.index)], stdout=subprocess.PIPE, env=env)
        with self._lock:
            slot.proc, slot.started_at, slot.died_at = proc, self.clock(), None
            slot.last_beat_at, slot.beat = None, {}
        assert proc.stdout is not None
        threading.Thread(target=self._read_beats, args=(slot, proc, proc.stdout),
                         name=f"beats-{slot.index}", daemon=True).start()

    def _read_beats(self, slot: Slot, proc: subprocess.Popen[bytes], out: IO[bytes]) -> None:
        for line in out:
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                if slot.proc is proc:
                    slot.beat, slot.last_beat_at = doc, self.clock()
        out.close()

    def poll(self) -> None:
        """Restart any worker that died, ``restart_delay_s`` after it was seen dead."""
        now = self.clock()
        for slot in self.slots:
            p = slot.proc
            if p is None or p.poll() is None:
                continue
            if slot.died_at is None:
                slot.died_at = now
                log.kv(logger, logging.WARNING, "worker exited; restarting", index=slot.index,
                       code=p.returncode, in_s=self.ingest.restart_delay_s)
            if now - slot.died_at >= self.ingest.restart_delay_s:
                slot.restarts += 1
                self._spawn(slot)

    def stop(self, timeout_s: float = 10.0) -> None:
        procs = [s.proc for s in self.slots if s.proc is not None]
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = self.clock() + timeout_s
        for p in procs:
            try:
                p.wait(max(0.1, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def pids(self) -> list[int]:
        return [s.proc.pid for s in self.slots if s.proc is not None and s.proc.poll() is None]

    # -- health ---------------------------------------------------------------------------------
    def health(self) -> list[dict[str, Any]]:
        now = self.clock()
        out = []
        with self._lock:
            for s in self.slots:
                running = s.proc is not None and s.proc.poll() is None
                age = None if s.last_beat_at is None else round(now - s.last_beat_at, 2)
                out.append({
                    "index": s.index, "pid": None if s.proc is None else s.proc.pid,
                    "alive": running and age is not None and age <= self.ingest.stale_after_s,
                    "running": running, "last_beat_s_ago": age, "restarts": s.restarts,
                    "client_id": s.beat.get("client_id"), "connected": bool(s.beat.get("connected")),
                    "broker_error": s.beat.get("broker_error"), "store_ok": s.beat.get("store_ok"),
                    "store_error": s.beat.get("store_error"), "batches": s.beat.get("batches", 0),
                })
        return out
