"""Verify a station database's journal end to end (the ``verify`` command)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contract.chain import ChainProblem, verify_chain
from edge.journal import stored_rows


@dataclass(frozen=True)
class VerifyResult:
    count: int
    last_seq: int
    first_problem: ChainProblem | None


def _events_checked_against_rows(
    db: sqlite3.Connection, problems: list[ChainProblem], counter: list[int]
) -> Iterator[dict[str, Any]]:
    for seq, event in stored_rows(db):
        counter[0] += 1
        if isinstance(event, str):
            problems.append(ChainProblem(seq, event))
            yield {"seq": seq}
            continue
        if event.get("seq") != seq:
            problems.append(ChainProblem(
                seq, f"row holds the event of seq {event.get('seq')} (rows moved or swapped)"
            ))
        yield event


def verify_db(db: sqlite3.Connection, public_key: Ed25519PublicKey) -> VerifyResult:
    """Check every event; return the count and the first problem (by seq), if any.

    Everything is read in one read transaction, so on a live journal the count
    and the last seq describe the same snapshot (no "673 events, seq 1..678").
    """
    row_problems: list[ChainProblem] = []
    counter = [0]
    db.execute("BEGIN")  # deferred: the snapshot is taken at the first read below
    try:
        last = db.execute("SELECT max(seq) FROM events").fetchone()[0] or 0
        chain_problem = next(
            iter(verify_chain(_events_checked_against_rows(db, row_problems, counter), public_key)),
            None,
        )
    finally:
        if db.in_transaction:  # a read transaction: nothing to keep
            db.execute("ROLLBACK")
    # Stopping at the first chain problem is enough: row checks run as rows are read,
    # so any row problem at a lower seq has been seen by then.
    candidates = [p for p in (*row_problems, chain_problem) if p is not None]
    first = min(candidates, key=lambda p: p.seq) if candidates else None
    return VerifyResult(count=counter[0], last_seq=int(last), first_problem=first)
