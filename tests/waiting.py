"""The one wait helper of the test suite: poll a condition until it holds or time runs out.

Tests wait on real processes, brokers, ptys and browsers, so they poll instead of
sleeping a guessed time; a timeout fails with what was awaited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(pred: Callable[[], T], timeout: float = 10.0, what: str = "the condition",
               step: float = 0.05) -> T:
    """Call ``pred`` until it returns something truthy, and return that; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)
