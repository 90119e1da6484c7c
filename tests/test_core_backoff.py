"""The one backoff helper (core/backoff.py)."""

from __future__ import annotations

from core.backoff import Backoff, exp_delay


def test_backoff_doubles_to_its_cap_and_resets() -> None:
    b = Backoff(0.1, 0.5)
    assert [b.next() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    b.reset()
    assert b.next() == 0.1
    j = Backoff(1.0, 8.0, jitter=True)
    assert all(0.0 <= j.next() <= 8.0 for _ in range(50))


def test_exp_delay_is_pure_and_capped() -> None:
    assert [exp_delay(n, 2, 20) for n in range(6)] == [2, 4, 8, 16, 20, 20]
    assert exp_delay(10_000, 1, 5) == 5
