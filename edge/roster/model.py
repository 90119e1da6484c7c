"""The roster document: who may inspect at this station, validated whole.

Central serves it (``acceptance.roster/1``); a document with a schema error,
a duplicate id or badge, or a PIN hash this station cannot check is refused
whole, and the last good copy stays in use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from contract import schemas
from edge.roster.pin import PinHashError, check_hash


class RosterRefused(ValueError):
    """The roster document is invalid; the message says where and why."""


@dataclass(frozen=True)
class Inspector:
    inspector_id: str
    name: str
    role: str
    badge_uid: str | None = None
    pin_hash: str | None = field(default=None, repr=False)  # never shown, never logged


@dataclass(frozen=True)
class Roster:
    sha256: str
    inspectors: tuple[Inspector, ...]

    @cached_property
    def by_id(self) -> dict[str, Inspector]:
        return {i.inspector_id: i for i in self.inspectors}

    @cached_property
    def by_badge(self) -> dict[str, Inspector]:
        return {i.badge_uid: i for i in self.inspectors if i.badge_uid}


def validate_roster(doc: Any, *, station_id: str) -> dict[str, Any]:
    """``doc`` if it is a valid roster for ``station_id``, else RosterRefused."""
    errs = schemas.errors("roster.v1", doc)
    if errs:
        raise RosterRefused("; ".join(errs))
    if doc["station_id"] != station_id:
        raise RosterRefused(f"$.station_id: roster is for {doc['station_id']}, not {station_id}")
    problems: list[str] = []
    ids: set[str] = set()
    badges: set[str] = set()
    for n, ins in enumerate(doc["inspectors"]):
        where = f"$.inspectors[{n}]"
        if ins["inspector_id"] in ids:
            problems.append(f"{where}.inspector_id: duplicate {ins['inspector_id']}")
        ids.add(ins["inspector_id"])
        if ins["badge_uid"] is not None:
            if ins["badge_uid"] in badges:
                problems.append(f"{where}.badge_uid: used twice")
            badges.add(ins["badge_uid"])
        if ins["pin_hash"] is not None:
            try:
                check_hash(ins["pin_hash"])
            except PinHashError as exc:
                problems.append(f"{where}.pin_hash: {exc}")
        if ins["badge_uid"] is None and ins["pin_hash"] is None:
            problems.append(f"{where}: neither a badge nor a PIN: cannot sign in")
    if problems:
        raise RosterRefused("; ".join(problems[:5]))
    return dict(doc)


def roster_from_doc(doc: dict[str, Any], sha256: str) -> Roster:
    return Roster(sha256, tuple(Inspector(i["inspector_id"], i["name"], i["role"], i["badge_uid"],
                                          i["pin_hash"]) for i in doc["inspectors"]))
