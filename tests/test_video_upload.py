"""Clip upload to the reference central: down then up, stored once, hash checked, tampering refused."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.config import StationConfig
from central.api import serve_in_thread
from contract.keys import public_hex
from core.backoff import exp_delay
from edge.journal import Journal, JournalReader
from sync import state
from sync.clip_upload import ClipUploader
from tests.factories import station_config
from tests.sync_harness import central_http, station_token, sync_to_central

STATION = "upload-station-01"


def upload_station(tmp: Path, url: str, token_file: Path, station: str) -> tuple[StationConfig, Journal]:
    """A station config pointing at central ``url`` with its token, and its journal (key at central)."""
    cfg = station_config(tmp, station, school_id="upload-school",
                         orders={"api_url": url, "timeout_s": 2, "token_file": str(token_file)},
                         uplink={"clip_backoff_min_s": 5, "clip_backoff_max_s": 60})
    cfg.station.data_dir.mkdir(parents=True)
    key = Ed25519PrivateKey.generate()
    (tmp / "keys").mkdir()
    (tmp / "keys" / f"{station}.pub").write_text(public_hex(key))
    return cfg, Journal(cfg.station.db_path, key, station)


def _setup(tmp: Path, url: str, token_file: Path) -> tuple[StationConfig, Journal, str, bytes]:
    cfg, j = upload_station(tmp, url, token_file, STATION)
    data = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 400
    clip_id = str(uuid.uuid4())
    f = cfg.station.data_dir / "clips" / "2026-11-28" / f"{clip_id}.mp4"
    f.parent.mkdir(parents=True)
    f.write_bytes(data)
    line = j.append("line.accepted", {"clip_id": clip_id})
    j.append("clip.finalized", {"clip_id": clip_id, "event_id": line["event_id"],
                                "event_seq": line["seq"], "sha256": hashlib.sha256(data).hexdigest(),
                                "bytes": len(data), "duration_ms": 1000, "frames": 10,
                                "codec": "h264", "container": "mp4-fragmented",
                                "file": f"2026-11-28/{clip_id}.mp4"})
    return cfg, j, clip_id, data


def test_upload_with_central_down_then_up(tmp_path: Path) -> None:
    ccfg, url = central_http(tmp_path)
    token = station_token(ccfg, STATION, tmp_path)
    cfg, j, clip_id, data = _setup(tmp_path, url, token)
    now = [1000.0]
    up = ClipUploader(cfg, j.db, JournalReader(j.db), clock=lambda: now[0])
    assert up.step() == 0  # central does not hold the clip.finalized event yet: not even tried
    assert j.db.execute("SELECT attempts FROM clip_uploads").fetchone()[0] == 0
    state.set_cursor(j.db, STATION, sync_to_central(j, STATION, ccfg.store.dsn, tmp_path / "keys"))
    assert up.step() == 0  # central down: a retry is scheduled, nothing lost
    row = j.db.execute("SELECT attempts, next_try_at, last_error FROM clip_uploads").fetchone()
    assert row[0] == 1 and row[1] == 1005.0 and "Connection" in row[2]
    assert state.clip_backlog(j.db) == 1
    assert up.step() == 0 and j.db.execute("SELECT attempts FROM clip_uploads").fetchone()[0] == 1

    server = serve_in_thread(ccfg)
    clips_dir = ccfg.http.clips_dir
    try:
        now[0] += 5
        up2 = ClipUploader(cfg, j.db, JournalReader(j.db), clock=lambda: now[0])  # a restarted uplink resumes
        assert up2.step() == 1
        assert state.clip_backlog(j.db) == 0
        objects = list((clips_dir / "objects").iterdir())
        assert [o.name for o in objects] == [hashlib.sha256(data).hexdigest()]
        assert objects[0].read_bytes() == data
        # Stored once: a second pass does nothing; HEAD tells presence with the hash.
        assert up2.step() == 0
        s = up2.session
        url = f"{cfg.orders.api_url}/v1/stations/{STATION}/clips/{clip_id}"
        h = s.head(url, timeout=5)
        assert h.status_code == 200 and h.headers["X-Content-SHA256"] == objects[0].name
        assert s.head(url[:-4] + "ffff", timeout=5).status_code == 404
        sha = hashlib.sha256(data).hexdigest()
        # The same file again: 200; a tampered body with the original hash: 400, nothing kept.
        assert s.put(url, data=data, headers={"X-Content-SHA256": sha}, timeout=5).status_code == 200
        bad = data[:-1] + b"X"
        r = s.put(url, data=bad, headers={"X-Content-SHA256": sha}, timeout=5)
        assert r.status_code == 400
        # Another (honestly hashed) file under a stored clip id: refused, the station signed another.
        r = s.put(url, data=bad, headers={"X-Content-SHA256": hashlib.sha256(bad).hexdigest()}, timeout=5)
        assert r.status_code == 403
        # An id no clip.finalized names: refused before the body is read, nothing squatted.
        other = url[: -len(clip_id)] + str(uuid.uuid4())
        assert s.put(other, data=bad, headers={"X-Content-SHA256": sha}, timeout=5).status_code == 403
        assert s.head(other, timeout=5).status_code == 404
        assert len(list((clips_dir / "objects").iterdir())) == 1
    finally:
        server.shutdown()


def test_backoff_doubles_to_a_cap() -> None:
    assert [exp_delay(n - 1, 2, 20) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 16, 20]
