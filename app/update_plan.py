"""The pure parts of a station update: versions, the window, the health verdict, the steps.

No I/O here: ``app.updater`` gathers the facts and carries out what these decide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time

WINDOW_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")


def version_key(version: str) -> tuple[tuple[int, ...], int, str]:
    """Order release versions: numeric parts, then a final release above its pre-releases.

    ``1.10.0 > 1.9.2``, ``1.4.0 > 1.4.0rc1``.
    """
    m = re.match(r"^([0-9]+(?:\.[0-9]+)*)(.*)$", version)
    if m is None:
        raise ValueError(f"{version!r} is not a release version")
    nums = tuple(int(p) for p in m.group(1).split("."))
    nums = nums + (0,) * (4 - len(nums))
    suffix = m.group(2).lstrip(".-")
    return nums, (0 if suffix else 1), suffix


def parse_window(text: str) -> tuple[time, time]:
    """``"02:00-05:00"`` (local time); the end may be past midnight (``"23:00-04:00"``)."""
    m = WINDOW_RE.match(text)
    if m is None:
        raise ValueError(f"maintenance window {text!r} is not HH:MM-HH:MM")
    a, b, c, d = (int(g) for g in m.groups())
    if (a, b) == (c, d):
        raise ValueError(f"maintenance window {text!r} is empty")
    return time(a, b), time(c, d)


def in_window(now: time, window: tuple[time, time]) -> bool:
    start, end = window
    if start < end:
        return start <= now < end
    return now >= start or now < end


@dataclass(frozen=True)
class Preflight:
    """The facts an update may start on."""

    current: str | None
    target: str
    in_window: bool
    delivery_open: bool | None  # None: the workflow state could not be read
    force: bool = False


def refusal(p: Preflight) -> str | None:
    """Why the update must not start now, or None. ``force`` skips window and delivery checks
    (a technician on site), never the version check."""
    if p.current == p.target:
        return f"version {p.target} is already current"
    if p.current is not None and version_key(p.target) < version_key(p.current):
        return f"version {p.target} is older than the current {p.current} (no downgrade)"
    if p.force:
        return None
    if not p.in_window:
        return "outside the maintenance window"
    if p.delivery_open is None:
        return "cannot read the workflow state (neither the kiosk API nor the journal)"
    if p.delivery_open:
        return "a delivery is open"
    return None


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    failures: tuple[str, ...]


def health_verdict(checks: Mapping[str, str | None]) -> Verdict:
    """Each check maps to None (passed) or what failed; healthy only when every check ran and passed."""
    failures = tuple(f"{name}: {problem}" for name, problem in sorted(checks.items())
                     if problem is not None)
    return Verdict(healthy=bool(checks) and not failures, failures=failures)


def should_roll_back(verdict: Verdict, elapsed_s: float, deadline_s: float) -> bool | None:
    """True: roll back now; False: healthy, keep; None: not yet healthy, check again."""
    if verdict.healthy:
        return False
    return True if elapsed_s >= deadline_s else None


def releases_to_prune(installed: list[str], keep: set[str]) -> list[str]:
    """After an update applied: every release but the new one and the one before it (A/B)."""
    return sorted(v for v in installed if v not in keep and not v.startswith("."))


# The steps of one update, in the order they happen; a step may only follow one listed here.
NEXT: dict[str, frozenset[str]] = {
    "idle": frozenset({"started", "refused"}),
    "started": frozenset({"installed", "refused", "failed"}),
    "installed": frozenset({"switched", "failed"}),
    "switched": frozenset({"applied", "rolled_back", "failed"}),
    "applied": frozenset({"started", "refused"}),
    "rolled_back": frozenset({"started", "refused"}),
    "refused": frozenset({"started", "refused"}),
    "failed": frozenset({"started", "refused"}),
}


def advance(state: str, step: str) -> str:
    """The state after ``step``; raises ValueError for a step that may not follow ``state``."""
    if step not in NEXT.get(state, frozenset()):
        raise ValueError(f"update step {step!r} may not follow {state!r}")
    return step
