"""Everything that talks to device firmware: scale protocols, serial links, scanners, simulators.

Imports only ``core``: the devices know nothing of the station that uses them.
"""
