"""Install a signed release beside the current one, switch, restart, check health, roll back.

Layout under ``[update] root`` (default /opt/acceptance-station)::

    releases/<version>/venv        one venv per release (A/B: the current and the previous;
                                   an applied update removes the others)
    releases/<version>/manifest.json
    current -> releases/<version>  switched atomically (a new link renamed over the old)
    venv -> current/venv           what the units' ExecStart runs
    update-state.json              the last update's steps, with times (``update status``)

Nothing is touched before the bundle has verified in full into a new release
directory; a bad signature, a truncated bundle or too little disk leaves the
current release serving and removes the partial directory.

The station process is the only journal writer: the updater records every step
(``update.started``, ``update.applied``, ``update.rolled_back``...) in the state
file and hands it to the station through ``app.update_events``, which the station
journals at start and every few seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app import release, update_events
from app.update_plan import Verdict, advance, health_verdict, releases_to_prune, should_roll_back
from core.log import kv

log = logging.getLogger(__name__)

Check = Callable[[], str | None]
Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


class UpdateError(Exception):
    """The update could not run; the current release is unchanged."""


def run_cmd(cmd: list[str], timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a command; one that hangs past ``timeout_s`` or cannot start is a failed one (exit 124/127)."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"timed out after {timeout_s:.0f} s")
    except OSError as exc:
        return subprocess.CompletedProcess(cmd, 127, "", f"cannot run: {exc}")


@dataclass
class Layout:
    root: Path

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def current(self) -> Path:
        return self.root / "current"

    @property
    def state_file(self) -> Path:
        return self.root / "update-state.json"

    def current_version(self) -> str | None:
        try:
            return Path(os.readlink(self.current)).name
        except OSError:
            return None


@dataclass
class StateLog:
    """The steps of updates, kept in one JSON file rewritten atomically."""

    path: Path
    data_dir: Path | None = None  # the station's: each step is handed to it to journal
    doc: dict[str, Any] = field(default_factory=dict)

    def load(self) -> StateLog:
        try:
            self.doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.doc = {"state": "idle", "steps": []}
        return self

    def step(self, step: str, **detail: Any) -> None:
        self.doc["state"] = advance(self.doc.get("state", "idle"), step)
        entry = {"step": f"update.{step}", "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                 **detail}
        self.doc["steps"] = [*self.doc.get("steps", [])[-49:], entry]
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.doc, indent=1), encoding="utf-8")
        tmp.replace(self.path)
        if self.data_dir is not None:
            update_events.write_request(self.data_dir, step, detail)
        kv(log, logging.INFO, "update step", step=entry["step"], state=self.doc["state"])


@contextlib.contextmanager
def exclusive(root: Path) -> Iterator[None]:
    """One updater at a time (``update apply`` by hand and ``update poll`` from cron may meet):
    an advisory lock on ``<root>/update.lock``, released by the kernel if the process dies."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / "update.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpdateError("another update is running") from None
        yield
    finally:
        os.close(fd)


def switch(layout: Layout, version: str) -> None:
    """Point ``current`` at releases/<version> with one rename; ``venv`` follows it."""
    tmp = layout.root / "current.new"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path("releases") / version)
    tmp.replace(layout.current)
    venv = layout.root / "venv"
    if not venv.is_symlink():
        if venv.exists():  # install.sh's venv from before updates: kept aside, not deleted
            venv.replace(layout.root / "venv.pre-update")
        venv.symlink_to(Path("current") / "venv")


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def install(bundle: Path, key: Ed25519PublicKey, layout: Layout, python: str,
            min_free_bytes: int, runner: Runner = run_cmd) -> release.Manifest:
    """Verify ``bundle`` into releases/<version> and build its venv there; on any failure the
    new directory is removed and nothing else was touched."""
    layout.releases.mkdir(parents=True, exist_ok=True)
    need = bundle.stat().st_size * 4 + min_free_bytes
    if free_bytes(layout.releases) < need:
        raise UpdateError(f"not enough disk under {layout.releases}: need {need // 2**20} MiB free")
    staging = layout.releases / f".incoming-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        manifest = release.verify(bundle, key, extract_to=staging)
        if manifest.version == layout.current_version():
            raise UpdateError(f"version {manifest.version} is already current")
        dest = layout.releases / manifest.version
        shutil.rmtree(dest, ignore_errors=True)  # an earlier, unfinished or not-current copy
        staging.replace(dest)  # the venv is made in place: its scripts hold absolute paths
        try:
            _make_venv(dest, manifest, python, runner)
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            raise
        (dest / "manifest.json").write_bytes(manifest.raw)
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def running_uv() -> Path | None:
    """The running release's ``uv`` (station.lock carries it), if it has one."""
    uv = Path(sys.executable).parent / "uv"
    return uv if uv.is_file() and os.access(uv, os.X_OK) else None


def installer(python: str) -> list[str]:
    """The command that installs into the venv of ``python``: the running release's ``uv``
    (the same hashes checked, in seconds) or pip where it is absent. Both leave the modules
    compiled: the services cannot write the release's venv, and would otherwise compile every
    module anew at each start."""
    uv = running_uv()
    if uv is not None:
        return [str(uv), "pip", "install", "--quiet", "--compile-bytecode", "--python", python]
    return [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]


