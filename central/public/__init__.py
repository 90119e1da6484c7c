"""Central's public pages: a record behind a hall QR code, and each school's menu and day (no login)."""
