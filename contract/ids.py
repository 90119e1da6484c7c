"""Ids shared by station and central: station, school and other slugs.

One pattern, so what a station's config accepts is exactly what central's
ingest and HTTP API accept (also the MQTT client id and the certificate CN).
"""

from __future__ import annotations

import re

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,63}$"


def is_valid_id(value: str) -> bool:
    return re.fullmatch(ID_PATTERN, value) is not None

# A release version (1.4.2, 1.4.0rc1): what a bundle's manifest, the updater and
# central's rollout accept.
RELEASE_VERSION_PATTERN = r"^[0-9]+(\.[0-9]+){0,3}([.-]?[A-Za-z0-9]+)*$"


def is_release_version(value: str) -> bool:
    return len(value) <= 64 and re.fullmatch(RELEASE_VERSION_PATTERN, value) is not None