def venv_command(python: str, venv: Path) -> list[str]:
    """Make the release's venv. With uv installing, without pip: uv needs none in the target,
    and seeding pip (ensurepip) costs more than all the rest of the install (about 4 s of CPU,
    8-20 s on a loaded machine). Pip is only ever run from the venv being made, so a venv
    without it is never asked for it: the next update, run from this release, uses this
    release's uv, or (a lock without uv) makes the next venv with pip."""
    return [python, "-m", "venv", *(["--without-pip"] if running_uv() else []), str(venv)]


def _make_venv(dest: Path, manifest: release.Manifest, python: str, runner: Runner) -> None:
    venv = dest / "venv"
    steps = [venv_command(python, venv)]
    pip = [*installer(str(venv / "bin" / "python")), "--no-deps"]
    offline = ["--no-index", "--find-links", str(dest / "wheelhouse")] if manifest.wheelhouse else []
    lock = dest / manifest.lock
    if release.lock_hashes(lock.read_text(encoding="utf-8")):
        steps.append([*pip, *offline, "--require-hashes", "-r", str(lock)])
    steps.append([*pip, "--no-index", str(dest / manifest.wheel)])
    for cmd in steps:
        r = runner(cmd)
        if r.returncode != 0:
            raise UpdateError(f"installing the release failed: {' '.join(cmd[:4])}…: "
                              f"{(r.stderr or r.stdout).strip()[-400:]}")


@dataclass
class Units:
    systemctl: list[str]
    names: list[str]
    runner: Runner = run_cmd
    restarted_at: datetime | None = None  # the last restart: states older are the old release's

    def restart(self) -> str | None:
        self.restarted_at = datetime.now(UTC)
        r = self.runner([*self.systemctl, "restart", *self.names])
        return None if r.returncode == 0 else (r.stderr or r.stdout).strip() or f"exit {r.returncode}"

    def active(self) -> str | None:
        r = self.runner([*self.systemctl, "is-active", *self.names])
        if r.returncode == 0:
            return None
        return "not active: " + " ".join(r.stdout.split()) if r.stdout.strip() else f"exit {r.returncode}"


def wait_healthy(checks: Mapping[str, Check], deadline_s: float, interval_s: float,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> tuple[Verdict, float]:
    """Run every check until all pass or ``deadline_s`` elapses; the last verdict and the time."""
    t0 = clock()
    while True:
        verdict = health_verdict({name: _safe(check) for name, check in checks.items()})
        elapsed = clock() - t0
        decision = should_roll_back(verdict, elapsed, deadline_s)
        if decision is not None:
            return verdict, elapsed
        sleep(interval_s)


def _safe(check: Check) -> str | None:
    try:
        return check()
    except Exception as exc:  # a check that crashes is a failed check, with its reason
        return f"{type(exc).__name__}: {exc}"


@dataclass
class Outcome:
    result: str  # applied, rolled_back, failed
    version: str
    previous: str | None
    seconds: float
    failures: tuple[str, ...] = ()


def apply(bundle: Path, key: Ed25519PublicKey, layout: Layout, units: Units,
          checks: Mapping[str, Check], *, python: str, min_free_bytes: int,
          deadline_s: float, interval_s: float, state: StateLog) -> Outcome:
    """Install, switch, restart, check; switch back and restart when health fails in time."""
    t0 = time.monotonic()
    previous = layout.current_version()
    state.step("started", bundle=bundle.name, previous=previous)
    try:
        manifest = install(bundle, key, layout, python, min_free_bytes, units.runner)
    except (release.ReleaseError, UpdateError, OSError) as exc:
        state.step("refused", reason=str(exc))
        raise UpdateError(str(exc)) from exc
    state.step("installed", version=manifest.version)
    switch(layout, manifest.version)
    state.step("switched", version=manifest.version, previous=previous)
    problem = units.restart()
    verdict, _ = (Verdict(False, (f"restart: {problem}",)), 0.0) if problem else \
        wait_healthy(checks, deadline_s, interval_s)
    if verdict.healthy:
        pruned = releases_to_prune([p.name for p in layout.releases.iterdir()],
                                   {manifest.version, *([previous] if previous else [])})
        for name in pruned:
            shutil.rmtree(layout.releases / name, ignore_errors=True)
        state.step("applied", version=manifest.version, previous=previous, pruned=pruned,
                   ms=int((time.monotonic() - t0) * 1000))
        return Outcome("applied", manifest.version, previous, time.monotonic() - t0)
    if previous is None:
        layout.current.unlink(missing_ok=True)
        state.step("failed", version=manifest.version, failures=list(verdict.failures))
        return Outcome("failed", manifest.version, None, time.monotonic() - t0, verdict.failures)
    switch(layout, previous)
    units.restart()
    after, _ = wait_healthy(checks, deadline_s, interval_s)
    state.step("rolled_back", version=manifest.version, previous=previous,
               failures=list(verdict.failures), healthy_after=after.healthy,
               ms=int((time.monotonic() - t0) * 1000))
    return Outcome("rolled_back", manifest.version, previous, time.monotonic() - t0, verdict.failures)
