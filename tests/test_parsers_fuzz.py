"""Every parser of outside input, fuzzed: a result or the module's own error, nothing else.

Orders, observations (``decide``), delivery notes, codes (at ``parse_code``, so a
new GS1 parser behind it is covered too), station config, strict JSON; the scale
protocols are fuzzed in test_scale_parsing_props.py and test_scale_integrity.py.
On the command line the module's error is exit 2 with a message: deep nesting,
lone surrogates, huge numbers and long strings included (they gave a
RecursionError traceback in ``orders import``, ``decide`` and ``config check``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import subprocess
import time
from contextlib import redirect_stderr, redirect_stdout
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.cli import main
from app.config import ConfigError, StationConfig, parse_config
from core import jsonsafe
from edge.codes.delivery_note import parse_delivery_note
from edge.codes.parse import CodesSection, ParseError, parse_code
from edge.matching.rules import decide
from edge.matching.types import Policy
from edge.orders.model import (
    ObservationInvalid,
    OrdersRefused,
    observation_from_json,
    orders_from_doc,
    validate_orders,
)
from testbed.demo_data import demo_orders
from tests.conftest import CLI, ROOT
from tests.factories import write_station_config
from tests.test_core_cli import DAY, OBS

# CI runs 150 examples a test (seconds); FUZZ_EXAMPLES=5000 searches deeper.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ANY_CHAR = st.characters(codec=None, categories=None)  # lone surrogates included
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70)
           | st.floats() | st.text(ANY_CHAR, max_size=20)
           | st.sampled_from(["", "2026-02-30", "not-a-date", "25:00", "-1", "1e309", "x" * 300]))
JSON = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)
DOC = demo_orders("test-station-01", DAY)
NOTE = {"dn": "DN-1", "order_id": "PO-20261128-0012", "supplier_id": "sup-0031",
        "lines": [{"line_id": "1", "qty": "15", "unit": "kg", "unit_price_fen": 350,
                   "batch": "B1", "production_date": "2026-11-27", "expiry_date": "2026-12-03"}]}


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*at, i))
    return out


TRICKY = st.sampled_from(["", " ", "0", "-0", "0.0", "-1", "1e3", "2026-02-30", "2026-13-01",
                          "not-a-date", "24:00", "25:00", "23:59", "00:00", "x" * 300,
                          "kg", "piece", "jin", "chilled", "frozen", "\u0000", "\ud800"])


def _near(value: Any) -> st.SearchStrategy[Any]:
    """A value like this one (same type, edge cases): mutations that often stay schema-valid."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-10**12, 10**12) | st.sampled_from([0, -1, 2**53, 2**63, 10**30])
    if isinstance(value, str):
        return TRICKY | st.text(max_size=10) | st.just(value * 2)
    if isinstance(value, list):
        return st.just(value * 2) | st.just([]) | st.just(value[:1])
    return JSON


