"""The discipline pages over HTTP (in-process): another school sees nothing, CSRF and bad uploads
change nothing, roles are enforced, the overview counts and charts; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from central.api import create_app
from central.platform import discipline
from central.platform.config import DisciplineSection
from central.store import Store
from tests.discipline_helpers import PDF, PNG, add_warning
from tests.sync_harness import central_http
from tests.web_helpers import add_account, csrf_of, login


@pytest.fixture
def site(tmp_path: Path, dsn: str) -> Iterator[tuple[TestClient, dict[str, str], Store]]:
    cfg, _ = central_http(tmp_path, dsn=dsn)
    cfg = cfg.model_copy(update={"web": cfg.web.model_copy(update={"documents_dir": tmp_path / "docs",
                                                                     "document_max_bytes": 4096})})
    store = Store(dsn)
    ids = {"a": add_warning(store, "school-a", "a1"), "b": add_warning(store, "school-b", "b1")}
    for name, role, school in (("lead-a", "school_leader", "school-a"),
                               ("lead-b", "school_leader", "school-b"),
                               ("comm-a", "discipline_committee", "school-a"),
                               ("bureau", "city_bureau", None), ("tech", "technician", None)):
        add_account(dsn, name, role, school)
    with TestClient(create_app(cfg)) as client:
        yield client, ids, store
    store.close()


def _log_len(store: Store, wid: str) -> int:
    return len(discipline.history(store, wid))


def test_another_school_sees_nothing_of_this_ones(site: tuple[TestClient, dict[str, str], Store]) -> None:
    client, ids, store = site
    login(client, "lead-a")
    page_a = client.get("/web/warnings")
    assert ids["a"] in page_a.text and ids["b"] not in page_a.text and "school-b" not in page_a.text
    token = csrf_of(page_a.text)
    client.post(f"/web/warnings/{ids['a']}/document", data={"csrf": token},
                files={"file": ("x.pdf", PDF, "application/pdf")})
    sha = discipline.case(store, ids["a"]).document_sha256  # type: ignore[union-attr]
    client.cookies.clear()
    login(client, "lead-b")
    listing = client.get("/web/warnings")
    assert ids["a"] not in listing.text and ids["b"] in listing.text
    token = csrf_of(listing.text)
    for path in (f"/web/warnings/{ids['a']}", f"/web/warnings/{ids['a']}/documents/{sha}",
                 f"/web/warnings/{ids['a']}/clips/st-a/00000000-0000-4000-8000-000000000000"):
        r = client.get(path)
        assert r.status_code == 404 and "未找到" in r.text, path
    before = _log_len(store, ids["a"])
    for action, data in (("document", {"csrf": token}), ("stamp", {"csrf": token, "sha256": sha or ""}),
                         ("review", {"csrf": token, "decision": "close"})):
        files = {"file": ("y.pdf", PDF, "application/pdf")} if action == "document" else None
        r = client.post(f"/web/warnings/{ids['a']}/{action}", data=data, files=files)
        assert r.status_code in (403, 404), action  # review: the role is refused first
    assert _log_len(store, ids["a"]) == before
    # Its own warning is there, but not the other school's document through it.
    assert client.get(f"/web/warnings/{ids['b']}/documents/{sha}").status_code == 404
    # A technician sees no warnings; a school leader no city overview.
    assert client.get("/web/overview").status_code == 403
    client.cookies.clear()
    login(client, "tech")
    assert client.get("/web/warnings").status_code == 403
    assert client.get(f"/web/warnings/{ids['a']}").status_code == 403


def test_csrf_and_bad_uploads_change_nothing(site: tuple[TestClient, dict[str, str], Store]) -> None:
    client, ids, store = site
    login(client, "lead-a")
    token = csrf_of(client.get(f"/web/warnings/{ids['a']}").text)
    wid = ids["a"]
    before = _log_len(store, wid)
    ok_file = {"file": ("x.pdf", PDF, "application/pdf")}
    assert client.post(f"/web/warnings/{wid}/document", files=ok_file).status_code == 403
    forged = client.post(f"/web/warnings/{wid}/document", data={"csrf": "forged"}, files=ok_file)
    assert forged.status_code == 403
    evil = client.post(f"/web/warnings/{wid}/document", data={"csrf": token}, files=ok_file,
                       headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    html = client.post(f"/web/warnings/{wid}/document", data={"csrf": token},
                       files={"file": ("x.pdf", b"<script>alert(1)</script>", "application/pdf")})
    assert html.status_code == 400 and "PDF" in html.text
    big = client.post(f"/web/warnings/{wid}/document", data={"csrf": token},
                      files={"file": ("x.pdf", PDF + bytes(5000), "application/pdf")})
    assert big.status_code == 413
    assert _log_len(store, wid) == before
    objects = Path(str(client.app.state.cfg.web.documents_dir)) / "objects"  # type: ignore[attr-defined]
    assert not objects.exists() or not any(objects.iterdir())
    r = client.post(f"/web/warnings/{wid}/document", data={"csrf": token}, files=ok_file,
                    follow_redirects=False)
    assert r.status_code == 303
    assert _log_len(store, wid) == before + 1
    page = client.get(f"/web/warnings/{wid}")
    assert "x.pdf" in page.text and 'id="stamp"' in page.text
    # Once escalated (overdue, here by a clock a year ahead) an upload is refused before its file is kept.
    a_year_on = datetime.now(UTC) + timedelta(days=365)
    discipline.step(store, DisciplineSection(), ZoneInfo("Asia/Shanghai"), a_year_on)
    late = client.post(f"/web/warnings/{wid}/document", data={"csrf": token},
                       files={"file": ("late.png", PNG, "image/png")})
    assert late.status_code == 409 and "已上报" in late.text
    assert len(list(objects.iterdir())) == 1
    # Central holds no key for st-a: its chain cannot be verified, and the page says so.
    assert "st-a：记录链未通过验证：no public key registered" in page.text
    doc = client.get(f"/web/warnings/{wid}/documents/{discipline.case(store, wid).document_sha256}")  # type: ignore[union-attr]
    assert doc.content == PDF and doc.headers["content-type"] == "application/pdf"
    assert "sandbox" in doc.headers["content-security-policy"]


def test_overview_counts_and_charts(site: tuple[TestClient, dict[str, str], Store]) -> None:
    client, _, store = site
    for n in range(3):
        add_warning(store, "school-a", f"more-{n}", indicator="late_arrival")
    login(client, "bureau")
    page = client.get("/web/overview").text
    assert "<svg" in page and 'id="by-school"' in page and "记录迟报" in page
    assert 'data-day="2026-11-30" data-state="open" data-n="5"' in page  # all five warnings are of that day
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    listing = client.get("/web/warnings").text
    assert listing.count('class="warning-row"') == 5  # the bureau sees every school's
    assert client.get("/web/warnings?state=closed").text.count('class="warning-row"') == 0
    assert client.get("/web/warnings?indicator=late_arrival").text.count('class="warning-row"') == 3


def test_a_warning_shows_the_photos_and_signature_its_events_name(tmp_path: Path, dsn: str) -> None:
    """The documents photographed at the door and the driver's drawn signature, once uploaded,
    show on the warning's page and are served only through the warnings that name them."""
    import hashlib
    import json

    cfg, _ = central_http(tmp_path, dsn=dsn)
    store = Store(dsn)
    clips = Path(cfg.http.clips_dir)
    cert, sig = b"\xff\xd8\xff\xe0" + b"cert" * 16, PNG + b"signature"
    shas = {}
    for name, data in (("cert", cert), ("sig", sig)):
        sha = shas[name] = hashlib.sha256(data).hexdigest()
        (clips / "objects").mkdir(parents=True, exist_ok=True)
        (clips / "images" / "st-a").mkdir(parents=True, exist_ok=True)
        (clips / "objects" / sha).write_bytes(data)
        (clips / "images" / "st-a" / sha).touch()
    missing = "ab" * 32  # named but never uploaded
    bodies = [{"documents": [{"kind": "quarantine", "label": "动物检疫合格证明", "sha256": shas["cert"]},
                             {"kind": "test_report", "label": "检测报告", "sha256": missing}]},
              {"acknowledged_by": {"method": "signature", "signature_sha256": shas["sig"]}}]
    refs = []
    for seq, (typ, body) in enumerate((("line.rejected", bodies[0]), ("rejection.disposed", bodies[1])), 1):
        h = f"{seq:064x}"
        store.execute("INSERT INTO central_events (station_id, seq, event_id, type, at, hash, event, "
                      "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      ("st-a", seq, f"e{seq}", typ, "2026-11-30T00:00:00Z", h,
                       json.dumps({"body": body}), "2026-11-30T00:00:01Z"))
        refs.append({"station_id": "st-a", "seq": seq, "type": typ, "hash": h})
    wid = add_warning(store, "school-a", "photos", events=refs)
    other = add_warning(store, "school-a", "none")
    add_account(dsn, "lead-a", "school_leader", "school-a")
    with TestClient(create_app(cfg)) as client:
        login(client, "lead-a")
        page = client.get(f"/web/warnings/{wid}").text
        assert f"/web/warnings/{wid}/images/st-a/{shas['cert']}" in page and "动物检疫合格证明" in page
        assert f"/web/warnings/{wid}/images/st-a/{shas['sig']}" in page and "司机签名" in page
        assert "检测报告：照片尚未上传" in page
        r = client.get(f"/web/warnings/{wid}/images/st-a/{shas['cert']}")
        assert r.status_code == 200 and r.content == cert and r.headers["content-type"] == "image/jpeg"
        assert "sandbox" in r.headers["content-security-policy"]
        r = client.get(f"/web/warnings/{wid}/images/st-a/{shas['sig']}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        for path in (f"/web/warnings/{other}/images/st-a/{shas['cert']}",  # not named by that one
                     f"/web/warnings/{wid}/images/st-a/{missing}",  # named, never uploaded
                     f"/web/warnings/{wid}/images/st-b/{shas['cert']}",  # another station's
                     f"/web/warnings/{wid}/images/st-a/..%2f..%2fetc"):
            assert client.get(path).status_code == 404, path
    store.close()
