"""Config: typed, unknown keys refused by path, every option described and shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from app.config import ConfigError, StationConfig, load_config, parse_config
from tests.cli_inproc import run_cli
from tests.conftest import ROOT

EXAMPLE = ROOT / "config" / "station.example.toml"
MINIMAL = '[station]\nstation_id = "hz-xh-zjg-01"\nschool_id = "hz-xh-zjg"\n'


def _leaf_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        sub = next((a for a in getattr(ann, "__args__", (ann,))
                    if isinstance(a, type) and issubclass(a, BaseModel)), None)
        out.append((prefix + name, field.description))
        if sub is not None:
            out.extend(_leaf_fields(sub, prefix + name + "."))
    return out


def test_every_option_has_a_description() -> None:
    missing = [name for name, desc in _leaf_fields(StationConfig) if not desc]
    assert not missing, f"options without a description: {missing}"


def test_example_shows_every_option_and_loads() -> None:
    text = EXAMPLE.read_text()
    load_config(EXAMPLE)
    for name, _ in _leaf_fields(StationConfig):
        *section, key = name.split(".")
        if not section:  # a top-level section: its [header] must be there
            assert re.search(rf"^#? ?\[{key}(\.|\])", text, re.M), f"section [{key}] not in example"
            continue
        as_key = rf"^#?\s*{re.escape(key)}\s*="
        as_table = rf"^#?\s*\[\[?{re.escape(name)}\]\]?"
        assert re.search(as_key, text, re.M) or re.search(as_table, text, re.M), \
            f"option {name} is not shown in {EXAMPLE.name}"


def test_unknown_key_named_with_path() -> None:
    with pytest.raises(ConfigError, match=r"matching\.near_expiry_dayz: unknown key"):
        parse_config(MINIMAL + "[matching]\nnear_expiry_dayz = 3\n")
    with pytest.raises(ConfigError, match=r"bogus: unknown key"):
        parse_config(MINIMAL + "bogus = 1\n")


def test_bad_values_named() -> None:
    with pytest.raises(ConfigError, match=r"station\.station_id"):
        parse_config('[station]\nstation_id = "Bad Id"\nschool_id = "abc"\n')
    with pytest.raises(ConfigError, match=r"matching\.min_inspectors"):
        parse_config(MINIMAL + "[matching]\nmin_inspectors = 0\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[station\n")


def test_defaults() -> None:
    cfg = parse_config(MINIMAL)
    assert cfg.matching.min_inspectors == 2 and cfg.station.timezone == "Asia/Shanghai"


def test_config_check_cli(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL + "[orders]\napi = 'x'\n")
    r = run_cli("config", "check", str(bad))
    assert r.returncode == 2 and "orders.api: unknown key" in r.stderr
    r = run_cli("config", "check", str(EXAMPLE))
    assert r.returncode == 0
