"""Explanation deadlines in working days: weekends and configured holidays are skipped (pure)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta, tzinfo


def is_working_day(day: date, holidays: Collection[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: date, n: int, holidays: Collection[date]) -> date:
    """The ``n``-th working day after ``start`` (``start`` itself never counts)."""
    day = start
    left = n
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            left -= 1
    return day


def deadline(created: datetime, n: int, holidays: Collection[date], tz: tzinfo) -> datetime:
    """When a warning created at ``created`` becomes overdue: the end (local midnight) of the
    ``n``-th working day after its local creation day."""
    last = add_working_days(created.astimezone(tz).date(), n, holidays)
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
