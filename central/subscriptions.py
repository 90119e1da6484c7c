"""Which stations a central worker subscribes to: the registered ones, minus the quarantined.

Each station has its own pair of shared subscriptions
(``$share/ingest/acceptance/v1/{s}/events`` and ``/status``), so the worker can
stop a single station at the broker: while it is quarantined
(``central.limits``) nobody in the group subscribes to it and the broker
discards its messages when they arrive, instead of queueing them in front of
everyone else's. Registration (a ``.pub`` file in ``registry.keys_dir``) is
picked up within ``refresh_s``; an unregistered station is never subscribed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol

from contract import protocol

LEAVES = ("events", "status")


class Subscriber(Protocol):
    def subscribe(self, topic: list[tuple[str, int]]) -> object: ...
    def unsubscribe(self, topic: list[str]) -> object: ...


def topics_of(station: str) -> list[str]:
    return [protocol.shared_topic(station, leaf) for leaf in LEAVES]


class StationSubscriptions:
    """Keeps the client's subscriptions equal to ``registered() - quarantined()``."""

    def __init__(self, client: Subscriber, registered: Callable[[], Iterable[str]],
                 quarantined: Callable[[], set[str]], refresh_s: float = 2.0) -> None:
        self.client = client
        self.registered = registered
        self.quarantined = quarantined
        self.refresh_s = refresh_s
        self.current: set[str] = set()
        self.next_refresh = 0.0

    def reset(self) -> None:
        """After a (clean-start) reconnect the broker holds none of them."""
        self.current = set()
        self.next_refresh = 0.0

    def refresh(self, force: bool = False) -> tuple[set[str], set[str]]:
        """Subscribe the missing, unsubscribe the extra; returns (added, removed)."""
        now = time.monotonic()
        if not force and now < self.next_refresh:
            return set(), set()
        self.next_refresh = now + self.refresh_s
        wanted = set(self.registered()) - self.quarantined()
        added, removed = wanted - self.current, self.current - wanted
        topics = [t for s in sorted(added) for t in topics_of(s)]
        for i in range(0, len(topics), 200):  # a few hundred filters per SUBSCRIBE packet
            self.client.subscribe([(t, 1) for t in topics[i:i + 200]])
        gone = [t for s in sorted(removed) for t in topics_of(s)]
        for i in range(0, len(gone), 200):
            self.client.unsubscribe(gone[i:i + 200])
        self.current = wanted
        return added, removed
