"""The reference central platform: ingest workers, store, HTTP API, clip receiver.

Imports only ``core`` and ``contract``: central never imports the station.
"""
