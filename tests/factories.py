"""The one station-config factory of the test suite.

Tests describe only what they change: ``station_toml(tmp, scale={"simulate": True})``
gives a complete config whose data and key live under ``tmp``. Values are written
as TOML (strings quoted, booleans lower-case, nested dicts as sub-tables).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.config import StationConfig, parse_config


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def toml_table(name: str, values: dict[str, Any]) -> list[str]:
    """``[name]`` and its values as TOML lines, nested dicts as sub-tables after them."""
    lines = [f"[{name}]"]
    subs = []
    for k, v in values.items():
        if isinstance(v, dict):
            subs.append((f"{name}.{k}", v))
        else:
            lines.append(f"{k} = {_value(v)}")
    for sub_name, sub in subs:
        lines += toml_table(sub_name, sub)
    return lines


def station_toml(tmp: Path, station_id: str = "test-station-01", *, school_id: str = "test-school",
                 **sections: dict[str, Any]) -> str:
    """A whole station config: identity and paths under ``tmp``, plus the given sections."""
    station = {"station_id": station_id, "school_id": school_id, "data_dir": str(tmp / "data"),
               "key_path": str(tmp / "station.key"), **sections.pop("station", {})}
    lines = toml_table("station", station)
    for name, values in sections.items():
        lines += toml_table(name, values)
    return "\n".join(lines) + "\n"


def write_station_config(tmp: Path, station_id: str = "test-station-01", *, name: str = "station.toml",
                         **sections: Any) -> Path:  # sections, and school_id passed through
    path = tmp / name
    path.write_text(station_toml(tmp, station_id, **sections), encoding="utf-8")
    return path


def station_config(tmp: Path, station_id: str = "test-station-01",
                   **sections: Any) -> StationConfig:
    return parse_config(station_toml(tmp, station_id, **sections))
