"""The base of every config section, in a module of its own.

``edge.config`` composes the sections of all subsystems into ``StationConfig``
and re-exports :class:`Section`; subsystem config modules import ``Section``
from here so that importing one of them first never meets a half-initialised
``edge.config`` (an import cycle).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
