"""The staged rollout's decisions, as pure functions (docs/deployment.md, "Staged rollout").

A rollout names one release version. It starts at the ``canary`` stage, where only
the stations of the ``canary`` group are offered the version; once every canary
runs it, the stage becomes ``all`` and every station is offered it. It halts by
itself when the share of canaries whose update failed (rolled back, or failed with
no release to go back to) passes ``max_failure_rate``; a halted rollout offers its
version to nobody more, until an admin resumes it (straight to ``all``: the admin
accepts the canaries' failures). Stations report their version and each update's outcome;
a refusal (outside the window, a delivery open) is neither a success nor a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

CANARY = "canary"
FAILED_RESULTS = frozenset({"rolled_back", "failed"})
RESULTS = frozenset({"applied", "rolled_back", "failed", "refused"})
STATES = ("active", "halted", "superseded")


@dataclass(frozen=True)
class Rollout:
    rollout_id: int
    version: str
    stage: str  # canary | all
    state: str  # active | halted | superseded
    max_failure_rate: float
    reason: str = ""


@dataclass(frozen=True)
class StationReport:
    """What central last heard from a station: its running version and its last update."""

    version: str | None
    target: str | None = None
    result: str | None = None


def offered(rollout: Rollout | None, group: str | None) -> bool:
    """Whether a station of ``group`` is offered the rollout's version now."""
    if rollout is None or rollout.state != "active":
        return False
    return rollout.stage == "all" or group == CANARY


def canary_counts(rollout: Rollout, canaries: list[str],
                  reports: Mapping[str, StationReport]) -> tuple[int, int]:
    """(canaries running the version, canaries whose update to it failed)."""
    done = failed = 0
    for station in canaries:
        r = reports.get(station)
        if r is None:
            continue
        if r.version == rollout.version:
            done += 1
        elif r.target == rollout.version and r.result in FAILED_RESULTS:
            failed += 1
    return done, failed


def evaluate(rollout: Rollout, canaries: list[str], reports: Mapping[str, StationReport]) -> Rollout:
    """The rollout after the latest reports: halted, promoted to ``all``, or as it was."""
    if rollout.state != "active" or rollout.stage != CANARY:
        return rollout
    if not canaries:
        return replace(rollout, stage="all", reason="no canary group: every station at once")
    done, failed = canary_counts(rollout, canaries, reports)
    rate = failed / len(canaries)
    if rate > rollout.max_failure_rate:
        return replace(rollout, state="halted",
                       reason=f"{failed} of {len(canaries)} canaries failed to update to {rollout.version} "
                              f"(rate {rate:.2f} > {rollout.max_failure_rate:.2f})")
    if done + failed == len(canaries) and done > 0:
        return replace(rollout, stage="all",
                       reason=f"{done} of {len(canaries)} canaries run {rollout.version}")
    return rollout