def mutated(doc: Any, data: st.DataObject, times: int = 2) -> Any:
    """The document with a value or two replaced (by a near value or anything) or dropped."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, times))):
        path = data.draw(st.sampled_from(_paths(doc)))
        if not path:
            return data.draw(JSON)
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        how = data.draw(st.sampled_from(["near", "near", "any", "drop"]))
        if how == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            old = parent[path[-1]]
            parent[path[-1]] = data.draw(_near(old) if how == "near" else JSON)
    return doc


@FUZZ
@given(data=st.data())
def test_orders_give_orders_or_orders_refused(data: st.DataObject) -> None:
    doc = mutated(DOC, data, times=1) if data.draw(st.booleans()) else data.draw(JSON)
    try:
        valid = validate_orders(doc, station_id="test-station-01")
    except OrdersRefused:
        event("refused")
        return
    event("valid")
    assert isinstance(orders_from_doc(valid), dict)  # a valid document always converts


@FUZZ
@given(data=st.data())
def test_observations_give_a_decision_or_observation_invalid(data: st.DataObject) -> None:
    orders = orders_from_doc(DOC)
    obs_doc = mutated(OBS | {"batch": "B1", "temperature_c": "4.5", "pieces": 3}, data)
    try:
        obs = observation_from_json(obs_doc)
    except ObservationInvalid:
        event("refused")
        return
    event("valid")
    for policy in (Policy(), Policy(today=date(2026, 11, 28))):
        if obs.at is not None or policy.today is not None:
            assert decide(orders.get(obs.order_id), obs, policy).outcome in ("accepted", "rejected")


@FUZZ
@given(data=st.data())
def test_delivery_notes_give_a_note_or_parse_error(data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        text = "ADN1:" + json.dumps(mutated(NOTE, data), ensure_ascii=data.draw(st.booleans()))
    else:
        text = "ADN1:" + data.draw(st.text(ANY_CHAR, max_size=200))
    with contextlib.suppress(ParseError):
        note = parse_delivery_note(text)
        event("valid")
        json.dumps(note.note, allow_nan=False).encode("utf-8")  # journal-able as it is


BADGES = CodesSection(badge_pattern=r"^STAFF-(?P<id>[0-9A-Z]{4,16})$")


@FUZZ
@given(text=st.one_of(st.text(ANY_CHAR, max_size=300), st.text(ANY_CHAR, min_size=8000,
                                                                max_size=9000),
                      st.from_regex(r"\A(\]d2|\]C1|\(01\)|https://id\.gs1\.org/01/|ADN1:|STAFF-)"
                                    r"[0-9A-Z()\x1d/?=&.-]{0,60}\Z")))
def test_any_code_text_gives_a_result_or_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_code(text, BADGES, today=date(2026, 11, 28)).as_dict()


def test_a_catastrophic_badge_pattern_cannot_hang_parsing() -> None:
    """Config refuses it; were it set anyway, RE2 matches it in linear time."""
    with pytest.raises(ValueError, match="backtracks catastrophically"):
        CodesSection(badge_pattern=r"^(a+)+$")
    cfg = CodesSection.model_construct(badge_pattern=r"^(a+)+$",
                                       weight_label=BADGES.weight_label, repeat_window_s=3.0)
    start = time.monotonic()
    assert parse_code("a" * 5000 + "!", cfg).kind == "plain"
    assert time.monotonic() - start < 1.0


EXAMPLE = (ROOT / "config" / "station.example.toml").read_text(encoding="utf-8")
LINES = [i for i, ln in enumerate(EXAMPLE.splitlines()) if " = " in ln and not ln.startswith("#")]
TOML_VALUES = st.one_of(
    st.integers(-2**70, 2**70).map(str), st.floats().map(repr),
    st.sampled_from(["nan", "inf", "-inf", "true", "[]", "{}", "''", '"^(a+)+$"', '"(a)\\\\1"',
                     "[" * 300 + "]" * 300, "{a=" * 50 + "1" + "}" * 50, '"Mars/Olympus"',
                     '"\\ud800"', '"' + "x" * 5000 + '"']),
    st.text(ANY_CHAR, max_size=30).map(json.dumps))


@FUZZ
@given(data=st.data())
def test_config_gives_a_config_or_config_error(data: st.DataObject) -> None:
    lines = EXAMPLE.splitlines()
    if data.draw(st.booleans()):
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.sampled_from(LINES))
            key = lines[i].split(" = ")[0]
            lines[i] = f"{key} = {data.draw(TOML_VALUES)}"
        text = "\n".join(lines)
    else:
        text = data.draw(st.text(ANY_CHAR, max_size=300))
    with contextlib.suppress(ConfigError):
        assert isinstance(parse_config(text), StationConfig)
        event("valid")


@FUZZ
@given(text=st.one_of(st.text(ANY_CHAR, max_size=200), st.binary(max_size=200),
                      JSON.map(lambda v: json.dumps(v))))
def test_strict_json_gives_a_value_or_json_refused(text: str | bytes) -> None:
    with contextlib.suppress(jsonsafe.JSONRefused):
        v = jsonsafe.loads(text)
        json.dumps(v, allow_nan=False).encode("utf-8")


HOSTILE_JSON = [
    ("deep nesting", "[" * 100000 + "]" * 100000, "nested deeper"),
    ("lone surrogate", '{"order_id": "\\ud800"}', "surrogate"),
    ("huge number", '{"net_g": 1e309}', "out of range"),
    ("huge integer", '{"net_g": 123456789012345678901234567890}', "out of range"),
    ("NaN", '{"net_g": NaN}', "NaN"),
    ("long string", json.dumps({"order_id": "P" * (2 << 20)}), "longer than"),
]


def _cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


@pytest.mark.parametrize("why,text,needle", HOSTILE_JSON, ids=[h[0] for h in HOSTILE_JSON])
def test_decide_and_orders_import_refuse_hostile_json_with_exit_2(tmp_path: Path, why: str,
                                                                  text: str, needle: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text, encoding="utf-8")
    good = tmp_path / "orders.json"
    good.write_text(json.dumps(DOC, ensure_ascii=False), encoding="utf-8")
    obs = tmp_path / "obs.json"
    obs.write_text(json.dumps(OBS), encoding="utf-8")
    cfg = write_station_config(tmp_path)
    for argv in (["decide", "--orders", str(bad), "--observation", str(obs)],
                 ["decide", "--orders", str(good), "--observation", str(bad)],
                 ["orders", "import", str(bad), "--config", str(cfg)]):
        code, err = _cli(argv)
        assert code == 2 and needle in err, (argv, err[-300:])
    assert not (tmp_path / "data").exists(), "nothing was changed"


HOSTILE_TOML = [
    ("deep nesting", 'x = ' + "[" * 100000 + "]" * 100000, "nested deeper"),
    ("deep tables", "x = " + "{a=" * 2000 + "1" + "}" * 2000, "nested deeper"),
    ("huge integer", "[web]\nport = 123456789012345678901234567890", "out of range"),
    ("nan", "[orders]\ntimeout_s = nan", "out of range"),
    ("inf", "[orders]\ntimeout_s = inf", "out of range"),
    ("long string", f'[station]\nstation_id = "{"s" * (2 << 20)}"', "larger than"),
    ("catastrophic badge", '[codes]\nbadge_pattern = "^(a+)+$"', "backtracks catastrophically"),
    ("backreference badge", '[codes]\nbadge_pattern = "(a)\\\\1"', "RE2"),
    ("catastrophic thermometer", '[thermometer]\nport = "/dev/x"\npattern = "(\\\\d+)+C"',
     "backtracks catastrophically"),
    ("not UTF-8", b"[station]\nstation_id = \"\xff\xfe\"", "not UTF-8"),
]


@pytest.mark.parametrize("why,text,needle", HOSTILE_TOML, ids=[h[0] for h in HOSTILE_TOML])
def test_config_check_refuses_hostile_config_with_exit_2(tmp_path: Path, why: str,
                                                         text: str | bytes, needle: str) -> None:
    path = tmp_path / "station.toml"
    head = '[station]\nstation_id = "test-station-01"\nschool_id = "s-01"\n'
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text if text.startswith("[station]") else head + text, encoding="utf-8")
    code, err = _cli(["config", "check", str(path)])
    assert code == 2 and needle in err, err[-300:]


def test_the_real_commands_exit_2_with_a_message(tmp_path: Path) -> None:
    """The same probes through the installed command (a subprocess, as a technician runs it)."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    cfg = write_station_config(tmp_path, codes={"badge_pattern": "^(a+)+$"})
    for argv in (["decide", "--orders", str(deep), "--observation", str(deep)],
                 ["orders", "import", str(deep), "--config", str(cfg)],
                 ["config", "check", str(cfg)],
                 ["barcode", "parse", "--config", str(cfg), "a" * 40 + "!"]):
        r = subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (argv, r.stderr[-500:])
        assert "Traceback" not in r.stderr and "error:" in r.stderr, r.stderr[-500:]
