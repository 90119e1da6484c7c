"""Small helpers shared by the vision and scanner tests."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(pred: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``pred`` until it holds or ``timeout`` passes; the final answer either way."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()
