"""The signed hash chain: verifies when whole, names the seq when tampered."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.chain import FloatInRecord, canonical_json, event_hash
from contract.keys import public_hex
from edge.journal import Journal, JournalError, read_events
from tests.cli_inproc import run_cli


def _fill(j: Journal, n: int) -> None:
    with j.transaction() as tx:
        for i in range(n):
            tx.append("alert.raised", {"code": "TEST", "severity": "info", "message": f"第 {i} 条",
                                       "refs": [i]})


def _verify(db: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("verify", "--db", str(db))


def _tamper(db: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    """Go around the append-only triggers, as an attacker with file access would."""
    c = sqlite3.connect(db)
    c.execute("DROP TRIGGER IF EXISTS events_no_update")
    c.execute("DROP TRIGGER IF EXISTS events_no_delete")
    c.execute(sql, params)
    c.commit()
    c.close()


@pytest.fixture
def chain_db(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    j = Journal(tmp_path / "s.db", key, "test-station-01")
    _fill(j, 1000)
    j.close()
    return tmp_path / "s.db"


def test_thousand_events_verify(chain_db: Path) -> None:
    r = _verify(chain_db)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1000 events" in r.stdout


def test_event_format_matches_contract(journal: Journal) -> None:
    ev = journal.append("station.started", {"version": "0.1.0", "config_digest": "x"})
    assert ev["seq"] == 1 and ev["prev_hash"] == "0" * 64
    assert set(ev) == {"seq", "event_id", "type", "station_id", "at", "clock_synced", "boot_id",
                       "prev_hash", "body", "hash", "sig"}
    unsigned = {k: v for k, v in ev.items() if k not in ("hash", "sig")}
    expected = canonical_json(unsigned)
    assert b'"body":{"config_digest":"x","version":"0.1.0"}' in expected
    assert event_hash(ev) == ev["hash"]
    ev2 = journal.append("alert.raised", {"message": "中文"})
    assert ev2["prev_hash"] == ev["hash"] and "中文".encode() in canonical_json(ev2)


def test_altered_body_named(chain_db: Path) -> None:
    c = sqlite3.connect(chain_db)
    text = c.execute("SELECT event FROM events WHERE seq=500").fetchone()[0]
    c.close()
    ev = json.loads(text)
    ev["body"]["message"] = "改过"
    _tamper(chain_db, "UPDATE events SET event=? WHERE seq=500", (json.dumps(ev),))
    r = _verify(chain_db)
    assert r.returncode == 1 and "seq 500: hash mismatch" in r.stdout


def test_resealed_event_caught_by_link(chain_db: Path, tmp_path: Path) -> None:
    """An attacker who recomputes the hash still breaks the signature."""
    c = sqlite3.connect(chain_db)
    ev = json.loads(c.execute("SELECT event FROM events WHERE seq=10").fetchone()[0])
    c.close()
    ev["body"]["message"] = "改过"
    ev["hash"] = event_hash(ev)
    _tamper(chain_db, "UPDATE events SET event=? WHERE seq=10", (json.dumps(ev),))
    r = _verify(chain_db)
    assert r.returncode == 1 and "seq 10: signature" in r.stdout


def test_deleted_row_named(chain_db: Path) -> None:
    _tamper(chain_db, "DELETE FROM events WHERE seq=321")
    r = _verify(chain_db)
    assert r.returncode == 1 and "seq 321: missing" in r.stdout


def test_swapped_rows_named(chain_db: Path) -> None:
    c = sqlite3.connect(chain_db)
    a = c.execute("SELECT event FROM events WHERE seq=700").fetchone()[0]
    b = c.execute("SELECT event FROM events WHERE seq=701").fetchone()[0]
    c.close()
    _tamper(chain_db, "UPDATE events SET event=? WHERE seq=700", (b,))
    _tamper(chain_db, "UPDATE events SET event=? WHERE seq=701", (a,))
    r = _verify(chain_db)
    assert r.returncode == 1 and "seq 700:" in r.stdout


def test_first_row_deleted_named(chain_db: Path) -> None:
    _tamper(chain_db, "DELETE FROM events WHERE seq=1")
    r = _verify(chain_db)
    assert r.returncode == 1 and "seq 1: missing" in r.stdout


def test_float_in_body_refused(journal: Journal) -> None:
    with pytest.raises(FloatInRecord, match=r"body.measured.net_kg"):
        journal.append("line.accepted", {"measured": {"net_kg": 1.5}})
    assert journal.last_seq() == 0


def test_triggers_refuse_rewrite(journal: Journal) -> None:
    journal.append("alert.raised", {"m": 1})
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        journal.db.execute("UPDATE events SET type='x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        journal.db.execute("DELETE FROM events")
    # REPLACE deletes the old row first; with recursive triggers on that is refused too.
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        journal.db.execute("INSERT OR REPLACE INTO events SELECT * FROM events WHERE seq=1")


def test_other_key_refused(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    Journal(tmp_path / "s.db", key, "test-station-01").close()
    with pytest.raises(JournalError, match="public_key"):
        Journal(tmp_path / "s.db", Ed25519PrivateKey.generate(), "test-station-01")


def test_failed_transaction_appends_nothing(journal: Journal) -> None:
    with pytest.raises(RuntimeError), journal.transaction() as tx:
        tx.append("alert.raised", {"m": 1})
        raise RuntimeError("boom")
    assert journal.last_seq() == 0
    assert journal.append("alert.raised", {"m": 2})["seq"] == 1


def test_verify_with_wrong_public_key(chain_db: Path) -> None:
    other = public_hex(Ed25519PrivateKey.generate())
    r = run_cli("verify", "--db", str(chain_db), "--public-key", other)
    assert r.returncode == 1 and "seq 1: signature" in r.stdout


def test_keys_init_mode_and_no_overwrite(tmp_path: Path) -> None:
    key = tmp_path / "k" / "station.key"
    r = run_cli("keys", "init", "--key", str(key))
    assert r.returncode == 0 and len(r.stdout.strip()) == 64
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    r2 = run_cli("keys", "init", "--key", str(key))
    assert r2.returncode == 1 and "refusing to overwrite" in r2.stderr
    assert key.read_bytes() == before
    r3 = run_cli("keys", "show", "--key", str(key))
    assert r3.stdout == r.stdout


def test_read_events_roundtrip(journal: Journal) -> None:
    _fill(journal, 5)
    evs = list(read_events(journal.db, from_seq=2, to_seq=4))
    assert [e["seq"] for e in evs] == [2, 3, 4]


def test_full_database_reports_the_real_cause_and_writes_nothing(journal: Journal) -> None:
    """SQLite rolls back by itself on SQLITE_FULL; the journal must not hide that cause."""
    journal.append("station.started", {"version": "0.1.0", "config_digest": "x"})
    pages = journal.db.execute("PRAGMA page_count").fetchone()[0]
    journal.db.execute(f"PRAGMA max_page_count={pages}")  # as a full disk would
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"), \
            journal.transaction() as tx:
        for i in range(50):
            tx.append("alert.raised", {"code": "TEST", "severity": "info",
                                       "message": "x" * 3000, "refs": [i]})
    assert not journal.db.in_transaction
    assert journal.last_seq() == 1  # nothing half-written
    journal.db.execute("PRAGMA max_page_count=1073741823")
    assert journal.append("alert.raised", {"code": "TEST", "severity": "info", "message": "ok",
                                           "refs": []})["seq"] == 2


def test_verify_reads_one_snapshot_of_a_live_journal(tmp_path: Path, key: Ed25519PrivateKey,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Count and last seq come from the same read, even while the station appends."""
    import edge.verify as verify
    from core import db as dbmod

    j = Journal(tmp_path / "s.db", key, "test-station-01")
    _fill(j, 100)
    real = verify.stored_rows

    def rows_while_the_station_appends(db: Any) -> Any:
        for i, row in enumerate(real(db)):
            if i == 10:
                _fill(j, 5)
            yield row

    monkeypatch.setattr(verify, "stored_rows", rows_while_the_station_appends)
    res = verify.verify_db(dbmod.connect(tmp_path / "s.db"), key.public_key())
    assert (res.count, res.last_seq, res.first_problem) == (100, 100, None)
    assert j.last_seq() == 105
