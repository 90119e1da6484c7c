"""Pure parts of the rollout and first boot: central's decision, the station's report, the config
edit, and the post-update checks of the scale and the broker (on a real station database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.config import parse_config
from app.enrol_cli import set_keys
from app.update_agent import failed_before, last_outcome, report_doc
from app.update_health import broker_reachable, scale_reachable
from central.rollout.plan import Rollout, StationReport, evaluate, offered
from core import db as dbmod
from core.clock import now_rfc3339
from edge import device_status
from sync import state
from tests.conftest import ROOT

R = Rollout(1, "2.0.0", "canary", "active", 0.34)
CAN = ["c1", "c2", "c3"]


def test_canary_stage_offers_canaries_only_and_halt_offers_nobody() -> None:
    assert offered(R, "canary") and not offered(R, None)
    assert offered(Rollout(1, "2.0.0", "all", "active", 0.0), None)
    assert not offered(Rollout(1, "2.0.0", "all", "halted", 0.0), "canary") and not offered(None, "canary")


@pytest.mark.parametrize(("reports", "stage", "state"), [
    ({}, "canary", "active"),                                                     # nobody reported
    ({"c1": StationReport("2.0.0", "2.0.0", "applied")}, "canary", "active"),      # one of three
    ({"c1": StationReport("1.0.0", "2.0.0", "rolled_back")}, "canary", "active"),  # 1/3 = 0.33 <= 0.34
    ({"c1": StationReport("1.0.0", "2.0.0", "rolled_back"),
      "c2": StationReport(None, "2.0.0", "failed")}, "canary", "halted"),          # 2/3 > 0.34
    ({"c1": StationReport("1.0.0", "2.0.0", "refused")}, "canary", "active"),      # a refusal is no failure
    ({"c1": StationReport("1.0.0", "1.9.0", "rolled_back")}, "canary", "active"),  # another version's
    ({c: StationReport("2.0.0", "2.0.0", "applied") for c in CAN}, "all", "active"),
    ({"c1": StationReport("1.0.0", "2.0.0", "rolled_back"), "c2": StationReport("2.0.0"),
      "c3": StationReport("2.0.0")}, "all", "active"),                             # all done, 1/3 failed
])
def test_evaluate(reports: dict[str, StationReport], stage: str, state: str) -> None:
    after = evaluate(R, CAN, reports)
    assert (after.stage, after.state) == (stage, state)
    assert evaluate(after, CAN, reports) == after  # deciding again changes nothing


def test_halted_and_promoted_rollouts_are_not_re_decided() -> None:
    failed = {c: StationReport("1.0.0", "2.0.0", "rolled_back") for c in CAN}
    assert evaluate(Rollout(1, "2.0.0", "all", "active", 0.0), CAN, failed).state == "active"
    assert evaluate(Rollout(1, "2.0.0", "canary", "halted", 0.0), CAN, {}).state == "halted"
    assert evaluate(Rollout(1, "2.0.0", "canary", "active", 0.0), [], {}).stage == "all"


def test_report_names_the_last_outcome_not_refusals() -> None:
    steps = [{"step": "update.applied", "version": "1.0.0"}, {"step": "update.started"},
             {"step": "update.rolled_back", "version": "2.0.0", "failures": ["scale: 无数据"]},
             {"step": "update.refused", "version": "2.0.0", "reason": "outside the maintenance window"}]
    assert report_doc("1.0.0", steps) == {"version": "1.0.0", "target": "2.0.0", "result": "rolled_back",
                                          "detail": "scale: 无数据"}
    assert last_outcome(steps[:1]) == steps[0] and report_doc(None, []) == {"version": None}
    assert failed_before(steps, "2.0.0") and not failed_before(steps, "1.0.0")


def test_set_keys_edits_the_example_in_place() -> None:
    example = (ROOT / "config" / "station.example.toml").read_text(encoding="utf-8")
    text = set_keys(example, {("station", "station_id"): "hz-new-01", ("orders", "token_file"): Path("/e/t"),
                              ("uplink.broker", "port"): 18883, ("uplink.broker.tls", "cert_file"): "/e/c"})
    cfg = parse_config(text)
    assert cfg.station.station_id == "hz-new-01" and cfg.orders.token_file == Path("/e/t")
    assert cfg.uplink.broker.port == 18883 and cfg.uplink.broker.tls.cert_file == Path("/e/c")
    assert cfg.uplink.broker.tls.key_file is None  # a commented key of another name stays commented
    assert len(text.splitlines()) == len(example.splitlines())  # replaced, not added
    added = set_keys('[station]\nstation_id = "a-01"\n', {("station", "school_id"): 'x"y',
                                                          ("update", "window"): "01:00-02:00"})
    assert 'school_id = "x\\"y"' in added and "[update]\nwindow = " in added


def _db(tmp: Path) -> Path:
    path = tmp / "station.db"
    conn = dbmod.connect(path)
    device_status.ensure_tables(conn)
    state.ensure_tables(conn)
    conn.close()
    return path


def _write(path: Path, scale_ok: bool | None = None, uplink: str | None = None) -> None:
    conn = dbmod.connect(path)
    with dbmod.write_transaction(conn):
        if scale_ok is not None:
            text = "已连接" if scale_ok else "无数据"
            device_status.write_all(conn, {"scale": {"ok": scale_ok, "text": text}})
        if uplink is not None:
            state.put_state(conn, "uplink", {"state": uplink, "error": None if uplink == "ok" else "x",
                                             "at": now_rfc3339()})
    conn.close()


def test_scale_and_broker_checks_need_states_written_after_the_restart(tmp_path: Path) -> None:
    path = _db(tmp_path)
    assert scale_reachable(path, datetime.now(UTC)) == "the station has not reported its scale"
    assert broker_reachable(path, datetime.now(UTC)) == "the uplink has not reported"
    _write(path, scale_ok=True, uplink="ok")
    later = datetime.now(UTC) + timedelta(seconds=5)  # written by the old release, before the restart
    assert "no scale state from the new release yet" in str(scale_reachable(path, later))
    assert "has not connected since the restart" in str(broker_reachable(path, later))
    before = datetime.now(UTC) - timedelta(seconds=5)
    assert scale_reachable(path, before) is None and broker_reachable(path, before) is None
    _write(path, scale_ok=False, uplink="refused")
    assert scale_reachable(path, before) == "scale not connected: 无数据"
    assert broker_reachable(path, before) == "uplink refused: x"
    assert "no station database" in str(scale_reachable(tmp_path / "none.db", before))


def test_report_doc_is_json(tmp_path: Path) -> None:
    assert json.loads(json.dumps(report_doc("1.0.0", [{"step": "update.failed", "version": "2.0.0",
                                                        "reason": "the previous update was interrupted"}])))


def test_one_updater_at_a_time(tmp_path: Path) -> None:
    """``update apply`` by hand and ``update poll`` from cron never run over each other."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from app.updater import exclusive
    from contract.keys import public_hex
    from tests.cli_inproc import run_cli
    from tests.factories import write_station_config

    opt = tmp_path / "opt"
    pub = public_hex(Ed25519PrivateKey.generate())
    cfg = write_station_config(tmp_path, update={"root": str(opt), "release_public_key": pub})
    with exclusive(opt):
        r = run_cli("update", "apply", str(tmp_path / "x.tar"), "--config", str(cfg))
        assert r.returncode == 1 and "REFUSED: another update is running" in r.stdout, r.stdout
        r = run_cli("update", "poll", "--config", str(cfg))
        assert r.returncode == 1 and "another update is running" in r.stdout, r.stdout
    r = run_cli("update", "apply", str(tmp_path / "x.tar"), "--config", str(cfg))
    assert r.returncode == 1 and "another update" not in r.stdout and "x.tar" in r.stdout, r.stdout
