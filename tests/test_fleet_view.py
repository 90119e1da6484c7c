"""The fleet view with 1,300 simulated stations on a real mosquitto (issue 16).

One module-scoped fleet: mosquitto started here, central's ingest worker and HTTP
API in this process (SQLite store), and 1,300 real MQTT clients with retained
status and wills (``testbed.fleet_sim``). What the view must show is computed
from the same status generator the stations publish, never written down.
"""

from __future__ import annotations

import resource
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from central import tokens
from testbed import fleet_sim
from testbed.broker import Broker
from tests.fleet_harness import Central, fleet_config
from tests.waiting import wait_until

N = 1300


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Central, fleet_sim.FleetSim]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 8 * N:  # the broker inherits it
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(8 * N, hard), hard))
    tmp = tmp_path_factory.mktemp("fleet")
    broker = Broker(tmp)
    broker.start()
    stations = fleet_sim.station_ids(N)
    central = Central(fleet_config(tmp, broker, f"sqlite:///{tmp / 'central.db'}", stations,
                                   fleet_sim.master_data(N)))
    index = {s: i for i, s in enumerate(stations)}
    sim = fleet_sim.FleetSim("127.0.0.1", broker.port, stations,
                             lambda s, session: fleet_sim.sample_status(index[s], session))
    try:
        sim.start()
        wait_until(lambda: central.get("/v1/fleet/stations", state="online")["counts"]["online"] == N,
                   timeout=180, what=f"{N} stations online in the fleet view", step=0.5)
        yield central, sim
    finally:
        sim.close()
        central.close()
        broker.kill()


def expected(pred: Any) -> set[str]:
    return {s for i, s in enumerate(fleet_sim.station_ids(N)) if pred(i)}


def ids(doc: dict[str, Any]) -> set[str]:
    return {r["station_id"] for r in doc["stations"]}


def test_fleet_counts_and_filters(fleet: tuple[Central, fleet_sim.FleetSim]) -> None:
    central, _ = fleet
    doc = central.get("/v1/fleet/stations")
    c = doc["counts"]
    assert c["stations"] == N and c["online"] == N and c["never"] == 0
    broken_scale = expected(lambda i: i % 97 == 5)
    broken_camera = expected(lambda i: i % 89 == 7)
    low_disk = expected(lambda i: i % 211 == 11)
    assert ids(central.get("/v1/fleet/stations", fault="scale")) == broken_scale
    assert ids(central.get("/v1/fleet/stations", fault="camera")) == broken_camera
    assert ids(central.get("/v1/fleet/stations", fault="disk")) == low_disk
    assert ids(central.get("/v1/fleet/stations", visit="1")) == broken_scale | broken_camera | low_disk
    assert c["needs_visit"] == len(broken_scale | broken_camera | low_disk)
    assert c["versions"] == {"1.4.1": len(expected(lambda i: i % 10 == 3)),
                             "1.4.2": N - len(expected(lambda i: i % 10 == 3))}
    district = fleet_sim.DISTRICTS[2]
    assert ids(central.get("/v1/fleet/stations", district=district)) == expected(
        lambda i: (i % 500) % len(fleet_sim.DISTRICTS) == 2)
    assert ids(central.get("/v1/fleet/stations", school="sch-007")) == expected(lambda i: i % 500 == 7)
    both = central.get("/v1/fleet/stations", district=fleet_sim.DISTRICTS[0], fault="scale")
    assert ids(both) == {s for s in broken_scale if int(s[3:]) % 500 % 5 == 0}
    row = central.get("/v1/fleet/stations/st-0005")
    assert row["devices"]["scale"] == {"state": "无响应", "ok": False}
    assert row["school_name"] == "第6小学" and row["district"] == fleet_sim.DISTRICTS[0]
    assert row["version"] == "1.4.2" and row["update"]["step"] == "update.applied"
    assert row["backlog"]["events"] == 5 and row["backlog"]["since"] is not None


