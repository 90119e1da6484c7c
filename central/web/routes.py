"""The web app's routers, included once where central's app is assembled (``central.api``)."""

from __future__ import annotations

from fastapi import APIRouter

from central.platform import discipline
from central.web import auth, cases, login, overview, warnings

auth.SETUP.append(discipline.ensure_tables)
router = APIRouter()
router.include_router(login.router)
router.include_router(warnings.router)
router.include_router(cases.router)
router.include_router(overview.router)
