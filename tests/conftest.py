"""Shared fixtures: a signing key, a journal in a temp dir, demo orders."""

from __future__ import annotations

import os
import random
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

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
