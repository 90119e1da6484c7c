"""The lock files in requirements/: pinned, hashed, nested, and in step with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

REQ = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)(?:\s*;\s*(?P<marker>.*?))?$")


@dataclass(frozen=True)
class Pin:
    version: str
    marker: str
    hashes: frozenset[str]


def parse_lock(path: Path) -> dict[str, Pin]:
    """name -> pin, from a requirements file as uv writes it (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pins: dict[str, Pin] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *hashes = (part.strip() for part in line.split("--hash="))
        m = ENTRY.match(spec)
        assert m, f"{path.name}: not an exact pin: {line}"
        name = canonicalize_name(m["name"])
        assert name not in pins, f"{path.name}: {name} pinned twice (a fork)"
        pins[name] = Pin(m["version"], m["marker"] or "", frozenset(hashes))
    return pins


LOCKS = {name: parse_lock(REQ / f"{name}.lock") for name in ("build", "station", "central", "dev")}


@pytest.mark.parametrize("name", LOCKS)
def test_every_entry_is_pinned_and_hashed(name: str) -> None:
    pins = LOCKS[name]
    assert pins, name
    for pkg, pin in pins.items():
        assert pin.hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes), pkg


def test_locks_nest_with_the_same_pins() -> None:
    """A kiosk runs exactly what the tests ran: station within central within dev."""
    station, central, dev = LOCKS["station"], LOCKS["central"], LOCKS["dev"]
    for small, big, label in ((station, central, "central"), (central, dev, "dev")):
        for pkg, pin in small.items():
            assert big.get(pkg) == pin, f"{pkg}: {pin.version} here, {big.get(pkg)} in {label}.lock"
    assert "psycopg" not in station and "psycopg-binary" not in station
    assert "psycopg" in central and "psycopg-binary" in central


def _wanted(extras: tuple[str, ...]) -> list[Requirement]:
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return reqs


@pytest.mark.parametrize(("name", "extras"), [
    ("station", ()), ("central", ("central",)), ("dev", ("central", "dev")),
    ("build", ("build-system",)),
])
def test_lock_holds_what_pyproject_asks(name: str, extras: tuple[str, ...]) -> None:
    """Every requirement is pinned at a version it allows (else: run scripts/lock.sh)."""
    if extras == ("build-system",):
        reqs = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    else:
        reqs = _wanted(extras)
    pins = LOCKS[name]
    for req in reqs:
        pin = pins.get(canonicalize_name(req.name))
        assert pin is not None, f"{req} is not in {name}.lock: run scripts/lock.sh"
        assert req.specifier.contains(pin.version, prereleases=True), (req, pin.version)


def test_evdev_has_a_source_for_the_pi() -> None:
    """evdev-binary has x86_64 wheels only; on the aarch64 kiosk evdev builds from source."""
    station = LOCKS["station"]
    assert "platform_machine == 'x86_64'" in station["evdev-binary"].marker
    assert "platform_machine != 'x86_64'" in station["evdev"].marker
