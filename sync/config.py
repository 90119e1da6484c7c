"""The ``[uplink]`` section of the station config (declared next to its code)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import Field

from contract.broker_config import BrokerSection
from core.config import Section


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
        default=5.0, gt=0,
        description=(
            "Resend from the cursor when central has not acked a batch in this time; doubled after"
            " each timeout in a row without an ack, up to 8 times this."
        ),
    )
    resend_soon_s: float = Field(
        default=0.5, gt=0, le=60,
        description=(
            "After a reconnect, or when the broker answers that nobody is subscribed (PUBACK 0x10:"
            " central's workers are away), resend after a delay uniform in [0.5, 1.5] x this, doubled"
            " from the second such answer in a row, one small probe batch first; also how long a"
            " batch may stay unanswered while a later one is answered with a gap (2 x this)."
        ),
    )
    backoff_min_s: float = Field(
        default=0.5, gt=0,
        description="Base of the reconnect backoff (full jitter: uniform in [0, base*2^n]).",
    )
    backoff_max_s: float = Field(
        default=4.0, gt=0,
        description="Cap of the reconnect backoff (bounds the wait after the broker's return).",
    )
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


class StationIdentity(Protocol):
    """What the uplink needs to know of its station (the station config's ``[station]``)."""

    @property
    def station_id(self) -> str: ...
    @property
    def data_dir(self) -> Path: ...
    @property
    def db_path(self) -> Path: ...


class CentralApi(Protocol):
    """How the uplink reaches central's HTTP API (the station config's ``[orders]``)."""

    @property
    def api_url(self) -> str: ...
    @property
    def token_file(self) -> Path | None: ...
    @property
    def ca_file(self) -> Path | None: ...
    @property
    def timeout_s(self) -> float: ...


class UplinkHost(Protocol):
    """The parts of a station config the uplink reads; the application passes its config.

    Declared as a protocol so ``sync`` depends on the shape, not on the application's model.
    """

    @property
    def station(self) -> StationIdentity: ...
    @property
    def orders(self) -> CentralApi: ...
    @property
    def uplink(self) -> UplinkSection: ...
