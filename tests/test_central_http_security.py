"""Central's HTTP API under the probes of the issue-17 audit: tokens, claims, lengths, slow clients."""

from __future__ import annotations

import contextlib
import hashlib
import resource
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central import tokens
from central.api import serve_in_thread
from contract.keys import public_hex
from edge.journal import Journal
from tests.sync_harness import ROOT, central_http, station_token, sync_to_central
from tests.waiting import wait_until

A, B, DAY = "st-aaa", "st-bbb", "2026-11-29"
CLIP = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40


@pytest.fixture
def central(tmp_path: Path) -> Iterator[tuple[Any, str, dict[str, dict[str, str]]]]:
    cfg, url = central_http(tmp_path, body_timeout_s=1.0, uploads_per_station=2)
    for s in (A, B):
        (cfg.http.orders_dir / s).mkdir(parents=True)
        (cfg.http.orders_dir / s / f"{DAY}.json").write_text(f'{{"station_id": "{s}", "phone": "138"}}')
    heads = {s: {"Authorization": "Bearer " + station_token(cfg, s, tmp_path).read_text().strip()}
             for s in (A, B)}
    server = serve_in_thread(cfg)
    yield cfg, url, heads
    server.shutdown()


def _finalized_clip(tmp: Path, cfg: Any) -> str:
    """Station A's journal with one clip.finalized, stored at central; the clip id."""
    key = Ed25519PrivateKey.generate()
    (tmp / "keys").mkdir(exist_ok=True)
    (tmp / "keys" / f"{A}.pub").write_text(public_hex(key))
    j = Journal(tmp / "a.db", key, A)
    clip_id = str(uuid.uuid4())
    j.append("clip.finalized", {"clip_id": clip_id, "sha256": hashlib.sha256(CLIP).hexdigest(),
                                "bytes": len(CLIP), "file": f"2026-11-29/{clip_id}.mp4"})
    assert sync_to_central(j, A, cfg.store.dsn, tmp / "keys") == 1
    j.close()
    return clip_id


def test_orders_only_with_the_stations_own_token(tmp_path: Path, central: Any) -> None:
    cfg, url, heads = central
    orders = f"{url}/v1/stations/{A}/orders"
    q = {"delivery_date": DAY}
    anon = requests.get(orders, params=q, timeout=5)
    assert anon.status_code == 401 and anon.headers["WWW-Authenticate"] == "Bearer"
    assert "138" not in anon.text
    for bad in ("Bearer nope", "Basic eDp5", "Bearer " + "x" * 5000):
        assert requests.get(orders, params=q, headers={"Authorization": bad}, timeout=5).status_code == 401
    other = requests.get(orders, params=q, headers=heads[B], timeout=5)
    assert other.status_code == 403 and "138" not in other.text
    assert requests.get(orders, params=q, headers=heads[A], timeout=5).json()["station_id"] == A
    assert requests.get(f"{url}/v1/schools/sch-1/menu", params={"date": DAY}, timeout=5).status_code == 401
    assert requests.get(f"{url}/healthz", timeout=5).json()["ok"] is True  # no token needed
    # Revoking takes effect without a restart.
    tokens.revoke(cfg.http.tokens_file, A)
    assert requests.get(orders, params=q, headers=heads[A], timeout=5).status_code == 401
    assert requests.get(f"{url}/v1/stations/{B}/orders", params=q, headers=heads[B], timeout=5).ok


def test_a_clip_is_accepted_only_against_its_signed_event(tmp_path: Path, central: Any) -> None:
    cfg, url, heads = central
    clip_id = _finalized_clip(tmp_path, cfg)
    sha = hashlib.sha256(CLIP).hexdigest()
    put = f"{url}/v1/stations/{A}/clips/"
    h = {"X-Content-SHA256": sha}
    assert requests.put(put + clip_id, data=CLIP, headers=h, timeout=5).status_code == 401
    assert requests.put(put + clip_id, data=CLIP, headers={**h, **heads[B]}, timeout=5).status_code == 403
    assert requests.head(put + clip_id, headers=heads[B], timeout=5).status_code == 403
    # Squatting: another id, or the real id with another file, is refused and leaves nothing.
    squat = requests.put(put + str(uuid.uuid4()), data=CLIP, headers={**h, **heads[A]}, timeout=5)
    assert squat.status_code == 403 and "clip.finalized" in squat.json()["error"]
    junk = b"squatter" * 100
    r = requests.put(put + clip_id, data=junk, timeout=5,
                     headers={"X-Content-SHA256": hashlib.sha256(junk).hexdigest(), **heads[A]})
    assert r.status_code == 403
    assert not (cfg.http.clips_dir / "index").exists()
    objects = cfg.http.clips_dir / "objects"
    assert not objects.exists() or list(objects.iterdir()) == []
    # The real upload then succeeds.
    assert requests.put(put + clip_id, data=CLIP, headers={**h, **heads[A]}, timeout=5).status_code == 201
    assert requests.head(put + clip_id, headers=heads[A], timeout=5).headers["X-Content-SHA256"] == sha


