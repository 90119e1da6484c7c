"""The discipline loop's rules on the store (SQLite and PostgreSQL): explain with two stamps, review,
deadlines in working days, overdue escalation with a fake clock, every step in the log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from central.platform import discipline, documents
from central.platform.config import DisciplineSection
from central.platform.workdays import add_working_days, deadline
from central.store import Store
from tests.discipline_helpers import PDF, PNG, add_warning

TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Who:
    username: str
    role: str
    school_id: str | None


LEADER = Who("leader", "school_leader", "school-a")
COMMITTEE = Who("committee", "discipline_committee", "school-a")
OTHER, BUREAU = Who("leader-b", "school_leader", "school-b"), Who("bureau", "city_bureau", None)


@pytest.fixture
def store(dsn: str) -> Iterator[Store]:
    s = Store(dsn)
    discipline.ensure_tables(s)
    yield s
    s.close()


def test_working_days_skip_weekends_and_holidays() -> None:
    fri = date(2026, 11, 27)
    assert add_working_days(fri, 3, []) == date(2026, 12, 2)  # Mon, Tue, Wed
    assert add_working_days(fri, 3, [date(2026, 11, 30)]) == date(2026, 12, 3)
    assert add_working_days(date(2026, 11, 28), 1, []) == date(2026, 11, 30)  # Saturday → Monday
    # Created Friday 23:30 local: overdue from Thursday 00:00 local.
    created = datetime(2026, 11, 27, 23, 30, tzinfo=TZ).astimezone(UTC)
    assert deadline(created, 3, [], TZ) == datetime(2026, 12, 3, 0, 0, tzinfo=TZ)


def test_explain_stamp_review(store: Store) -> None:
    one, two = add_warning(store, "school-a", "k1"), add_warning(store, "school-a", "k2")
    assert discipline.step(store, DisciplineSection(), TZ) == {"opened": 2, "escalated": 0}
    assert discipline.step(store, DisciplineSection(), TZ) == {"opened": 0, "escalated": 0}
    with pytest.raises(discipline.Refused):
        discipline.attach(store, OTHER, one, "a" * 64, "application/pdf", "x.pdf")  # another school
    with pytest.raises(discipline.Refused):
        discipline.attach(store, BUREAU, one, "a" * 64, "application/pdf", "x.pdf")
    with pytest.raises(discipline.Conflict):
        discipline.review(store, BUREAU, one, "close", "")  # not explained yet
    discipline.attach(store, LEADER, one, "a" * 64, "application/pdf", "x.pdf")
    discipline.stamp(store, LEADER, one, "a" * 64)
    with pytest.raises(discipline.Conflict):
        discipline.stamp(store, COMMITTEE, one, "b" * 64)  # not the current document
    assert discipline.stamp(store, COMMITTEE, one, "a" * 64).state == "explained"
    with pytest.raises(discipline.Conflict):
        discipline.attach(store, LEADER, one, "c" * 64, "image/png", "y.png")  # explained: closed to edits
    with pytest.raises(discipline.Refused):
        discipline.review(store, LEADER, one, "close", "")
    discipline.review(store, BUREAU, one, "close", "说明属实")
    assert discipline.case(store, one).state == "closed"  # type: ignore[union-attr]
    # A new document clears an earlier stamp.
    discipline.attach(store, COMMITTEE, two, "d" * 64, "image/png", "z.png")
    discipline.stamp(store, COMMITTEE, two, "d" * 64)
    discipline.attach(store, LEADER, two, "e" * 64, "application/pdf", "w.pdf")
    c = discipline.case(store, two)
    assert c is not None and c.stamp_committee_by is None and c.state == "open"
    discipline.stamp(store, COMMITTEE, two, "e" * 64)
    discipline.stamp(store, LEADER, two, "e" * 64)
    with pytest.raises(discipline.Conflict):
        discipline.review(store, BUREAU, two, "escalate", "  ")  # escalating needs a note
    discipline.review(store, BUREAU, two, "escalate", "送纪委")
    with pytest.raises(discipline.Conflict):
        discipline.review(store, BUREAU, two, "escalate", "again")
    discipline.review(store, BUREAU, two, "close", "已处理")
    log = discipline.history(store, two)
    assert [(x["account"], x["action"], x["to"]) for x in log] == [
        ("system", "opened", "open"), ("committee", "document", "open"), ("committee", "stamp", "open"),
        ("leader", "document", "open"), ("committee", "stamp", "open"), ("leader", "stamp", "open"),
        ("leader", "explained", "explained"), ("bureau", "escalate", "escalated"),
        ("bureau", "close", "closed")]


def test_overdue_escalates_once_with_a_fake_clock(store: Store) -> None:
    cfg = DisciplineSection(deadline_working_days=3, holidays=[])
    wid = add_warning(store, "school-a", "late")
    explained = add_warning(store, "school-a", "in-time")
    created = datetime.now(UTC)
    discipline.step(store, cfg, TZ, created)
    c = discipline.case(store, wid)
    assert c is not None
    due = datetime.fromisoformat(c.deadline.replace("Z", "+00:00"))
    assert due == deadline(created, 3, [], TZ)
    discipline.attach(store, LEADER, explained, "a" * 64, "application/pdf", "x.pdf")
    discipline.stamp(store, LEADER, explained, "a" * 64)
    discipline.stamp(store, COMMITTEE, explained, "a" * 64)
    just_before = due - timedelta(milliseconds=1)
    assert discipline.step(store, cfg, TZ, just_before) == {"opened": 0, "escalated": 0}
    assert discipline.step(store, cfg, TZ, due) == {"opened": 0, "escalated": 1}
    assert discipline.step(store, cfg, TZ, due + timedelta(days=9)) == {"opened": 0, "escalated": 0}
    late = discipline.case(store, wid)
    assert late is not None and late.state == "escalated" and "逾期" in (late.review_note or "")
    assert discipline.case(store, explained).state == "explained"  # type: ignore[union-attr]
    assert [(x["account"], x["action"]) for x in discipline.history(store, wid)] == [
        ("system", "opened"), ("system", "overdue")]
    with pytest.raises(discipline.Conflict):
        discipline.attach(store, LEADER, wid, "b" * 64, "application/pdf", "late.pdf")


def test_documents_are_checked_and_content_addressed(tmp_path: Path) -> None:
    sha, kind = documents.save(tmp_path, PDF, 1024)
    assert kind == "application/pdf" and documents.path_of(tmp_path, sha) is not None
    assert documents.save(tmp_path, PNG, 1024)[1] == "image/png"
    for bad, why in ((b"", "为空"), (b"<html>", "PDF"), (PDF + bytes(2000), "上限")):
        with pytest.raises(documents.DocumentError, match=why):
            documents.save(tmp_path, bad, 1024)
    assert sorted(p.name for p in (tmp_path / "objects").iterdir()) == sorted(
        [sha, documents.save(tmp_path, PNG, 1024)[0]])
    assert documents.path_of(tmp_path, "../../etc/passwd") is None
