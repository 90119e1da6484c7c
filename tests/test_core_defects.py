"""Runtime defects of issue 13: a stop with the event stream open, and a bad time zone.

Both are about the station process as systemd runs it, so ``run`` is a real
process here: SIGTERM with a kiosk page's ``/api/stream`` open must end it in
well under systemd's stop timeout with the stop steps done, and a config the
station cannot use must be refused before anything is signed into the journal.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from app.cli import main
from app.config import ConfigError, parse_config
from edge.journal import Journal
from testbed.broker import free_port
from tests.conftest import CLI

STATION_ID = "defect-station-01"


def _config(tmp_path: Path, *, port: int = 0, timezone: str = "Asia/Shanghai",
            extra: str = "") -> Path:
    path = tmp_path / "station.toml"
    path.write_text(f'[station]\nstation_id = "{STATION_ID}"\nschool_id = "defect-school"\n'
                    f'timezone = "{timezone}"\n'
                    f'data_dir = "{tmp_path}/data"\nkey_path = "{tmp_path}/station.key"\n'
                    f'[web]\nport = {port or free_port()}\nhall_port = 0\n'
                    f'[scale]\nsimulate = true\n'
                    f'[camera]\nsource = "synthetic"\nwidth = 320\nheight = 240\nfps = 5\n{extra}')
    assert main(["keys", "init", "--key", str(tmp_path / "station.key")]) == 0
    return path


def _journal_seqs(tmp_path: Path) -> list[int]:
    conn = sqlite3.connect(f"file:{tmp_path / 'data' / 'station.db'}?mode=ro", uri=True)
    try:
        return [int(r[0]) for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
    finally:
        conn.close()


def _wait_up(url: str, p: subprocess.Popen[str], timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert p.poll() is None, f"station exited early: {p.communicate()[1][-2000:]}"
        try:
            if requests.get(url + "/api/state", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError("station web app did not come up")


def test_sigterm_with_the_event_stream_open_stops_cleanly_in_under_3_s(
        tmp_path: Path, notify_socket: tuple[socket.socket, dict[str, str]]) -> None:
    port = free_port()
    cfg = _config(tmp_path, port=port)
    sock, env = notify_socket
    p = subprocess.Popen([*CLI, "run", "--config", str(cfg)], env={**os.environ, **env},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_up(url, p)
        stream = requests.get(url + "/api/stream", stream=True, timeout=10)
        first = threading.Event()

        def read() -> None:  # a kiosk page: reads the stream as long as it flows
            try:
                for line in stream.iter_lines():
                    if line.startswith(b"data: "):
                        first.set()
            except requests.RequestException:
                pass

        threading.Thread(target=read, daemon=True).start()
        assert first.wait(10), "no state snapshot on the stream"
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(15)
        except subprocess.TimeoutExpired:
            pytest.fail("the station ignored SIGTERM with the event stream open (15 s)")
        took = time.monotonic() - t0
        _, err = p.communicate()
        assert rc == 0, err[-2000:]
        print(f"stopped {took:.2f} s after SIGTERM with the stream open")
        assert took < 3.0, f"stopping took {took:.1f} s"
        assert "app.station stopped" in err, err[-2000:]  # Station.stop ran every step
        sock.settimeout(1)
        said = []
        while True:
            try:
                said.append(sock.recv(100).decode())
            except TimeoutError:
                break
        assert said[-1] == "STOPPING=1", said
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.mark.parametrize("zone", ["Asia/Shangai", "Mars/Olympus", "Asia", "../etc/passwd", ""])
def test_config_refuses_an_unknown_time_zone(zone: str) -> None:
    text = f'[station]\nstation_id = "{STATION_ID}"\nschool_id = "defect-school"\ntimezone = "{zone}"\n'
    with pytest.raises(ConfigError, match=r"station\.timezone: .*unknown time zone"):
        parse_config(text, "t.toml")


def test_config_accepts_known_time_zones() -> None:
    for zone in ("Asia/Shanghai", "Asia/Urumqi", "UTC"):
        text = f'[station]\nstation_id = "{STATION_ID}"\nschool_id = "s-01"\ntimezone = "{zone}"\n'
        assert parse_config(text).station.timezone == zone


def test_config_check_refuses_an_unknown_time_zone(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, timezone="Asia/Shangai")
    assert main(["config", "check", str(cfg)]) == 2
    assert "station.timezone" in capsys.readouterr().err


def _seed_journal(tmp_path: Path) -> list[int]:
    from contract.keys import load_key

    j = Journal(tmp_path / "data" / "station.db", load_key(tmp_path / "station.key"), STATION_ID)
    j.append("station.started", {"version": "0", "config_digest": "x", "public_key": "y"})
    j.close()
    return _journal_seqs(tmp_path)


def test_run_with_an_unknown_time_zone_journals_nothing(tmp_path: Path) -> None:
    cfg = _config(tmp_path, timezone="Asia/Shangai")
    before = _seed_journal(tmp_path)
    for _ in range(2):  # systemd restarts it: still nothing signed
        r = subprocess.run([*CLI, "run", "--config", str(cfg)], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 2, r.stderr[-2000:]
        assert "station.timezone" in r.stderr
    assert _journal_seqs(tmp_path) == before


def test_run_that_fails_to_start_journals_nothing(tmp_path: Path) -> None:
    """A start step after the journal fails (clips directory unusable): no station.started."""
    cfg = _config(tmp_path, extra="[video]\nenabled = true\n")
    before = _seed_journal(tmp_path)
    (tmp_path / "data" / "clips").write_text("not a directory")
    r = subprocess.run([*CLI, "run", "--config", str(cfg)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0
    assert "clips" in r.stderr, r.stderr[-2000:]
    assert _journal_seqs(tmp_path) == before


def test_signing_key_of_another_station_is_refused_before_journaling(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    before = _seed_journal(tmp_path)
    (tmp_path / "station.key").unlink()
    assert main(["keys", "init", "--key", str(tmp_path / "station.key")]) == 0  # not this journal's
    r = subprocess.run([*CLI, "run", "--config", str(cfg)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "refusing to append" in r.stderr
    assert _journal_seqs(tmp_path) == before
