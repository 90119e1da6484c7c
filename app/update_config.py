"""The ``[update]`` config section: release key, maintenance window, units and health deadline."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from app.update_plan import parse_window
from core.config import Section


class UpdateSection(Section):
    release_public_key: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$",
        description="Hex Ed25519 public key of the release key, set at install time "
                    "(absent: updates are refused).")
    root: Path = Field(default=Path("/opt/acceptance-station"),
                       description="Holds releases/<version>/venv, the 'current' link and the update state.")
    window: str = Field(default="02:00-05:00",
                        description="Maintenance window, local time HH:MM-HH:MM (may wrap past midnight).")
    units: list[str] = Field(default=["acceptance-station.service", "acceptance-sync.service"],
                             description="systemd units restarted by an update and checked for health.")
    systemctl: list[str] = Field(default=["systemctl"],
                                 description="The command that restarts and queries the units.")
    python: str = Field(default="/usr/bin/python3",
                        description="Interpreter the release venvs are made with.")
    health_deadline_s: float = Field(default=120.0, gt=0,
                                     description="Roll back when not healthy within this many seconds.")
    health_interval_s: float = Field(default=1.0, gt=0, description="Pause between health checks.")
    min_free_mb: int = Field(default=300, ge=0,
                             description="Free space to keep under root beyond the new release's size.")
    max_download_mb: int = Field(default=500, ge=1,
                                 description="Largest bundle 'update poll' downloads from central.")

    @field_validator("window")
    @classmethod
    def _window(cls, v: str) -> str:
        parse_window(v)
        return v
