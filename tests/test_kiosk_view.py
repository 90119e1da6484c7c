"""What the kiosk says after a decision (advice, allowed range), what it shows of lines and
closed deliveries, and the offline voice clips it serves."""

from __future__ import annotations

import shutil
import wave
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge.journal import Journal
from edge.web.app import create_app
from edge.web.guard import Access
from edge.web.voice import PHRASES, SoundSection, VoiceClips
from edge.workflow.driver import Workflow
from edge.workflow.model import MarkPartial, SelectLine, SetPieces, SetTemperature
from tests.test_web_api import KIOSK, ORDERS
from tests.test_workflow import VEG, confirm, make, stable, start

TOFU = "PO-20261128-0015"


def _state(wf: Workflow, **kw: object) -> dict[str, object]:
    from edge.web.view import snapshot

    return snapshot(wf.state, ORDERS, {}, wf.live(), wf.max_weight_age_s, wf.policy, **kw)


def test_overweight_says_how_much_to_take_off(journal: Journal) -> None:
    wf = make(journal)
    start(wf)
    wf.handle(SelectLine("2"))  # 土豆 25 kg, +5 %
    wf.handle(stable(27000))
    confirm(wf)
    adv = _state(wf)["last"]["advice"]  # type: ignore[index]
    assert adv == {"title": "超重 0.75 公斤", "action": "请取出多余部分后重称",
                   "ranges": ["允许 24.25 公斤–26.25 公斤"], "say": "overweight"}


def test_too_warm_may_be_measured_again_once(journal: Journal) -> None:
    wf = make(journal)
    start(wf, TOFU)
    wf.handle(SelectLine("3"))  # 老豆腐 10 斤, chilled, at most 10 ℃
    wf.handle(stable(5000))
    wf.handle(SetTemperature(Decimal("12")))
    confirm(wf)
    adv = _state(wf)["last"]["advice"]  # type: ignore[index]
    assert (adv["title"], adv["action"], adv["say"]) == ("温度过高", "可复测一次", "too_warm")
    assert adv["ranges"] == ["允许 9.7 斤–10.5 斤", "温度上限 10 ℃"]
    wf.handle(stable(0))
    wf.handle(SelectLine("3"))
    wf.handle(stable(5000))
    wf.handle(SetTemperature(Decimal("11")))
    confirm(wf)  # the re-test fails again: back to the supplier
    adv = _state(wf)["last"]["advice"]  # type: ignore[index]
    assert (adv["action"], adv["say"]) == ("请退回供应商", "return")


def test_underweight_goes_back_and_accepted_says_next(journal: Journal) -> None:
    wf = make(journal)
    start(wf)
    wf.handle(SelectLine("1"))
    wf.handle(stable(9000))
    confirm(wf)
    s = _state(wf)
    assert s["last"]["advice"]["action"] == "请退回供应商"  # type: ignore[index]
    assert s["last"]["advice"]["ranges"] == ["允许 29.1 斤–31.5 斤"]  # type: ignore[index]
    wf.handle(stable(0))
    wf.handle(SelectLine("1"))
    wf.handle(stable(15000))
    confirm(wf)
    s = _state(wf)
    assert s["last"]["advice"]["title"] == "合格　已验收"  # type: ignore[index]


def test_eggs_by_the_box_show_boxes_received(journal: Journal) -> None:
    wf = make(journal)
    start(wf)
    wf.handle(SelectLine("4"))  # 鲜鸡蛋 10 boxes of 1.8 kg, weighed
    wf.handle(stable(18000))
    assert _state(wf)["placement"]["suggested_pieces"] == 10  # type: ignore[index]
    wf.handle(SetPieces(10))
    assert confirm(wf).decision.outcome == "accepted"
    eggs = _state(wf)["delivery"]["lines"][3]  # type: ignore[index]
    assert eggs["received"] == "10 箱" and eggs["band"]["text"] == "允许 0 公斤–0.15 公斤"


def test_closed_summary_counts_a_rejected_line_once(journal: Journal) -> None:
    wf = make(journal)
    start(wf)
    wf.handle(SelectLine("1"))
    wf.handle(stable(15000))
    confirm(wf)
    wf.handle(stable(0))
    wf.handle(SelectLine("2"))
    wf.handle(MarkPartial(False))
    wf.handle(stable(30000))
    confirm(wf)
    wf.handle(stable(0))
    from edge.workflow.model import CloseDelivery, Dispose

    seq = next(iter(wf.state.delivery.rejections))  # type: ignore[union-attr]
    assert wf.handle(Dispose(seq, "returned", {"method": "badge", "badge": "DRV-1"})).refused is None
    assert wf.handle(CloseDelivery()).refused is None
    s = _state(wf)
    summary = s["summary"]
    assert [a["item"] for a in summary["accepted"]] == ["上海青"]  # type: ignore[index]
    assert summary["rejected"] == [{"line_id": "2", "item": "土豆",  # type: ignore[index]
                                    "disposition": "退回供应商"}]
    assert [m["item"] for m in summary["not_delivered"]] == ["西红柿", "鲜鸡蛋"]  # type: ignore[index]
    assert [o["closed"] for o in s["orders"]][:2] == [True, False]  # type: ignore[index]
    assert s["orders"][0]["order_id"] == VEG  # type: ignore[index]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_voice_clips_are_rendered_offline_and_only_for_known_phrases(journal: Journal,
                                                                     tmp_path: Path) -> None:
    wf = make(journal)
    voice = VoiceClips(SoundSection(speed_wpm=160), tmp_path / "voice")
    app = create_app(wf, lambda: ORDERS, dict, access=Access(port=8080),
                     sound=SoundSection(volume=35), voice=voice)
    c = TestClient(app, base_url=KIOSK)
    assert c.get("/api/state").json()["sound"] == {"volume": 35, "voice": True, "phrases": PHRASES}
    r = c.get("/api/voice/overweight.wav")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    path = tmp_path / "voice" / next(p.name for p in (tmp_path / "voice").glob("overweight-*.wav"))
    with wave.open(str(path)) as w:
        assert w.getnframes() / w.getframerate() > 0.8  # a spoken sentence, not a click
    assert c.get("/api/voice/nonsense.wav").status_code == 404
    assert c.get("/api/voice/..%2Fstation.wav").status_code in (404, 422)
    assert c.get("/favicon.ico").headers["content-type"] == "image/x-icon"
    silent = create_app(wf, lambda: ORDERS, dict, access=Access(port=8080),
                        voice=VoiceClips(SoundSection(voice=False), tmp_path / "v2"))
    c2 = TestClient(silent, base_url=KIOSK)
    assert c2.get("/api/state").json()["sound"]["voice"] is False
    assert c2.get("/api/voice/accepted.wav").status_code == 404
