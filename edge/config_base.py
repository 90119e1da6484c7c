"""The base of every config model, apart so subsystem sections can import it.

``edge.config`` composes the sections that subsystems (e.g. ``sync.config``)
declare next to their code; those import ``Section`` from here, which keeps the
import graph acyclic.
"""

from __future__ import annotations

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
