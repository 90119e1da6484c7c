"""The pure parts of the sync protocol: framing, schemas, topic parsing, backoff, config files."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from app.config import ConfigError, StationConfig, load_config
from central.config import CentralConfig, load_central_config
from contract import protocol, schemas
from core.backoff import full_jitter

ROOT = Path(__file__).resolve().parent.parent


def _event_text(seq: int, size: int) -> str:
    return json.dumps({"seq": seq, "pad": "x" * size}, separators=(",", ":"))


@given(sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=60),
       max_events=st.integers(1, 20), max_bytes=st.integers(1024, 20000))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_batches_respect_count_and_bytes_and_keep_every_event_in_order(
        sizes: list[int], max_events: int, max_bytes: int) -> None:
    rows = [(i + 1, _event_text(i + 1, n)) for i, n in enumerate(sizes)]
    batches = list(protocol.frame_batches(rows, "st-aaa", "2026-11-28T06:00:00.000Z",
                                          max_events=max_events, max_bytes=max_bytes))
    seen: list[int] = []
    for b in batches:
        doc = json.loads(b.payload)
        assert schemas.errors("batch.v1", doc) == []
        seqs = [e["seq"] for e in doc["events"]]
        assert seqs == list(range(b.first_seq, b.last_seq + 1))
        assert doc["batch_id"] == b.batch_id and len(seqs) <= max_events
        assert len(b.payload) <= max_bytes or len(seqs) == 1  # only a lone big event may exceed
        seen += seqs
    assert seen == list(range(1, len(sizes) + 1))


def test_batch_embeds_the_stored_text_verbatim() -> None:
    text = '{"body":{"name":"上海青"},"seq":1}'
    b = next(protocol.frame_batches([(1, text)], "st-aaa", "2026-11-28T06:00:00.000Z",
                                    max_events=10, max_bytes=10000))
    assert text.encode() in b.payload


@given(st.binary(max_size=300))
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_parse_json_refuses_garbage_cleanly(payload: bytes) -> None:
    for name in ("ack.v1", "command.v1", "batch.v1", "status.v1"):
        try:
            doc = protocol.parse_json(payload, name)
        except protocol.BadMessage:
            continue
        assert isinstance(doc, dict)


@given(st.dictionaries(st.sampled_from(["schema", "batch_id", "status", "stored_through_seq",
                                        "expected_seq", "error", "x"]),
                       st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=5),
                                 st.sampled_from(["stored", "gap", "rejected", protocol.ACK_SCHEMA]))))
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_ack_parser_accepts_only_valid_acks(doc: dict[str, Any]) -> None:
    try:
        ack = protocol.parse_json(json.dumps(doc).encode(), "ack.v1")
    except protocol.BadMessage:
        return
    assert ack["status"] in protocol.ACK_STATUSES and ack["stored_through_seq"] >= 0


def test_made_acks_and_commands_validate() -> None:
    for status in protocol.ACK_STATUSES:
        ack = protocol.make_ack("b-1", status, 41, "why" if status == "rejected" else None)
        assert schemas.errors("ack.v1", ack) == [] and ack["expected_seq"] == 42
    assert schemas.errors("ack.v1", protocol.make_ack("b-1", "rejected", 0)) != []  # needs error
    assert schemas.errors("command.v1", {"schema": protocol.COMMAND_SCHEMA, "command_id": "1",
                                         "command": "resend_from"}) != []  # needs seq
    will = {"schema": protocol.STATUS_SCHEMA, "station_id": "st-aaa", "online": False}
    assert schemas.errors("status.v1", will) == []


def test_topics() -> None:
    assert protocol.topic("st-aaa", "events") == "acceptance/v1/st-aaa/events"
    assert protocol.station_of("acceptance/v1/st-aaa/acks") == "st-aaa"
    assert protocol.station_of("acceptance/v2/st-aaa/acks") is None
    assert protocol.station_of("acceptance/v1/st-aaa") is None


def test_full_jitter_is_bounded_and_spread() -> None:
    rng = random.Random(7)
    for attempt in range(12):
        cap = min(30.0, 0.5 * 2 ** attempt)
        draws = [full_jitter(attempt, 0.5, 30.0, rng) for _ in range(500)]
        assert all(0 <= d <= cap for d in draws)
        assert max(draws) - min(draws) > cap * 0.8  # spread over the whole window, not one step
    assert full_jitter(10_000, 1.0, 5.0, rng) <= 5.0


def _leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _leaf_keys(ann, prefix + name + ".")
        else:
            assert field.description, f"{prefix}{name} has no description"
            out.append(name)
    return out


@pytest.mark.parametrize("model, path, section", [
    (StationConfig, "config/station.example.toml", "uplink"),
    (CentralConfig, "config/central.example.toml", None),
])
def test_example_files_show_every_option(model: type[BaseModel], path: str, section: str | None) -> None:
    text = (ROOT / path).read_text()
    sub = model.model_fields[section].annotation if section else model
    assert isinstance(sub, type) and issubclass(sub, BaseModel)
    for key in _leaf_keys(sub):
        assert re.search(rf"^#? ?{key} =", text, re.M), f"{key} missing from {path}"


def test_example_configs_load_and_bad_keys_are_named(tmp_path: Path) -> None:
    assert load_config(ROOT / "config/station.example.toml").uplink.max_in_flight == 4
    assert load_central_config(ROOT / "config/central.example.toml").ingest.workers == 2
    bad = tmp_path / "c.toml"
    bad.write_text('[store]\ndsn = "mysql://x"\n[ingest]\nworkerz = 3\n')
    with pytest.raises(ConfigError, match=r"ingest\.workerz: unknown key"):
        load_central_config(bad)
    bad.write_text('[store]\ndsn = "mysql://x"\n')
    with pytest.raises(ConfigError, match="sqlite:///"):
        load_central_config(bad)
