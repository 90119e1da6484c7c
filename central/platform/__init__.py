"""The platform's side of central: warning indicators over stored events and their delivery.

Imports core, contract and central only. See docs/indicators.md.
"""
