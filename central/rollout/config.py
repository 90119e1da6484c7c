"""Central's ``[releases]`` and ``[enrol]`` config sections (docs/deployment.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from contract.broker_config import BrokerSection
from core.config import Section


class ReleasesSection(Section):
    dir: Path = Field(
        default=Path("/var/lib/acceptance-central/releases"),
        description="Published release bundles, stored by sha256: objects/<sha256>.",
    )
    public_key: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$",
        description="Hex Ed25519 release public key: publishing refuses a bundle it does not verify "
                    "(absent: publishing is refused).",
    )
    max_bundle_bytes: int = Field(
        default=500_000_000, ge=1, description="Largest bundle that may be published.",
    )
    max_failure_rate: float = Field(
        default=0.0, ge=0.0, lt=1.0,
        description="Default threshold of a rollout: it halts when more than this share of the "
                    "canaries failed to update (0: the first failed canary halts it).",
    )


class EnrolSection(Section):
    ca_cert_file: Path | None = Field(
        default=None, description="CA certificate (PEM) that signs enrolled stations' MQTT client "
                                  "certificates; the broker's stations' listener trusts it (absent: "
                                  "enrolment is off).",
    )
    ca_key_file: Path | None = Field(
        default=None, description="Private key of ca_cert_file (PEM, mode 0600, readable by central only).",
    )
    cert_days: int = Field(default=365, ge=1, le=3650, description="Validity of a station certificate.")
    code_ttl_s: int = Field(
        default=86400, ge=60, le=30 * 86400,
        description="Default lifetime of an enrolment code (central-admin enrol-code).",
    )

    broker_host: str = Field(
        default="mqtt.example.edu.cn", description="The broker an enrolled station connects to "
                                                   "(written into its [uplink.broker]).",
    )
    broker_port: int = Field(default=8883, ge=1, le=65535, description="Its stations' TLS port.")
    broker_admin: BrokerSection | None = Field(
        default=None, description="Central's admin connection to the broker (its central listener, a "
                                  "client certificate with the dynamic-security admin role): an enrolled "
                                  "station's broker role is added there (absent: added by an operator).",
    )

    @model_validator(mode="after")
    def _pair(self) -> EnrolSection:
        if (self.ca_cert_file is None) != (self.ca_key_file is None):
            raise ValueError("enrol.ca_cert_file and enrol.ca_key_file go together")
        return self
