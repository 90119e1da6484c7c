"""Shared fixtures: a signing key, a journal in a temp dir, demo orders."""

from __future__ import annotations

import os
import random
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.journal import Journal

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "app.cli"]
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", ROOT / "artifacts"))


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def journal(tmp_path: Path, key: Ed25519PrivateKey) -> Iterator[Journal]:
    j = Journal(tmp_path / "station.db", key, "test-station-01")
    yield j
    j.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    """A NOTIFY_SOCKET as systemd provides it: the socket and the env naming it."""
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(30)
    yield s, {"NOTIFY_SOCKET": path}
    s.close()


@pytest.fixture
def fault_rng() -> random.Random:
    """The random source of a fault test: seeded, the seed printed (shown when the test fails).

    ``FAULT_SEED=N`` replays a run; otherwise each run draws a new seed.
    """
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"FAULT_SEED={seed}")
    return random.Random(seed)


def assert_ready_then_pings(cmd: list[str], notify: tuple[socket.socket, dict[str, str]]) -> None:
    """A Type=notify process: READY=1, then watchdog pings while it runs; SIGTERM ends it with 0."""
    import signal
    import subprocess

    sock, env = notify
    p = subprocess.Popen(cmd, env={**os.environ, **env, "WATCHDOG_USEC": "400000"},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        got = [sock.recv(100).decode() for _ in range(3)]
        assert got == ["READY=1", "WATCHDOG=1", "WATCHDOG=1"], got
        p.send_signal(signal.SIGTERM)
        assert p.wait(20) == 0
    finally:
        if p.poll() is None:
            p.kill()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Any]:
    """A private mosquitto on a free loopback port (tests.sync_harness.Broker), SIGKILLed after."""
    from testbed.broker import Broker

    b = Broker(tmp_path)
    b.start()
    yield b
    b.kill()


@pytest.fixture(scope="session", autouse=True)
def _shared_browser_closes() -> Iterator[None]:
    """Page tests share one Chromium per worker (tests/browser.py); it is closed at the end."""
    yield
    if "tests.browser" in sys.modules:
        sys.modules["tests.browser"].close_shared_browser()


