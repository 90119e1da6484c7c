"""The station's local web app: JSON API, kiosk page, live state stream."""
