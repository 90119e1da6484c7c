"""``acceptance-station doctor``: what is wrong with this station, and what to do about it.

Each check is a small function returning a ``Finding`` (ok or not, what was
seen, what to do). Device checks read the live states the running station
keeps in ``device_status`` when they are fresh, so the doctor never steals a
port from the station; when the station is not running they open the device
themselves.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.config import ConfigError, StationConfig, load_config
from edge import device_status
from edge.journal import JournalReader

MIN_FREE_BYTES = 1 << 30  # below 1 GiB free the station is about to stop recording
FRESH_S = 30.0  # a device_status row younger than this comes from a running station


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""


def _db(cfg: StationConfig) -> Any:
    from core import db as dbmod

    return dbmod.connect(cfg.station.db_path) if cfg.station.db_path.exists() else None


def check_key(cfg: StationConfig) -> Finding:
    from contract.keys import KeyError_, key_problem, load_key, public_hex
    from edge.journal import meta

    path = cfg.station.key_path
    problem = key_problem(path)
    if problem:
        return Finding("key", False, problem, "create it once with `acceptance-station keys init "
                       f"--key {path}` and register the public key at central; chmod 600 it")
    try:
        pub = public_hex(load_key(path))
    except KeyError_ as exc:
        return Finding("key", False, str(exc), "restore the station key from its backup")
    db = _db(cfg)
    recorded = meta(db, "public_key") if db is not None else None
    if recorded is not None and recorded != pub:
        return Finding("key", False, "the key does not match the one the journal was signed with",
                       "put back the station's original key; never replace a station key")
    return Finding("key", True, f"{path} (mode 0600), public key {pub[:16]}…")


def check_database(cfg: StationConfig) -> Finding:
    from core.db import is_disk_full

    try:
        return _check_database(cfg)
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        return Finding("database", False, f"cannot open {cfg.station.db_path}: {exc} (the disk is full)",
                       "free space first (see the disk check), then run doctor again")


def _check_database(cfg: StationConfig) -> Finding:
    from edge.journal import meta
    from edge.verify import verify_db

    db = _db(cfg)
    if db is None:
        return Finding("database", False, f"{cfg.station.db_path} does not exist",
                       "start the station once (systemctl start acceptance-station)")
    row = db.execute("PRAGMA integrity_check").fetchone()
    if row is None or row[0] != "ok":
        return Finding("database", False, f"integrity check: {row[0] if row else '?'}",
                       "stop the station, copy the DB aside and call the platform team")
    pub = meta(db, "public_key")
    if pub is None:
        return Finding("database", True, "no journal events yet")
    from contract.chain import public_key_from_hex

    res = verify_db(db, public_key_from_hex(pub))
    if res.first_problem is not None:
        return Finding("database", False, f"journal chain broken at {res.first_problem}",
                       "do not delete anything: keep the DB as evidence and call the platform team")
    return Finding("database", True, f"integrity ok; {res.count} events, chain verifies")


def check_replay(cfg: StationConfig) -> Finding:
    """Journal events the workflow cannot apply: the station starts without them."""
    from edge.journal import read_events
    from edge.workflow.driver import WORKFLOW_TYPES
    from edge.workflow.machine import Skipped, replay

    db = _db(cfg)
    if db is None or JournalReader(db).last_seq() == 0:
        return Finding("replay", True, "no journal events yet")
    skipped: list[Skipped] = []
    replay(read_events(db, types=WORKFLOW_TYPES), skipped)
    if not skipped:
        return Finding("replay", True, "every workflow event applies")
    first = "; ".join(f"seq {s.seq} ({s.type}): {s.error}" for s in skipped[:3])
    return Finding("replay", False, f"{len(skipped)} journal event(s) cannot be applied and are "
                   f"skipped at start: {first}",
                   "the station runs without them (alert REPLAY_SKIPPED); keep the database as "
                   "it is and tell the platform team which seqs")


def _live_state(cfg: StationConfig, device: str) -> tuple[bool, str] | None:
    db = _db(cfg)
    if db is None:
        return None
    row = next((r for r in device_status.read_all(db) if r.device == device), None)
    if row is None:
        return None
    return (row.ok, row.state) if row.age_s() < FRESH_S else None


def check_scale(cfg: StationConfig) -> Finding:
    s = cfg.scale
    if s.simulate:
        return Finding("scale", True, "SIMULATED scale (demo configuration)")
    if not Path(s.port).exists():
        return Finding("scale", False, f"port {s.port} does not exist",
                       "check the scale's USB cable and power; `ls /dev/serial/by-id/` shows "
                       "the stable names; set [scale] port")
    live = _live_state(cfg, "scale")
    if live is not None:
        ok, text = live
        return Finding("scale", ok, f"{s.port}: station reports {text}",
                       "" if ok else "check the cable and the indicator's serial settings")
    from firmware_bridge.detect import detect
    from firmware_bridge.protocols import get_spec

    res = detect(s.port, bauds=[s.baud or get_spec(s.protocol).line.baud], listen_s=1.5)
    if res.found is None:
        why = "; ".join(f"{a.protocol}: {a.reason()}" for a in res.attempts[:4])
        return Finding("scale", False, f"{s.port}: no protocol answered ({why})",
                       "run `acceptance-station scale detect --port ...` and set [scale] protocol")
    if res.found.protocol != s.protocol:
        return Finding("scale", False, f"{s.port} speaks {res.found.protocol}, config says "
                       f"{s.protocol}", f"set [scale] protocol = \"{res.found.protocol}\"")
    return Finding("scale", True, f"{s.port}: {s.protocol} answering")


def check_camera(cfg: StationConfig) -> Finding:
    c = cfg.camera
    if c.source == "synthetic":
        return Finding("camera", True, "SYNTHETIC camera (demo configuration)")
    if c.source in ("file", "folder"):
        ok = c.path is not None and c.path.exists()
        return Finding("camera", ok, f"{c.source} {c.path}", "" if ok else "set [camera] path")
    dev = c.device
    if dev.startswith("/") and not Path(dev).exists():
        return Finding("camera", False, f"{dev} does not exist",
                       "check the camera's USB cable; `v4l2-ctl --list-devices` lists cameras")
    live = _live_state(cfg, "camera")
    if live is not None:
        ok, text = live
        return Finding("camera", ok, f"{dev}: station reports {text}",
                       "" if ok else "replug the camera; check `journalctl -u acceptance-station`")
    from edge.vision.sources import CaptureSource, SourceError

    src = CaptureSource(c)
    try:
        src.open()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if src.read() is not None:
                return Finding("camera", True, f"{dev}: frames arrive")
        return Finding("camera", False, f"{dev}: opened but no frame in 5 s", "replug the camera")
    except SourceError as exc:
        return Finding("camera", False, f"{dev}: {exc}", "replug the camera; check [camera] device")
    finally:
        src.close()


def check_disk(cfg: StationConfig) -> Finding:
    path = cfg.station.data_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    free = shutil.disk_usage(path).free
    reserve_mb = cfg.station.journal_reserve_mb
    if free < reserve_mb * 1_000_000:
        return Finding(
            "disk", False, f"disk full: {free // 1_000_000} MB free on {path}, below the journal's "
            f"reserve of {reserve_mb} MB; once the journal cannot write, the kiosk shows 磁盘已满 and "
            "refuses decisions",
            f"free space on {path} now: remove what is not the station's (`journalctl --vacuum-size="
            "200M`, /var/tmp, core dumps) or old clips central already has (`acceptance-station video "
            "retention --config ...`); never delete station.db or its -wal/-shm files; the station "
            "resumes by itself within seconds, no restart needed")
    ok = free >= MIN_FREE_BYTES
    return Finding("disk", ok, f"{free / 2**30:.1f} GiB free on {path}",
                   "" if ok else "free space: old clips are kept until central has them")


def clock_synced() -> bool | None:
    """timedatectl's NTPSynchronized where systemd runs, else the kernel's view."""
    from core.clock import clock_synced as kernel_view

    tool = shutil.which("timedatectl")
    if tool is not None:
        r = subprocess.run([tool, "show", "-p", "NTPSynchronized", "--value"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and r.stdout.strip() in ("yes", "no"):
            return r.stdout.strip() == "yes"
    return kernel_view()


def check_clock(cfg: StationConfig) -> Finding:
    if clock_synced():
        return Finding("clock", True, "synchronised")
    return Finding("clock", False, "not synchronised: events are marked clock_synced=false",
                   "check network and NTP: `timedatectl timesync-status`")


def check_broker(cfg: StationConfig) -> Finding:
    import ssl

    from paho.mqtt.client import MQTT_ERR_SUCCESS

    from contract.mqtt import make_client

    b = cfg.uplink.broker
    client = make_client(b, f"{cfg.station.station_id}-doctor")
    result: dict[str, Any] = {}
    client.on_connect = lambda c, u, f, rc, p: result.update(rc=rc)
    where = f"{b.host}:{b.port}" + (" (TLS)" if b.tls.ca_file else "")
    lost = None
    try:
        client.connect(b.host, b.port, keepalive=10)
        deadline = time.monotonic() + b.connect_timeout_s
        while "rc" not in result and time.monotonic() < deadline:
            # A broker that drops the connection (e.g. refusing the client certificate after
            # a TLS 1.3 handshake) ends the wait: looping on would spin until the deadline.
            if (code := client.loop(0.1)) != MQTT_ERR_SUCCESS:
                lost = code
                break
    except ssl.SSLError as exc:
        return Finding("broker", False, f"{where}: TLS refused: {exc.reason or exc}",
                       "check [uplink.broker.tls]: CA, certificate (CN = station_id) and key")
    except OSError as exc:
        return Finding("broker", False, f"{where}: unreachable ({exc.strerror or exc})",
                       "check the network and that the broker is up")
    finally:
        client.disconnect()
    rc = result.get("rc")
    if rc is None and lost is not None:
        return Finding("broker", False, f"{where}: the broker closed the connection before its "
                       "CONNACK (it refused the TLS handshake or this client)",
                       "check [uplink.broker.tls]: the CA, and a certificate the broker's CA signed "
                       "(CN = station_id) with its key")
    if rc is None:
        return Finding("broker", False, f"{where}: no answer (TLS handshake or CONNACK timed out)",
                       "check [uplink.broker] and its TLS files")
    if rc.is_failure:
        return Finding("broker", False, f"{where}: connection refused: {rc}",
                       "the broker refused this station's certificate or id")
    return Finding("broker", True, f"{where}: connected")


def check_api(cfg: StationConfig) -> Finding:
    import requests

    from core.http import make_session

    o = cfg.orders
    day = datetime.now(UTC).astimezone(ZoneInfo(cfg.station.timezone)).date().isoformat()
    url = f"{o.api_url.rstrip('/')}/v1/stations/{cfg.station.station_id}/orders"
    try:
        r = make_session(0, o.token_file, o.ca_file).get(url, params={"delivery_date": day},
                                                         timeout=o.timeout_s)
    except (requests.RequestException, OSError) as exc:
        return Finding("central-api", False, f"{url}: {exc.__class__.__name__}",
                       "check the network, [orders] api_url and token_file")
    ok = r.status_code in (200, 304, 404)
    fix = ("central refuses this station's token: ask the platform team for a new one "
           "(`acceptance-station central-token issue`) and put it in [orders] token_file"
           if r.status_code in (401, 403) else "central answers with an error: call the platform team")
    return Finding("central-api", ok, f"{url}: HTTP {r.status_code}", "" if ok else fix)


def check_central_head(cfg: StationConfig) -> Finding:
    """What central holds of this journal (``GET /v1/stations/{s}/head``), compared with it."""
    import requests

    from core.http import make_session

    url = f"{cfg.orders.api_url.rstrip('/')}/v1/stations/{cfg.station.station_id}/head"
    try:
        r = make_session(0, cfg.orders.token_file, cfg.orders.ca_file).get(
            url, timeout=cfg.orders.timeout_s)
        doc = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
    except (requests.RequestException, ValueError) as exc:
        return Finding("central-head", True, f"not compared: central unreachable ({exc.__class__.__name__})")
    if r.status_code == 404 and doc.get("error") == "unknown station":
        return Finding("central-head", False, "central has no key for this station",
                       "register station.key.pub at central (its registry keys_dir)")
    if r.status_code != 200 or "head_seq" not in doc:
        return Finding("central-head", True, f"not compared: {url} answered HTTP {r.status_code}")
    db = _db(cfg)
    reader = JournalReader(db) if db is not None else None
    return compare_head(doc, 0 if reader is None else reader.last_seq(),
                        None if reader is None else reader.hash_at)


def compare_head(doc: dict[str, Any], last: int, hash_at: Callable[[int], str | None] | None) -> Finding:
    """Central's head report against the local journal (its last seq and hashes)."""
    h = int(doc["head_seq"])
    if not doc.get("verified"):
        return Finding("central-head", False, f"central's copy does not verify: {doc.get('problem')}",
                       "call the platform team; keep this station's database as it is")
    if h > last:
        return Finding("central-head", False, f"central holds seq 1..{h}, this journal ends at {last}",
                       "this is not the database central knows: do not start a new journal; restore "
                       "station.db from its backup or call the platform team")
    local = hash_at(h) if (hash_at is not None and h > 0) else None
    if h > 0 and local != doc["head_hash"]:
        return Finding("central-head", False, f"fork at seq {h}: central holds "
                       f"{str(doc['head_hash'])[:16]}…, this journal {str(local)[:16]}…",
                       "do not delete anything: keep the DB as evidence and call the platform team")
    return Finding("central-head", True, f"central holds seq 1..{h} of {last} ({doc['count']} events, "
                   f"chain verifies there); hashes agree at seq {h}")


