"""Config of the uplink (a section of the station config) and of the reference central.

Both follow edge.config's rules: typed, every field described, unknown keys refused.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from edge.config_base import ConfigError, Section, validation_problem


class TlsSection(Section):
    ca_file: Path | None = Field(
        default=None, description="CA certificate that signed the broker's certificate; TLS is on when set."
    )
    cert_file: Path | None = Field(
        default=None, description="Client certificate (its CN is the station id / the central user)."
    )
    key_file: Path | None = Field(default=None, description="Private key of the client certificate.")


class BrokerSection(Section):
    host: str = Field(default="127.0.0.1", description="MQTT broker host name or address.")
    port: int = Field(default=8883, ge=1, le=65535, description="MQTT broker port (8883 with TLS).")
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive in seconds.")
    connect_timeout_s: float = Field(
        default=10.0, gt=0, description="Timeout of the TCP connect and TLS handshake."
    )
    tls: TlsSection = Field(default_factory=TlsSection, description="TLS towards the broker.")


class UplinkSection(Section):
    """The station's uplink process (``acceptance-station sync``)."""

    broker: BrokerSection = Field(default_factory=BrokerSection, description="The central MQTT broker.")
    batch_max_events: int = Field(default=500, ge=1, le=10000, description="Most events in one batch.")
    batch_max_bytes: int = Field(
        default=256 * 1024, ge=4096,
        description="Most payload bytes in one batch (one event may exceed it alone).",
    )
    max_in_flight: int = Field(
        default=4, ge=1, le=64, description="Batches published and not yet acked by central, at most."
    )
    ack_timeout_s: float = Field(
        default=30.0, gt=0,
        description="Resend from the cursor when central has not acked a batch in this time.",
    )
    backoff_min_s: float = Field(
        default=1.0, gt=0,
        description="Base of the reconnect backoff (full jitter: uniform in [0, base*2^n]).",
    )
    backoff_max_s: float = Field(default=120.0, gt=0, description="Cap of the reconnect backoff.")
    rejected_retry_s: float = Field(
        default=300.0, gt=0,
        description="After central rejects a batch, wait this long before trying it again.",
    )
    status_interval_s: float = Field(
        default=60.0, gt=0, description="How often the retained status message is republished."
    )
    poll_interval_s: float = Field(
        default=0.2, gt=0, description="How often the journal is checked for new events when idle."
    )
    orders_fetch: bool = Field(
        default=True, description="Fetch today's and tomorrow's orders on the [orders] schedule."
    )
    clip_upload: bool = Field(
        default=True, description="Upload finalized clips to the central API (docs/contract.md §5)."
    )
    clip_backoff_min_s: float = Field(
        default=2.0, gt=0, description="First retry delay of a failed clip upload (doubles per try)."
    )
    clip_backoff_max_s: float = Field(
        default=600.0, gt=0, description="Longest delay between retries of one clip upload."
    )


class StoreSection(Section):
    dsn: str = Field(
        default="sqlite:///var/lib/acceptance-central/central.db",
        description="sqlite:///absolute/path.db or postgresql://user@host:port/db (psycopg 3).",
    )


class RegistrySection(Section):
    keys_dir: Path = Field(
        default=Path("/etc/acceptance-central/stations"),
        description="Folder of <station_id>.pub files, each the station's Ed25519 public key in hex.",
    )


class HttpSection(Section):
    enabled: bool = Field(default=True, description="Serve the orders/menu API over HTTP.")
    bind: str = Field(default="127.0.0.1:8780", description="host:port the HTTP API listens on.")
    orders_dir: Path = Field(
        default=Path("/var/lib/acceptance-central/orders"),
        description="Folder of orders documents: <station_id>/<YYYY-MM-DD>.json.",
    )
    menus_dir: Path = Field(
        default=Path("/var/lib/acceptance-central/menus"),
        description="Folder of menus: <school_id>/<YYYY-MM-DD>.json.",
    )
    clips_dir: Path = Field(
        default=Path("/var/lib/acceptance-central/clips"),
        description="Received clips, content-addressed: objects/<sha256> and index/<station>/<clip_id>.",
    )
    clip_max_bytes: int = Field(
        default=2_000_000_000, ge=1, description="Largest clip a station may upload (413 above)."
    )


class IngestSection(Section):
    workers: int = Field(
        default=2, ge=0, le=64, description="Ingest worker processes on the shared subscription."
    )
    client_id_prefix: str = Field(
        default="central-ingest", description="MQTT client id prefix of the workers (suffixed with a number)."
    )
    gap_wait_ms: int = Field(
        default=300, ge=0, le=10000,
        description="On a gap, wait this long for another worker to commit the preceding batch first.",
    )


class CentralConfig(Section):
    """The reference central platform's config file (``acceptance-station central``)."""

    broker: BrokerSection = Field(default_factory=BrokerSection, description="The MQTT broker.")
    store: StoreSection = Field(default_factory=StoreSection, description="Where events are stored.")
    registry: RegistrySection = Field(default_factory=RegistrySection, description="Stations' public keys.")
    http: HttpSection = Field(default_factory=HttpSection, description="The HTTP API (orders, menu).")
    ingest: IngestSection = Field(default_factory=IngestSection, description="Ingest workers.")

    @model_validator(mode="after")
    def _dsn_scheme(self) -> CentralConfig:
        if not self.store.dsn.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("store.dsn must start with sqlite:/// or postgresql://")
        return self


def load_central_config(path: Path) -> CentralConfig:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return CentralConfig.model_validate(raw)
    except ValidationError as exc:
        raise validation_problem(exc, str(path)) from exc
