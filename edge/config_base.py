"""The base of every config model, apart so subsystem sections can import it.

``edge.config`` composes the sections that subsystems (e.g. ``sync.config``)
declare next to their code; those import ``Section`` from here, which keeps the
import graph acyclic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(Exception):
    """The config file is unreadable or invalid; the message names each bad key."""