@pytest.fixture(params=["sqlite", "postgresql"])
def dsn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A central store DSN: SQLite in tmp, or a fresh schema on the test PostgreSQL server."""
    from tests.sync_harness import pg_schema

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'central.db'}"
        return
    with pg_schema() as pg_dsn:
        yield pg_dsn


# The longest, most CPU-hungry tests (whole systems, venv builds, chaos) run in two
# xdist groups, so at most two of them load the machine at once and the tests that
# measure a stop time or a latency do not starve (`scripts/test.sh` uses --dist loadgroup).
HEAVY_GROUPS = {
    "tests/test_chaos.py::test_chaos_nothing_lost_nothing_twice": "heavy-1",
    "tests/test_core_db_concurrency.py::test_station_and_uplink_writing_under_cpu_load_never_see_database_is_locked":
        "heavy-1",  # busies every core on purpose
    "tests/test_deploy.py::test_install_twice_changes_nothing": "heavy-2",
    "tests/test_core_crash.py::test_sigkill_never_loses_a_returned_append": "heavy-2",
}


# Tests that open a raw pty by its /dev/pts path share one worker: a link reopening its
# path while a test ends could otherwise meet the recycled pty of another worker's test.
PTY_FILES = ("tests/test_scanners.py", "tests/test_scale_thermometer.py", "tests/test_scale_link.py",
             "tests/test_scale_cli.py")


# Page tests run on two workers, not all: each worker that opens a page starts its own
# Playwright driver and Chromium (tests/browser.py), some 3 CPU-s, and the page tests spread
# over every worker started one on each. Two groups of about equal length (measured with --durations);
# a module with a module-scoped fixture stays whole, as in its own group.
BROWSER_GROUPS = {
    "browser-1": ("tests/test_kiosk_screens_browser.py", "tests/test_demo_browser.py",
                  "tests/test_public_pages.py", "tests/test_video_hall.py",
                  "tests/test_web_kiosk_browser.py", "tests/test_web_csrf_browser.py"),
    "browser-2": ("tests/test_discipline_browser.py", "tests/test_fleet_view.py",
                  "tests/test_hall_v2.py", "tests/test_station_disk.py",
                  "tests/test_inspection_browser.py", "tests/test_browser_rig.py"),
}
BROWSER_FILE_GROUP = {f: g for g, files in BROWSER_GROUPS.items() for f in files}


# The longest tests, longest first (measured with --durations): run first, so no worker
# starts one of them when the others are nearly done (the suite's wall time is then the
# longest worker's queue). Prefixes of node ids; the rest keep their collection order.
LONG_FIRST = (
    "tests/test_chaos.py::",  # heavy-1, with the every-core load test
    "tests/test_demo_scripted.py::",
    "tests/test_deploy.py::test_install_twice_changes_nothing",  # heavy-2, with the SIGKILL test
    "tests/test_core_crash.py::",
    "tests/test_sync_faults.py::",
    "tests/test_scale_link.py::",  # the pty group starts here
    "tests/test_kiosk_screens_browser.py::",
    "tests/test_discipline_browser.py::",
    "tests/test_sync_ingest_flood.py::",
    "tests/test_sync_e2e.py::",
    "tests/test_evidence_station.py::",
    "tests/test_central_service.py::",
    "tests/test_update.py::",
    "tests/test_core_db_concurrency.py::",
    "tests/test_demo_browser.py::",
    "tests/test_fleet_view.py::",
    "tests/test_public_pages.py::",
    "tests/test_station_disk.py::",
    "tests/test_vision_ensemble.py::",
    "tests/test_central_http_security.py::",
    "tests/test_vision_decode.py::",
    "tests/test_platform_delivery.py::",
    "tests/test_rollout_stations.py::",
    "tests/test_deploy_sandbox.py::",
    "tests/test_web_auth.py::",
)


def _long_rank(item: pytest.Item) -> int:
    return next((i for i, p in enumerate(LONG_FIRST) if item.nodeid.startswith(p)), len(LONG_FIRST))


def _long_files_first(items: list[pytest.Item]) -> None:
    """Whole files move (a module's fixtures are set up once), ranked by their longest test,
    and inside a file the longest first; stable, so every xdist worker sees the same order."""
    file_rank: dict[str, int] = {}
    for item in items:
        f = item.nodeid.split("::", 1)[0]
        file_rank[f] = min(file_rank.get(f, len(LONG_FIRST)), _long_rank(item))
    first_seen = {f: i for i, f in enumerate(dict.fromkeys(i.nodeid.split("::", 1)[0] for i in items))}
    items.sort(key=lambda it: (file_rank[f := it.nodeid.split("::", 1)[0]], first_seen[f],
                               _long_rank(it)))


def _module_fixture_group(item: pytest.Item) -> str | None:
    """A module whose tests share a module-scoped fixture (a demo system, a fleet, a sample set)
    runs on one worker: spread over four, the fixture would be built four times."""
    module = item.nodeid.split("::", 1)[0]
    info = getattr(item, "_fixtureinfo", None)
    for defs in (info.name2fixturedefs.values() if info is not None else ()):
        if any(d.scope == "module" and d.baseid == module for d in defs):
            return module
    return None


# tryfirst: xdist's worker turns the groups into node ids in its own hook of this name, which
# would otherwise run first (a worker registers it after the conftests) and see no group at all.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _long_files_first(items)
    for item in items:
        group = HEAVY_GROUPS.get(item.nodeid)
        if group is None and item.nodeid.startswith(PTY_FILES):
            group = "pty"
        if group is None:
            group = BROWSER_FILE_GROUP.get(item.nodeid.split("::", 1)[0])
        if group is None:
            group = _module_fixture_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