def _raw(url: str, request: bytes) -> bytes:
    """Send raw bytes; what came back until the response's headers (or the connection) ended."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(request)
        out = b""
        with contextlib.suppress(TimeoutError, ConnectionError):
            while b"\r\n\r\n" not in out and (chunk := s.recv(65536)):
                out += chunk
        return out


def test_content_length_is_checked(tmp_path: Path, central: Any) -> None:
    cfg, url, heads = central
    clip_id = _finalized_clip(tmp_path, cfg)
    sha = hashlib.sha256(CLIP).hexdigest()
    head = (f"PUT /v1/stations/{A}/clips/{clip_id} HTTP/1.1\r\nHost: x\r\nX-Content-SHA256: {sha}\r\n"
            f"Authorization: {heads[A]['Authorization']}\r\n")
    negative = _raw(url, (head + "Content-Length: -1\r\n\r\n").encode() + CLIP)
    assert negative.startswith(b"HTTP/1.1 400"), negative[:80]
    assert _raw(url, (head + "\r\n").encode()).startswith(b"HTTP/1.1 411")
    body = "10\r\n0123456789abcdef\r\n0\r\n\r\n"
    chunked = _raw(url, (head + "Transfer-Encoding: chunked\r\n\r\n" + body).encode())
    assert chunked.startswith(b"HTTP/1.1 411")
    huge = _raw(url, (head + f"Content-Length: {10**12}\r\n\r\n").encode())
    assert huge.startswith(b"HTTP/1.1 413")
    short = _raw(url, (head + f"Content-Length: {len(CLIP)}\r\n\r\n").encode() + CLIP[:100])
    assert not short.startswith(b"HTTP/1.1 2")
    objects = cfg.http.clips_dir / "objects"
    wait_until(lambda: not objects.exists() or list(objects.iterdir()) == [], 5, "no file kept")
    assert not (cfg.http.clips_dir / "index").exists()


def test_stalled_uploads_are_cut_and_bounded_per_station(tmp_path: Path, central: Any) -> None:
    cfg, url, heads = central
    clip_id = _finalized_clip(tmp_path, cfg)
    sha = hashlib.sha256(CLIP).hexdigest()
    head = (f"PUT /v1/stations/{A}/clips/{clip_id} HTTP/1.1\r\nHost: x\r\nX-Content-SHA256: {sha}\r\n"
            f"Authorization: {heads[A]['Authorization']}\r\nContent-Length: {len(CLIP)}\r\n\r\n").encode()
    host, port = url.removeprefix("http://").split(":")
    stalled = [socket.create_connection((host, int(port)), timeout=5) for _ in range(2)]
    for s in stalled:
        s.sendall(head + CLIP[:50])
    time.sleep(0.3)
    third = requests.put(f"{url}/v1/stations/{A}/clips/{clip_id}", data=CLIP, timeout=5,
                         headers={"X-Content-SHA256": sha, **heads[A]})
    assert third.status_code == 429
    for s in stalled:  # body_timeout_s = 1: each is answered 408 and closed
        s.settimeout(5)
        assert s.recv(100).startswith(b"HTTP/1.1 408")
        s.close()
    assert list((cfg.http.clips_dir / "objects").iterdir()) == []
    ok = requests.put(f"{url}/v1/stations/{A}/clips/{clip_id}", data=CLIP, timeout=5,
                      headers={"X-Content-SHA256": sha, **heads[A]})
    assert ok.status_code == 201


def _proc_counts(pid: int) -> tuple[int, int]:
    threads = int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                       if line.startswith("Threads:")))
    sockets = sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if _link(fd).startswith("socket:"))
    return threads, sockets


def _link(fd: Path) -> str:
    """What an open file descriptor names; "" for one closed since the folder was listed."""
    try:
        return str(fd.readlink())
    except FileNotFoundError:
        return ""


def test_half_sent_requests_do_not_exhaust_the_server(tmp_path: Path) -> None:
    """1,500 half-sent requests made the old server run 1,235 threads and /healthz time out."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))
    cfg, url = central_http(tmp_path, max_connections=256, header_timeout_s=3.0)
    conf = tmp_path / "central.toml"
    conf.write_text(f"""
[http]
bind = "{cfg.http.bind}"
tokens_file = "{cfg.http.tokens_file}"
max_connections = 256
header_timeout_s = 3.0
[store]
dsn = "{cfg.store.dsn}"
[ingest]
workers = 0
""")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "central", "--config", str(conf)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host, port = cfg.http.bind.split(":")
    held: list[socket.socket] = []
    try:
        wait_until(lambda: _healthy(url), 20, "central's HTTP API")
        for i in range(1500):
            s = socket.create_connection((host, int(port)), timeout=5)
            if i % 3:  # headers never finished
                s.sendall(b"GET /v1/stations/st-aaa/orders HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            else:  # headers done, body never sent
                s.sendall(f"PUT /v1/stations/{A}/clips/{uuid.uuid4()} HTTP/1.1\r\nHost: x\r\n"
                          "Content-Length: 100000000\r\n\r\n".encode())
            held.append(s)
        t0 = time.monotonic()
        r = requests.get(f"{url}/healthz", timeout=5)
        took = time.monotonic() - t0
        print(f"healthz answered in {took:.3f} s behind 1,500 half-sent requests")
        assert r.status_code == 200 and took < 3.0
        threads, sockets = _proc_counts(proc.pid)
        assert threads <= 40 and sockets <= 256 + 16, (threads, sockets)
        # The header timeout (3 s) closes what is left of the half-sent requests, within 4 s.
        wait_until(lambda: _proc_counts(proc.pid)[1] <= 16, 4.0, "the half-sent requests closed")
        assert _healthy(url)
    finally:
        for s in held:
            s.close()
        proc.terminate()
        proc.wait(20)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_https_with_the_stations_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens must not cross the network in clear: central serves HTTPS when given a certificate.

    The station's ``[orders] ca_file`` is used even when REQUESTS_CA_BUNDLE names another bundle.
    """
    from core.http import make_session
    from testbed.pki import make_pki

    make_pki(tmp_path / "pki", [])
    pki = tmp_path / "pki"
    cfg, url = central_http(tmp_path, tls_cert_file=str(pki / "broker.crt"),
                            tls_key_file=str(pki / "broker.key"))
    (cfg.http.orders_dir / A).mkdir(parents=True)
    (cfg.http.orders_dir / A / f"{DAY}.json").write_text("{}")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "pki" / "central-ca.crt"))
    server = serve_in_thread(cfg)
    try:
        session = make_session(0, station_token(cfg, A, tmp_path), pki / "ca.crt")
        https = url.replace("http://", "https://")
        assert session.get(f"{https}/v1/stations/{A}/orders", params={"delivery_date": DAY}, timeout=5).ok
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/healthz", timeout=5)  # no plain HTTP on that port
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{https}/healthz", timeout=5)  # an unknown CA is refused by the client
    finally:
        server.shutdown()


def test_https_stops_promptly_with_an_idle_keep_alive_connection(tmp_path: Path) -> None:
    """An idle TLS connection (a browser's pooled one never answers close_notify) does not hold
    central's stop for the graceful period: it took STOP_GRACE_S (3 s) before."""
    import ssl

    from central.http import STOP_GRACE_S
    from testbed.pki import make_pki

    make_pki(tmp_path / "pki", [])
    pki = tmp_path / "pki"
    cfg, _ = central_http(tmp_path, tls_cert_file=str(pki / "broker.crt"),
                          tls_key_file=str(pki / "broker.key"))
    server = serve_in_thread(cfg)
    host, port = cfg.http.bind.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    with socket.create_connection((host, int(port)), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert tls.recv(4096).startswith(b"HTTP/1.1 ")  # answered; the connection stays open, idle
        t0 = time.monotonic()
        server.shutdown()
        stop_s = time.monotonic() - t0
    assert not server.thread.is_alive()
    assert stop_s < STOP_GRACE_S / 2, f"stopped after {stop_s:.1f} s"
