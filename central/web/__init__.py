"""Central's web app (zh-CN, server-rendered): accounts, sessions, the discipline loop's pages.

``central.web.routes.router`` is included where central's app is assembled (``central.api``).
See docs/discipline.md and docs/security.md.
"""
