"""The station's configuration: one typed model, declared once.

Every field carries a description (a test fails when one is missing or when
``config/station.example.toml`` does not show it), and unknown keys are refused
with their dotted path so a typo in a technician's config is named, not ignored.
Subsystems declare their own section models next to their code and the root
model composes them.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from app.update_config import UpdateSection
from contract.ids import ID_PATTERN
from core.config import ConfigError, Section, load_toml, parse_toml
from edge.codes.config import CodesSection
from edge.matching.types import Policy
from edge.video.config import VideoSection
from edge.vision.config import CameraSection, DecoderSection
from edge.web.voice import SoundSection
from edge.workflow.config import ReceivingSection
from firmware_bridge.config import ScaleSection
from firmware_bridge.rapid_test import RapidTestSection
from firmware_bridge.scanners.config import ScannersSection
from firmware_bridge.thermometer import ThermometerSection
from sync.config import UplinkSection

__all__ = ["ConfigError", "Section", "StationConfig", "UplinkSection", "load_config", "parse_config"]

DecimalStr = Annotated[str, Field(pattern=r"^-?\d+(\.\d+)?$")]


class StationSection(Section):
    station_id: str = Field(
        pattern=ID_PATTERN, description="This station's id (also its MQTT client id and cert CN)."
    )
    school_id: str = Field(pattern=ID_PATTERN, description="The school whose canteen this is.")
    timezone: str = Field(
        default="Asia/Shanghai",
        description="Time zone of the school: delivery dates and windows are local dates/times.",
    )
    data_dir: Path = Field(
        default=Path("/var/lib/acceptance-station"),
        description="Where the station database and clips live (systemd StateDirectory).",
    )
    key_path: Path = Field(
        default=Path("/etc/acceptance-station/station.key"),
        description="Ed25519 private key (PEM, mode 0600) that signs every journal event.",
    )
    journal_reserve_mb: int = Field(
        default=200, ge=1,
        description=(
            "The last MB of the data disk kept for the journal: housekeeping skips its own writes"
            " below it, and clip recording stops earlier ([video] min_free_mb must be larger)."
        ),
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not known_time_zone(value):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)")
        return value

    @property
    def db_path(self) -> Path:
        """The single SQLite file shared by the station (journal) and the uplink."""
        return self.data_dir / "station.db"


class OrdersSection(Section):
    api_url: str = Field(
        default="http://127.0.0.1:8780",
        description="Base URL of the central API (orders, menu, clips); no trailing /v1.",
    )
    token_file: Path | None = Field(
        default=None,
        description="File holding the bearer token sent to the central API (never logged).",
    )
    ca_file: Path | None = Field(
        default=None, description="CA bundle to verify the central API's TLS certificate."
    )
    timeout_s: float = Field(
        default=10.0, gt=0, description="Connect and read timeout of one HTTP request."
    )
    retries: int = Field(
        default=3, ge=0, le=10, description="Retries with exponential backoff per fetch."
    )
    refresh_minutes: int = Field(
        default=15,
        ge=1,
        description="How often the uplink re-fetches today's and tomorrow's orders.",
    )


def _default_sensory() -> dict[str, list[str]]:
    return {
        "meat": ["spoiled", "odour", "foreign_matter", "refrozen"],
        "poultry": ["spoiled", "odour", "foreign_matter", "refrozen"],
        "seafood": ["spoiled", "odour", "foreign_matter", "refrozen"],
    }


class MatchingSection(Section):
    min_inspectors: int = Field(
        default=2, ge=1, description="Distinct inspectors required for an acceptance (rules: 2+)."
    )
    near_expiry_days: int = Field(
        default=2,
        ge=0,
        description="Goods expiring within this many days of delivery get a warning.",
    )
    chilled_max_temp_c: DecimalStr = Field(
        default="8",
        description="Limit for chilled lines whose order gives no max_temp_c (decimal °C).",
    )
    frozen_max_temp_c: DecimalStr = Field(
        default="-18",
        description="Limit for frozen lines whose order gives no max_temp_c (decimal °C).",
    )
    require_trace_for_packaged: bool = Field(
        default=True,
        description=(
            "Packaged lines (with a GTIN) need a batch or production date"
            " (Food Safety Law Art. 53)."
        ),
    )
    sensory: dict[str, list[str]] = Field(
        default_factory=_default_sensory,
        description=(
            "Sensory checklist (感官检查) per item category: items from spoiled, mould,"
            " foreign_matter, odour, packaging, refrozen, label. A listed category cannot be"
            " accepted until every item is answered; a problem found rejects the line."
        ),
    )
    rapid_test_categories: list[str] = Field(
        default_factory=lambda: ["leafy_vegetable"],
        description="Item categories that need a rapid test (快检) result before acceptance.",
    )
    rapid_test_max_inhibition_pct: DecimalStr = Field(
        default="50",
        description="Pesticide-residue inhibition above this (percent) fails the rapid test.",
    )

    @field_validator("sensory")
    @classmethod
    def _items(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        from edge.matching.inspection import SENSORY_ITEMS

        for category, items in v.items():
            bad = [i for i in items if i not in SENSORY_ITEMS]
            if bad:
                raise ValueError(f"{category}: unknown sensory items {bad}; known: "
                                 f"{', '.join(SENSORY_ITEMS)}")
        return v


class WebSection(Section):
    host: str = Field(
        default="127.0.0.1",
        description="Address the kiosk page and API listen on (loopback: only this kiosk).",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="Port of the kiosk page and API.")
    trusted_hosts: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9.:-]{1,253}$")]] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost"], min_length=1,
        description=(
            "Host names the kiosk API answers to (with its port): any other Host or Origin"
            " header gets 403. Add the address only if the kiosk browser uses another one."
        ),
    )
    max_body_bytes: int = Field(
        default=16384, ge=1024, le=1 << 20,
        description="Largest request body the kiosk API reads; a bigger one gets 413.",
    )
    hall_host: str = Field(
        default="127.0.0.1",
        description=(
            "Address of the read-only hall server (/hall, its JSON, clips, QR); 0.0.0.0 lets"
            " a hall screen on the LAN reach it. The kiosk API never listens there."
        ),
    )
    hall_port: int = Field(
        default=8081, ge=0, le=65535,
        description="Port of the read-only hall server; 0 serves the hall on the kiosk port only.",
    )
    menu_timeout_s: float = Field(
        default=5.0, gt=0, description="Timeout of the hall's fetch of today's menu from central."
    )
    public_base_url: str | None = Field(
        default=None,
        description=(
            "Central's public pages (its [http] public_base_url, https://…): the hall's QR code of a"
            " record is <this>/public/records/<station>/<event>. Unset: the hall shows no QR code."
        ),
    )

    @field_validator("public_base_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        from contract.record_text import check_public_base_url

        return None if v is None else check_public_base_url(v)


class LogSection(Section):
    level: str = Field(
        default="INFO",
        pattern=r"^(DEBUG|INFO|WARNING|ERROR)$",
        description="Log level of the station's stderr log.",
    )


class StationConfig(Section):
    """The whole station config file."""

    station: StationSection = Field(description="Identity and storage of this station.")
    orders: OrdersSection = Field(
        default_factory=OrdersSection, description="Fetching orders from the central API."
    )
    matching: MatchingSection = Field(
        default_factory=MatchingSection, description="Policy of the receiving rules."
    )
    receiving: ReceivingSection = Field(
        default_factory=ReceivingSection,
        description="The receiving workflow: fresh weights, codes read on an empty pan.",
    )
    web: WebSection = Field(default_factory=WebSection, description="The local web app.")
    sound: SoundSection = Field(
        default_factory=SoundSection, description="The kiosk's result tones and spoken sentences."
    )
    log: LogSection = Field(default_factory=LogSection, description="Logging.")
    video: VideoSection = Field(
        default_factory=VideoSection, description="Acceptance clips: recorder and retention."
    )
    camera: CameraSection = Field(
        default_factory=CameraSection, description="Frame source of the camera over the scale."
    )
    decoder: DecoderSection = Field(
        default_factory=DecoderSection, description="Barcode decoding of camera frames."
    )
    scanners: ScannersSection = Field(
        default_factory=ScannersSection, description="USB HID and USB-CDC serial barcode scanners."
    )
    codes: CodesSection = Field(
        default_factory=CodesSection, description="Parsing codes: weight labels, badges, repeats."
    )
    scale: ScaleSection = Field(
        default_factory=ScaleSection, description="The weighing indicator and its serial link."
    )
    thermometer: ThermometerSection | None = Field(
        default=None, description="Optional serial probe thermometer (absent: none)."
    )
    rapid_test: RapidTestSection | None = Field(
        default=None, description="Optional rapid-test instrument (快检仪) on a serial line (absent: none)."
    )

    uplink: UplinkSection = Field(
        default_factory=UplinkSection, description="The uplink to the central MQTT broker (sync/)."
    )
    update: UpdateSection = Field(
        default_factory=UpdateSection, description="Signed releases and updates with rollback."
    )

    @model_validator(mode="after")
    def _recording_stops_before_the_reserve(self) -> StationConfig:
        if self.video.enabled and self.video.min_free_mb <= self.station.journal_reserve_mb:
            raise ValueError(f"video.min_free_mb ({self.video.min_free_mb}) must be larger than "
                             f"station.journal_reserve_mb ({self.station.journal_reserve_mb}): "
                             "recording must stop before the journal's reserve is touched")
        return self


def parse_config(text: str, source: str = "<config>") -> StationConfig:
    """Parse TOML text into the typed config, naming the path of every bad key."""
    return parse_toml(text, StationConfig, source)


def load_config(path: Path) -> StationConfig:
    """Read and validate a station config file."""
    return load_toml(path, StationConfig)


def config_digest(cfg: StationConfig) -> str:
    """SHA-256 of the normalised config, recorded in ``station.started``."""
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()


def policy_from_config(cfg: StationConfig, today: date | None = None) -> Policy:
    """The matching policy a station config declares."""
    m = cfg.matching
    return Policy(min_inspectors=m.min_inspectors, near_expiry_days=m.near_expiry_days,
                  chilled_max_temp_c=Decimal(m.chilled_max_temp_c),
                  frozen_max_temp_c=Decimal(m.frozen_max_temp_c),
                  require_trace_for_packaged=m.require_trace_for_packaged,
                  sensory={k: tuple(v) for k, v in m.sensory.items()},
                  rapid_test_categories=tuple(m.rapid_test_categories),
                  rapid_test_max_inhibition_pct=Decimal(m.rapid_test_max_inhibition_pct),
                  tz=ZoneInfo(cfg.station.timezone), today=today)


def known_time_zone(name: str) -> bool:
    """True when ``name`` is an IANA time zone this machine knows (tzdata)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # not a key, or a tzdata folder
        return False
    return True
