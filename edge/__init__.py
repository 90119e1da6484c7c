"""The station domain: matching, workflow, journal, orders, vision, video, web, ledger.

Imports ``core``, ``contract`` and the devices (``firmware_bridge``) only.
"""
