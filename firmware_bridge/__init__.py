"""Everything that talks to device firmware: scale protocols, serial links, simulators."""
