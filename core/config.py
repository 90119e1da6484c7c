"""The base of every config model, apart so subsystem sections can import it.

``app.config`` composes the sections that subsystems (e.g. ``sync.config``)
declare next to their code; those import ``Section`` from here, which keeps the
import graph acyclic.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(Exception):
    """The config file is unreadable or invalid; the message names each bad key."""


def validation_problem(exc: ValidationError, source: str) -> ConfigError:
    """One ConfigError naming the dotted path of every bad or unknown key."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        problems.append(f"{where}: unknown key" if err["type"] == "extra_forbidden"
                        else f"{where}: {err['msg']}")
    return ConfigError(f"{source}: " + "; ".join(problems))


M = TypeVar("M", bound=BaseModel)


MAX_BYTES = 1 << 20  # a station config is a few kB
MAX_DEPTH = 8
MAX_INT = 2**53


def _value_problem(raw: Any) -> str | None:
    """Huge numbers, NaN/inf, deep nesting anywhere in the parsed TOML (no recursion)."""
    stack: list[tuple[str, Any, int]] = [("", raw, 0)]
    while stack:
        where, v, depth = stack.pop()
        if isinstance(v, bool):
            continue
        if isinstance(v, int) and abs(v) > MAX_INT:
            return f"{where}: number out of range (at most ±2^53)"
        if isinstance(v, float) and not (math.isfinite(v) and abs(v) <= MAX_INT):
            return f"{where}: number out of range (nan, inf and huge values are refused)"
        if isinstance(v, dict | list):
            if depth >= MAX_DEPTH:
                return f"{where or '(root)'}: nested deeper than {MAX_DEPTH} levels"
            items = v.items() if isinstance(v, dict) else enumerate(v)
            stack.extend((f"{where}.{k}" if where else str(k), x, depth + 1) for k, x in items)
    return None


def parse_toml(text: str, model: type[M], source: str = "<config>") -> M:
    """Parse TOML text into ``model``, naming the path of every bad or unknown key.

    Everything a file can hold ends as a ``ConfigError``: text that is not
    Unicode, deep nesting, numbers beyond ±2^53, NaN and infinity.
    """
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ConfigError(f"{source}: not valid Unicode text (a lone surrogate)") from None
    if size > MAX_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_BYTES} bytes")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    except RecursionError:
        raise ConfigError(f"{source}: nested deeper than {MAX_DEPTH} levels") from None
    problem = _value_problem(raw)
    if problem is not None:
        raise ConfigError(f"{source}: {problem}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_problem(exc, source) from exc


def load_toml(path: Path, model: type[M]) -> M:
    """Read and validate a TOML config file into ``model``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    return parse_toml(text, model, str(path))
