"""How a client (a station's uplink or a central worker) reaches the MQTT broker.

Declared once here so station and central configs describe the broker alike.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from core.config import Section


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