def check_backlog(cfg: StationConfig) -> Finding:
    from sync import state

    db = _db(cfg)
    if db is None:
        return Finding("backlog", True, "no journal yet")
    state.ensure_tables(db)
    last, cursor = JournalReader(db).last_seq(), state.get_cursor(db, cfg.station.station_id)
    clips, images = state.clip_backlog(db), state.image_backlog(db)
    ok = last - cursor < 1000 and clips < 100 and images < 100
    return Finding("backlog", ok, f"{last - cursor} events, {clips} clips and {images} images "
                   "(document photos, signatures) not yet at central "
                   f"(stored through seq {cursor} of {last})",
                   "" if ok else "check the uplink: `acceptance-station sync --config ... --status`")


CHECKS: list[Callable[[StationConfig], Finding]] = [
    check_key, check_database, check_replay, check_scale, check_camera, check_disk, check_clock,
    check_broker, check_api, check_central_head, check_backlog,
]


# Run remotely (``diagnose``), inside the uplink: its own broker link is the proof that the
# broker answers, and a second connection under the station's certificate would take its
# session over (the broker makes the client id the CN).
REMOTE_CHECKS = [c for c in CHECKS if c is not check_broker]


def run_doctor(config: Path) -> list[Finding]:
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        return [Finding("config", False, str(exc), "fix the named keys (see "
                        "config/station.example.toml)")]
    return [Finding("config", True, f"{config} valid"), *run_checks(cfg, CHECKS)]


def run_checks(cfg: StationConfig, checks: list[Callable[[StationConfig], Finding]]) -> list[Finding]:
    out = []
    for check in checks:
        try:
            out.append(check(cfg))
        except Exception as exc:  # one broken check must not hide the others
            out.append(Finding(check.__name__[6:], False, f"check failed: {exc!r}", ""))
    return out


def render(findings: list[Finding], as_json: bool) -> str:
    if as_json:
        return json.dumps({"ok": all(f.ok for f in findings),
                           "checks": [asdict(f) for f in findings]}, ensure_ascii=False, indent=1)
    w = max(len(f.check) for f in findings)
    lines = []
    for f in findings:
        lines.append(f"{f.check:<{w}}  {'OK  ' if f.ok else 'FAIL'}  {f.detail}")
        if not f.ok and f.fix:
            lines.append(f"{'':<{w}}        → {f.fix}")
    return "\n".join(lines)
