"""One backoff helper for every reconnect and retry loop (serial links, scanners, camera, MQTT, uploads).

Exponential steps from ``min_s`` doubling to ``max_s``; with ``jitter`` each delay
is drawn uniformly from [0, step] (AWS "full jitter"), which spreads a fleet's
reconnects over the window instead of synchronising them, for clients of a
shared server (the broker, central). Local devices need no jitter.
"""

from __future__ import annotations

import random


def exp_delay(attempt: int, min_s: float, max_s: float) -> float:
    """The delay before retry number ``attempt`` (0-based): min_s * 2**attempt, capped (pure)."""
    return float(min(max_s, min_s * (2 ** min(max(attempt, 0), 60))))


def full_jitter(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Uniform in [0, min(cap, base * 2**attempt)]."""
    return (rng or random).uniform(0.0, exp_delay(attempt, base_s, cap_s))


class Backoff:
    """The state of one retry loop: ``next()`` gives the next wait, ``reset()`` after a success."""

    def __init__(self, min_s: float, max_s: float, *, jitter: bool = False,
                 rng: random.Random | None = None) -> None:
        self.min_s, self.max_s, self.jitter = min_s, max_s, jitter
        self.rng = rng or random.Random()
        self.attempt = 0

    def next(self) -> float:
        """The wait before the next try; each call doubles the step up to the cap."""
        delay = (full_jitter(self.attempt, self.min_s, self.max_s, self.rng) if self.jitter
                 else exp_delay(self.attempt, self.min_s, self.max_s))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
