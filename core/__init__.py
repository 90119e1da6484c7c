"""The small core every layer may use: logging, clock, errors, config base, db, backoff, threads.

It imports nothing of the project's own; the layers above are, in order, the
contract (``contract``), the devices (``firmware_bridge``), the station domain
(``edge``), the uplink (``sync``) and the central platform (``central``), and the
application (``app``) on top. ``testbed`` (demo, private brokers, test PKI)
sits outside the runtime packages.
"""

__version__ = "0.1.0"