def test_fleet_api_refuses_station_tokens_and_bad_filters(fleet: tuple[Central, fleet_sim.FleetSim]) -> None:
    central, _ = fleet
    url = central.base + "/v1/fleet/stations"
    assert requests.get(url, timeout=10).status_code == 401
    station_token, _ = tokens.issue(central.cfg.http.tokens_file, "st-0001")
    r = requests.get(url, headers={"Authorization": f"Bearer {station_token}"}, timeout=10)
    assert r.status_code == 401 and "technician" in r.json()["error"]
    assert central.session.get(url, params={"fault": "nonsense"}, timeout=10).status_code == 400
    r = requests.post(central.base + "/v1/fleet/stations/st-0001/diagnose",
                      headers={"Authorization": f"Bearer {station_token}"}, timeout=10)
    assert r.status_code == 401


def test_will_message_shows_the_station_offline(fleet: tuple[Central, fleet_sim.FleetSim]) -> None:
    central, sim = fleet
    victim = "st-0042"
    sim.drop(victim)
    row = wait_until(lambda: (r := central.get(f"/v1/fleet/stations/{victim}"))["state"] == "offline" and r,
                     timeout=60, what="the will to reach the fleet view")
    assert row["since"] >= row["last_seen"][:19]
    doc = central.get("/v1/fleet/stations", state="offline")
    assert ids(doc) == {victim} and doc["counts"]["online"] == N - 1
    assert row["status"]["online"] is False and row["status"]["session"] == sim.sessions[victim]


def test_fleet_page_renders_and_filters_in_chromium(fleet: tuple[Central, fleet_sim.FleetSim]) -> None:
    from tests.browser import page
    from tests.web_helpers import add_account, browser_login

    central, _ = fleet
    add_account(central.cfg.store.dsn, "tech-li", "technician", name="李工")
    add_account(central.cfg.store.dsn, "leader", "school_leader", school="sch-001")
    api = central.get("/v1/fleet/stations")["counts"]
    with page(1600, 1000) as p:
        assert "/web/login" in p.goto(central.base + "/web/fleet").url  # no session: the login page
        browser_login(p, central.base, "leader")
        assert p.goto(central.base + "/web/fleet").status == 403  # not a technician
        p.goto(central.base + "/web/")
        p.click("#who ~ form button")  # log out
        browser_login(p, central.base, "tech-li")
        p.click("a[href='/web/fleet']")  # the home page links it for technicians
        p.wait_for_url("**/web/fleet")  # loaded, not just committed (the title was read empty once)
        assert p.title().startswith("设备运维总览")
        for key in ("stations", "online", "offline", "needs_visit"):
            assert p.inner_text(f"#count-{key} b") == str(api[key])
        assert p.locator("#stations tbody tr").count() == N
        p.select_option("#f-fault", "scale")
        p.click("#f-apply")
        p.wait_for_url("**/web/fleet?*fault=scale*")
        shown = set(p.locator("#stations tbody tr").evaluate_all("rs => rs.map(r => r.dataset.station)"))
        assert shown == expected(lambda i: i % 97 == 5)
        assert "秤故障" in p.inner_text("#stations tbody tr >> nth=0")
        p.select_option("#f-fault", "")
        p.select_option("#f-district", fleet_sim.DISTRICTS[1])
        p.check("#f-visit")
        p.click("#f-apply")
        p.wait_for_url("**visit=1*")
        shown = set(p.locator("#stations tbody tr").evaluate_all("rs => rs.map(r => r.dataset.station)"))
        visit = expected(lambda i: i % 97 == 5 or i % 89 == 7 or i % 211 == 11)
        assert shown == {s for s in visit if int(s[3:]) % 500 % 5 == 1}
        p.click(f"a[href='/web/fleet/stations/{sorted(shown)[0]}']")
        p.wait_for_selector("#diagnose")
        forged = p.request.post(central.base + f"/web/fleet/stations/{sorted(shown)[0]}/diagnose",
                                form={"csrf": "not-the-session's"})
        assert forged.status == 403  # the session cookie alone does not do
        p.click("#diagnose")
        p.wait_for_selector("#notice:has-text('已发送诊断请求')")
        assert "已请求" in p.inner_text("#diagnoses") and "tech-li" in p.inner_text("#diagnoses")
