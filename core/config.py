"""The base of every config model, apart so subsystem sections can import it.

``app.config`` composes the sections that subsystems (e.g. ``sync.config``)
declare next to their code; those import ``Section`` from here, which keeps the
import graph acyclic.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

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


def parse_toml(text: str, model: type[M], source: str = "<config>") -> M:
    """Parse TOML text into ``model``, naming the path of every bad or unknown key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_problem(exc, source) from exc


def load_toml(path: Path, model: type[M]) -> M:
    """Read and validate a TOML config file into ``model``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_toml(text, model, str(path))
