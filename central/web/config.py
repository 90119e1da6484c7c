"""Config of central's web app (``[web]``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from core.config import Section


class WebSection(Section):
    enabled: bool = Field(default=True, description="Serve the web app (/web/) on central's HTTP server.")
    session_ttl_min: int = Field(
        default=480, ge=5, le=10080, description="A login session ends this many minutes after it began."
    )
    max_failures: int = Field(
        default=5, ge=1, le=100,
        description="Consecutive failed logins of one account name that lock it for lockout_min.",
    )
    lockout_min: int = Field(
        default=15, ge=1, le=1440, description="How long a locked account name stays locked."
    )
    logins_per_min: int = Field(
        default=20, ge=1, le=10000,
        description="Login attempts one client address may make per minute (as a burst, refilled evenly).",
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Mark the session cookie Secure; unset = when central serves HTTPS (http.tls_cert_file).",
    )
    documents_dir: Path = Field(
        default=Path("/var/lib/acceptance-central/documents"),
        description="Uploaded explanations, content-addressed: objects/<sha256>.",
    )
    document_max_bytes: int = Field(
        default=10_000_000, ge=1024, le=100_000_000,
        description="Largest explanation (PDF, PNG or JPEG) a school may upload (413 above).",
    )
