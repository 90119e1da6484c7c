"""The reference central platform's config file (``acceptance-station central``).

Typed like the station's: every field described, unknown keys refused with their path.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from central.fleet.config import FleetSection
from central.platform.config import DeliverySection, DisciplineSection, IndicatorsSection
from central.rollout.config import EnrolSection, ReleasesSection
from central.web.config import WebSection
from contract.broker_config import BrokerSection
from core.config import Section, load_toml


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
    roster_dir: Path = Field(
        default=Path("/var/lib/acceptance-central/rosters"),
        description="Folder of station rosters (acceptance.roster/1): <station_id>.json.",
    )
    menus_dir: Path = Field(
        default=Path("/var/lib/acceptance-central/menus"),
        description="Folder of menus: <school_id>/<YYYY-MM-DD>.json.",
    )
    clips_dir: Path = Field(
        default=Path("/var/lib/acceptance-central/clips"),
        description="Received clips and images, content-addressed: objects/<sha256>, "
                    "index/<station>/<clip_id> and images/<station>/<sha256>.",
    )
    clip_max_bytes: int = Field(
        default=2_000_000_000, ge=1, description="Largest clip a station may upload (413 above)."
    )
    image_max_bytes: int = Field(
        default=8_000_000, ge=1,
        description="Largest image (document photo, signature) a station may upload (413 above).",
    )
    tls_cert_file: Path | None = Field(
        default=None, description="Serve HTTPS with this certificate (PEM); plain HTTP when unset.",
    )
    tls_key_file: Path | None = Field(default=None, description="The private key of tls_cert_file (PEM).")
    tokens_file: Path = Field(
        default=Path("/etc/acceptance-central/tokens"),
        description="Stations' API tokens, as hashes (acceptance-station central-token issue).",
    )
    max_connections: int = Field(
        default=512, ge=8, le=60000,
        description="Open connections at most; at the cap the idlest waiting connection is closed.",
    )
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="A request's headers must arrive within this time.",
    )
    keepalive_timeout_s: float = Field(
        default=5.0, gt=0, description="An idle keep-alive connection is closed after this time.",
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="An upload whose body stalls this long is ended (408).",
    )
    threads: int = Field(default=16, ge=1, le=256, description="Threads for blocking work (files, store).")
    uploads_per_station: int = Field(
        default=2, ge=1, le=64, description="Clip uploads one station may run at once (429 above).",
    )
    public_base_url: str | None = Field(
        default=None,
        description=(
            "https:// URL under which the public pages (central.public: record pages, school menus)"
            " are reached from the internet, e.g. behind a reverse proxy; stations put it in their"
            " [web] public_base_url for the hall's QR codes. Unset: the public pages are not served."
        ),
    )
    public_requests_per_s: float = Field(
        default=5.0, gt=0, description="Public pages: requests per second per client address, on average.",
    )
    public_burst: int = Field(
        default=30, ge=1, description="Public pages: requests a client address may make at once (429 above).",
    )


    @field_validator("public_base_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        from contract.record_text import check_public_base_url

        return None if v is None else check_public_base_url(v)

    @model_validator(mode="after")
    def _tls_pair(self) -> HttpSection:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("http.tls_cert_file and http.tls_key_file go together")
        return self


class IngestSection(Section):
    workers: int = Field(
        default=2, ge=0, le=64, description="Ingest worker processes on the shared subscription."
    )
    client_id_prefix: str = Field(
        default="central-ingest",
        description=(
            "MQTT client id prefix of the workers: <prefix>-<n>-<random>, new on every start, so a"
            " restarted worker never takes over a live session of the same name."
        ),
    )
    gap_wait_ms: int = Field(
        default=300, ge=0, le=10000,
        description="On a gap, retry (never sleeping) this long while a peer commits the preceding batch.",
    )
    max_batch_bytes: int = Field(
        default=1_048_576, ge=4096,
        description="A batch above this size is rejected before it is parsed (the broker's max packet).",
    )
    station_batches_per_s: float = Field(
        default=50.0, gt=0, description="Per station: batches per second a worker processes, on average.",
    )
    station_burst: int = Field(
        default=100, ge=1, description="Per station: batches processed at once above the average rate.",
    )
    station_bad_per_s: float = Field(
        default=1.0, gt=0,
        description="Per station: rejected answers per second on average; beyond, batches are dropped.",
    )
    station_bad_burst: int = Field(
        default=10, ge=1, description="Per station: rejected answers allowed at once.",
    )
    quarantine_after_drops: int = Field(
        default=50, ge=1,
        description="A station with this many batches dropped over its budget is unsubscribed (quarantined).",
    )
    quarantine_s: float = Field(
        default=60.0, gt=0, description="First quarantine in seconds; doubled at each repeat, at most 1 h.",
    )
    backoff_min_s: float = Field(
        default=0.5, gt=0,
        description="Base of a worker's reconnect backoff (full jitter: uniform in [0, base*2^n]).",
    )
    backoff_max_s: float = Field(
        default=4.0, gt=0, description="Cap of a worker's reconnect backoff to the broker."
    )
    heartbeat_s: float = Field(
        default=1.0, gt=0, le=60,
        description="A worker reports to its supervisor this often (the /healthz 'last beat').",
    )
    stale_after_s: float = Field(
        default=5.0, gt=0,
        description="A worker whose last beat is older than this is reported not alive by /healthz.",
    )
    restart_delay_s: float = Field(
        default=1.0, ge=0, le=60, description="The supervisor restarts a dead worker after this long."
    )


class CentralConfig(Section):
    """The reference central platform's config file (``acceptance-station central``)."""

    broker: BrokerSection = Field(default_factory=BrokerSection, description="The MQTT broker.")
    store: StoreSection = Field(default_factory=StoreSection, description="Where events are stored.")
    registry: RegistrySection = Field(default_factory=RegistrySection, description="Stations' public keys.")
    http: HttpSection = Field(default_factory=HttpSection, description="The HTTP API (orders, menu).")
    ingest: IngestSection = Field(default_factory=IngestSection, description="Ingest workers.")
    indicators: IndicatorsSection = Field(
        default_factory=IndicatorsSection, description="Warning indicators: thresholds, master data."
    )
    warnings: DeliverySection = Field(
        default_factory=DeliverySection, description="Delivery of warnings: MQTT, webhooks, e-mail."
    )
    fleet: FleetSection = Field(
        default_factory=FleetSection, description="Fleet view and remote diagnosis (docs/fleet.md)."
    )
    web: WebSection = Field(default_factory=WebSection, description="The web app: accounts, sessions.")
    discipline: DisciplineSection = Field(
        default_factory=DisciplineSection, description="The discipline loop: explanation deadlines."
    )
    releases: ReleasesSection = Field(
        default_factory=ReleasesSection, description="Published releases and the staged rollout."
    )
    enrol: EnrolSection = Field(
        default_factory=EnrolSection, description="Enrolling new stations with one-time codes."
    )

    @model_validator(mode="after")
    def _dsn_scheme(self) -> CentralConfig:
        if not self.store.dsn.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("store.dsn must start with sqlite:/// or postgresql://")
        return self


def load_central_config(path: Path) -> CentralConfig:
    """Read and validate central's config file, naming the path of every bad key."""
    return load_toml(path, CentralConfig)
