"""Central publishes signed releases and runs the staged rollout (SQLite and PostgreSQL).

The admin CLI runs in-process against central's config file; the routes are asked over
real HTTP with real station tokens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app import release
from central import tokens
from central.api import serve_in_thread
from central.config import load_central_config
from tests.cli_inproc import run_cli
from tests.rollout_helpers import central_toml, fake_bundles

CANARY, REST = "st-canary", "st-rest"


@pytest.fixture
def central(tmp_path: Path, dsn: str, key: Ed25519PrivateKey) -> Iterator[dict[str, Any]]:
    path, url = central_toml(tmp_path, dsn, key)
    cfg = load_central_config(path)
    heads = {s: {"Authorization": "Bearer " + tokens.issue(cfg.http.tokens_file, s)[0]}
             for s in (CANARY, REST)}
    server = serve_in_thread(cfg)
    bundles = fake_bundles(tmp_path, key, {"1.0.0": False, "1.1.0": False})
    yield {"cfg": path, "url": url, "heads": heads, "bundles": bundles, "tmp": tmp_path}
    server.shutdown()


def _admin(c: dict[str, Any], *args: str) -> Any:
    return run_cli("central-admin", *args, "--config", str(c["cfg"]))


def _report(c: dict[str, Any], station: str, **doc: Any) -> dict[str, Any]:
    r = requests.post(f"{c['url']}/v1/stations/{station}/update-report", json=doc,
                      headers=c["heads"][station], timeout=10)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _target(c: dict[str, Any], station: str) -> Any:
    r = requests.get(f"{c['url']}/v1/stations/{station}/update-target", headers=c["heads"][station],
                     timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["target"]


def test_publish_verifies_and_serves_by_sha256(central: dict[str, Any], key: Ed25519PrivateKey) -> None:
    c = central
    good = c["bundles"]["1.0.0"]
    # A bundle signed by another key, and one cut short: refused, nothing published.
    forged_dir = c["tmp"] / "forged"
    forged_dir.mkdir()
    forged = forged_dir / good.name
    forged.write_bytes(good.read_bytes())
    release.sign(forged, Ed25519PrivateKey.generate())
    r = _admin(c, "release", "publish", str(forged))
    assert r.returncode == 1 and "bad signature" in r.stderr, r.stderr
    cut = c["tmp"] / "cut" / good.name
    cut.parent.mkdir()
    cut.write_bytes(good.read_bytes()[:-700])
    release.sig_path(cut).write_bytes(release.sig_path(good).read_bytes())
    assert _admin(c, "release", "publish", str(cut)).returncode == 1
    assert _admin(c, "release", "list").stdout == ""
    assert _admin(c, "rollout", "start", "1.0.0").returncode == 2  # not published

    r = _admin(c, "release", "publish", str(good))
    assert r.returncode == 0, r.stderr
    sha = hashlib.sha256(good.read_bytes()).hexdigest()
    assert sha in r.stdout and (c["tmp"] / "releases" / "objects" / sha).is_file()
    assert _admin(c, "release", "publish", str(good)).returncode == 0  # the same again: no change
    meta = requests.get(f"{c['url']}/v1/releases/1.0.0", headers=c["heads"][REST], timeout=10).json()
    assert meta["sha256"] == sha and meta["size"] == good.stat().st_size
    assert meta["signature"] == release.sig_path(good).read_text().strip()
    # Only with a station's token; the bytes are the bundle's, and a range resumes it.
    assert requests.get(f"{c['url']}/v1/releases/1.0.0/bundle", timeout=10).status_code == 401
    body = requests.get(f"{c['url']}/v1/releases/1.0.0/bundle", headers=c["heads"][REST], timeout=10)
    assert body.status_code == 200 and body.content == good.read_bytes()
    part = requests.get(f"{c['url']}/v1/releases/1.0.0/bundle", timeout=10,
                        headers={**c["heads"][REST], "Range": "bytes=1000-"})
    assert part.status_code == 206 and part.content == good.read_bytes()[1000:]
    assert requests.get(f"{c['url']}/v1/releases/9.9.9/bundle", headers=c["heads"][REST],
                        timeout=10).status_code == 404


def test_rollout_halts_when_the_canaries_fail(central: dict[str, Any]) -> None:
    c = central
    for v in ("1.0.0", "1.1.0"):
        assert _admin(c, "release", "publish", str(c["bundles"][v])).returncode == 0
    assert _admin(c, "group", "canary", CANARY).returncode == 0
    r = _admin(c, "rollout", "start", "1.1.0")
    assert r.returncode == 0 and "stage canary, active" in r.stdout, r.stdout
    assert _target(c, CANARY)["version"] == "1.1.0"
    assert _target(c, REST) is None  # the rest wait for the canaries
    # A refusal (outside the window) is not a failure; a station reads only its own target.
    assert _report(c, CANARY, version="1.0.0", target="1.1.0", result="refused")["target"] is not None
    assert requests.get(f"{c['url']}/v1/stations/{CANARY}/update-target", headers=c["heads"][REST],
                        timeout=10).status_code == 403
    # The canary rolled back: the rollout halts by itself; nobody more is offered 1.1.0.
    doc = _report(c, CANARY, version="1.0.0", target="1.1.0", result="rolled_back", detail="scale: 无数据")
    assert doc["rollout"]["state"] == "halted" and doc["target"] is None
    assert "1 of 1 canaries failed" in doc["rollout"]["reason"]
    assert _target(c, REST) is None and _target(c, CANARY) is None
    status = _admin(c, "rollout", "status")
    assert "halted" in status.stdout and "rolled_back" in status.stdout, status.stdout
    # Later reports do not un-halt it; an admin may resume it, to everyone.
    _report(c, CANARY, version="1.0.0")
    assert _target(c, REST) is None
    r = _admin(c, "rollout", "resume")
    assert r.returncode == 0 and "stage all, active" in r.stdout
    assert _target(c, REST)["version"] == "1.1.0"


def test_rollout_proceeds_when_the_canaries_succeed(central: dict[str, Any]) -> None:
    c = central
    assert _admin(c, "release", "publish", str(c["bundles"]["1.1.0"])).returncode == 0
    assert _admin(c, "group", "canary", CANARY).returncode == 0
    assert _admin(c, "rollout", "start", "1.1.0", "--max-failure-rate", "0.5").returncode == 0
    assert _target(c, REST) is None
    doc = _report(c, CANARY, version="1.1.0", target="1.1.0", result="applied")
    assert doc["rollout"]["stage"] == "all" and doc["rollout"]["state"] == "active"
    assert _target(c, REST)["version"] == "1.1.0"


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"version": "1.0.0; rm -rf"}', b'{"target": "1.0.0"}',
    b'{"version": "1.0.0", "target": "1.1.0", "result": "exploded"}', b'{"extra": 1}',
    b'{"detail": "' + b"x" * 2000 + b'"}'])
def test_bad_reports_refused_and_nothing_changes(central: dict[str, Any], body: bytes) -> None:
    c = central
    url = f"{c['url']}/v1/stations/{CANARY}/update-report"
    r = requests.post(url, data=body, headers={**c["heads"][CANARY], "Content-Type": "application/json"},
                      timeout=10)
    assert r.status_code == 400, r.text
    assert requests.post(url, data=b"{}", timeout=10).status_code == 401
    assert requests.post(url, data=b"x" * 5000, headers=c["heads"][CANARY], timeout=10).status_code == 413
    assert "st-canary" not in _admin(c, "rollout", "status").stdout


def test_a_station_refuses_what_central_serves_wrong(central: dict[str, Any], key: Ed25519PrivateKey,
                                                      dsn: str) -> None:
    """Central's copy changed on its disk, or its signature record: the station installs nothing."""
    from central.rollout import db
    from contract.keys import public_hex
    from edge.journal import Journal
    from tests.factories import write_station_config
    from tests.test_update import _window_around_now

    c = central
    tmp = c["tmp"] / "station"
    tmp.mkdir()
    (tmp / "token").write_text(c["heads"][CANARY]["Authorization"].split()[1])
    opt = tmp / "opt"
    cfg = write_station_config(tmp, CANARY, orders={"api_url": c["url"], "token_file": str(tmp / "token")},
                               update={"root": str(opt), "release_public_key": public_hex(key),
                                       "window": _window_around_now(2), "systemctl": ["false"]})
    Journal(tmp / "data" / "station.db", Ed25519PrivateKey.generate(), CANARY).close()
    bundle = c["bundles"]["1.1.0"]
    assert _admin(c, "release", "publish", str(bundle)).returncode == 0
    assert _admin(c, "rollout", "start", "1.1.0").returncode == 0  # no canary group: everyone
    obj = c["tmp"] / "releases" / "objects" / hashlib.sha256(bundle.read_bytes()).hexdigest()
    good = obj.read_bytes()
    obj.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    r = run_cli("update", "poll", "--config", str(cfg))
    assert r.returncode == 1 and "sha256 differs" in r.stdout, r.stdout
    assert not list((opt / "downloads").iterdir()) and not (opt / "releases").exists()
    obj.write_bytes(good)
    store = db.open_store(dsn)
    try:
        store.execute("UPDATE central_releases SET signature=? WHERE version=?", ("ab" * 64, "1.1.0"))
    finally:
        store.close()
    r = run_cli("update", "poll", "--config", str(cfg))
    assert r.returncode == 1 and '"action": "refused"' in r.stdout and "bad signature" in r.stdout, r.stdout
    assert not (opt / "current").exists() and not (opt / "releases").exists()
