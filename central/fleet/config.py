"""The ``[fleet]`` section of central's config: who may look, when a station needs a visit."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from core.config import Section


class FleetSection(Section):
    technician_tokens_file: Path = Field(
        default=Path("/etc/acceptance-central/technician-tokens"),
        description="Technicians' bearer tokens for the fleet API, as hashes "
                    "(acceptance-station central-token issue --technician NAME).",
    )
    bundles_dir: Path = Field(
        default=Path("/var/lib/acceptance-central/bundles"),
        description="Received support bundles: objects/<sha256> and index/<station>/<request_id>.",
    )
    bundle_max_bytes: int = Field(
        default=50_000_000, ge=1024, description="Largest support bundle a station may upload (413 above).",
    )
    heartbeat_stale_s: float = Field(
        default=180.0, gt=0,
        description="An online station with no status for this long is shown as silent (3 x the "
                    "stations' status_interval_s).",
    )
    visit_after_offline_min: int = Field(
        default=60, ge=1, description="Offline or silent this long: the station needs a visit.",
    )
    low_disk_mb: int = Field(default=1024, ge=0, description="Less free disk than this is a fault.")
    backlog_events: int = Field(default=1000, ge=1, description="A larger event backlog is a fault.")
    backlog_age_min: int = Field(
        default=30, ge=1, description="A backlog older than this many minutes is a fault.",
    )
    alert_window_h: int = Field(
        default=72, ge=1, description="Central's alert rows of this many hours count as open alerts.",
    )
    diagnose_timeout_s: float = Field(
        default=600.0, gt=0,
        description="A diagnosis request without a bundle after this long is shown as timed out.",
    )
    diagnose_min_interval_s: float = Field(
        default=120.0, ge=0, description="At most one diagnosis request per station in this many seconds.",
    )
    diagnose_per_hour: int = Field(
        default=120, ge=1, description="Diagnosis requests over the whole fleet per hour at most.",
    )
