"""The MQTT wire format of docs/contract.md §4 as constants and small pure functions.

Topics, batch framing (bounded by count and bytes), ack and command parsing and
the backoff schedule live here without any I/O, so the uplink, the reference
central and the tests share one definition of the protocol.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from contract import schemas

BATCH_SCHEMA = "acceptance.batch/1"
ACK_SCHEMA = "acceptance.ack/1"
STATUS_SCHEMA = "acceptance.status/1"
COMMAND_SCHEMA = "acceptance.command/1"
ACK_STATUSES = ("stored", "duplicate", "gap", "rejected")
SHARED_EVENTS = "$share/ingest/acceptance/v1/+/events"
STATUS_ALL = "acceptance/v1/+/status"


def topic(station_id: str, leaf: str) -> str:
    """``acceptance/v1/{station_id}/{leaf}``; leaf is events, acks, status or commands."""
    return f"acceptance/v1/{station_id}/{leaf}"


def shared_topic(station_id: str, leaf: str) -> str:
    """Central's shared subscription (group ``ingest``) on one station's topic."""
    return f"$share/ingest/{topic(station_id, leaf)}"


def station_of(topic_name: str) -> str | None:
    """The station id in an ``acceptance/v1/{s}/…`` topic, or None."""
    parts = topic_name.split("/")
    if len(parts) != 4 or parts[0] != "acceptance" or parts[1] != "v1":
        return None
    return parts[2]


@dataclass(frozen=True)
class Batch:
    """One framed batch ready to publish: its id, seq range and payload bytes."""

    batch_id: str
    first_seq: int
    last_seq: int
    payload: bytes


def frame_batches(rows: Iterable[tuple[int, str]], station_id: str, sent_at: str, *,
                  max_events: int, max_bytes: int) -> Iterator[Batch]:
    """Group (seq, canonical event JSON) rows into batches.

    A batch holds at most ``max_events`` events and at most ``max_bytes`` of
    payload, except that a single event larger than ``max_bytes`` travels alone
    (refusing it would stall the journal forever). The stored canonical text is
    embedded as is: no re-parsing or re-encoding of signed data.
    """
    head_len = len(_head("00000000-0000-0000-0000-000000000000", station_id, 10**12, 10**12,
                         sent_at)) + 2
    texts: list[str] = []
    first = last = 0
    size = head_len
    for seq, text in rows:
        n = len(text.encode("utf-8")) + 1
        if texts and (len(texts) >= max_events or size + n > max_bytes):
            yield _batch(texts, station_id, first, last, sent_at)
            texts, size = [], head_len
        if not texts:
            first = seq
        texts.append(text)
        last = seq
        size += n
    if texts:
        yield _batch(texts, station_id, first, last, sent_at)


def _head(batch_id: str, station_id: str, first: int, last: int, sent_at: str) -> str:
    return (f'{{"schema":"{BATCH_SCHEMA}","batch_id":"{batch_id}","station_id":"{station_id}",'
            f'"first_seq":{first},"last_seq":{last},"sent_at":"{sent_at}","events":[')


def _batch(texts: list[str], station_id: str, first: int, last: int, sent_at: str) -> Batch:
    batch_id = str(uuid.uuid4())
    payload = (_head(batch_id, station_id, first, last, sent_at) + ",".join(texts) + "]}")
    return Batch(batch_id, first, last, payload.encode("utf-8"))


def offline_status(station_id: str, session: str | None = None) -> dict[str, Any]:
    """The MQTT will (and clean exit) form of the status; ``session`` names the connection it ends."""
    doc: dict[str, Any] = {"schema": STATUS_SCHEMA, "station_id": station_id, "online": False}
    if session:
        doc["session"] = session
    return doc


def make_ack(batch_id: str, status: str, stored_through: int, error: str | None = None) -> dict[str, Any]:
    """An ``acceptance.ack/1`` document; ``expected_seq`` is always stored_through + 1."""
    return {"schema": ACK_SCHEMA, "batch_id": batch_id, "status": status,
            "stored_through_seq": stored_through, "expected_seq": stored_through + 1,
            "error": None if error is None else error[:2000]}


class BadMessage(ValueError):
    """A payload that is not valid JSON or violates its schema."""


def parse_json(payload: bytes, schema_name: str) -> dict[str, Any]:
    """Decode and validate a payload against one of the contract's schemas."""
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadMessage(f"not valid UTF-8 JSON: {exc}") from exc
    problems = schemas.errors(schema_name, doc)
    if problems:
        raise BadMessage("; ".join(problems))
    if not isinstance(doc, dict):  # the schemas all require objects; keeps mypy honest
        raise BadMessage("not an object")
    return doc


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
