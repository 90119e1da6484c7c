"""The ``[scale]`` section of the station config (declared next to its code)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from core.config import Section
from firmware_bridge.link import LinkSettings
from firmware_bridge.stability import StabilityParams

ProtocolName = Literal["toledo8217", "mt-sics", "ad", "xk3190-a9", "xk3190-a12", "ohaus", "hx711"]


class StabilitySection(Section):
    mode: Literal["flag", "confirm", "detector"] = Field(
        default="flag",
        description="flag: trust the indicator's stable flag; confirm: flag and detector must "
        "agree; detector: ignore the flag. Indicators without a flag always use the detector.",
    )
    count: int = Field(default=5, ge=2, description="Detector: readings needed in the run.")
    band_g: int = Field(default=2, ge=0, description="Detector: each within ±band_g grams.")
    min_ms: int = Field(default=500, ge=0, description="Detector: the run spans at least this.")


class ScaleSection(Section):
    simulate: bool = Field(
        default=False,
        description="Use the built-in simulator instead of a real port (demo only; never in "
        "production, it would record simulated weights).",
    )
    port: str = Field(
        default="/dev/serial/by-id/usb-scale-if00-port0",
        description="Stable path of the indicator's serial port (by-id, not ttyUSB0).",
    )
    protocol: ProtocolName = Field(default="ad", description="Indicator protocol family.")

    @field_validator("port")
    @classmethod
    def _not_console(cls, port: str) -> str:
        if port.rstrip("/").endswith("ttyAMA10"):
            raise ValueError("ttyAMA10 is the Raspberry Pi 5 console port, not a scale")
        return port

    baud: int | None = Field(
        default=None, gt=0, description="Baud rate override; default is the protocol's."
    )
    unit: Literal["g", "kg", "lb", "t"] | None = Field(
        default=None,
        description="Unit of frames that carry none (XK3190-A9, Toledo 8217, HX711); "
        "default is the protocol's.",
    )
    poll_interval_ms: int = Field(
        default=200, ge=20, description="Polled protocols: time between weight requests."
    )
    silence_timeout_ms: int = Field(
        default=3000, ge=100,
        description="No bytes for this long: state 'silent'; twice as long: reopen the port.",
    )
    reconnect_initial_ms: int = Field(
        default=100, ge=10, description="First wait before reopening a lost port."
    )
    reconnect_max_ms: int = Field(
        default=1000, ge=10, description="Longest wait between reopen attempts (backoff cap)."
    )
    bad_frames_threshold: int = Field(
        default=5, ge=1, description="Bad frames in a row before the state is 'bad_frames'."
    )
    stability: StabilitySection = Field(
        default_factory=StabilitySection, description="Stability policy and detector."
    )
    max_kg: int = Field(
        default=300, ge=1, le=100_000,
        description="Capacity: a reading above it is line noise, refused and counted (never "
        "delivered).",
    )
    min_kg: int = Field(
        default=-300, ge=-100_000, le=0,
        description="Lowest reading taken: a net weight is negative when a tared container "
        "comes off; below this it is refused and counted. 0 refuses every negative reading.",
    )

    def link_settings(self, port: str | None = None) -> LinkSettings:
        st = self.stability
        return LinkSettings(
            port=port or self.port,
            protocol=self.protocol,
            baud=self.baud,
            unit=self.unit,
            poll_interval_s=self.poll_interval_ms / 1000,
            silence_timeout_s=self.silence_timeout_ms / 1000,
            reconnect_initial_s=self.reconnect_initial_ms / 1000,
            reconnect_max_s=self.reconnect_max_ms / 1000,
            bad_frames_threshold=self.bad_frames_threshold,
            stability=StabilityParams(st.count, st.band_g, st.min_ms),
            stability_mode=st.mode,
            min_g=self.min_kg * 1000,
            max_g=self.max_kg * 1000,
        )
