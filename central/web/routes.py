"""The web app's routers, included once where central's app is assembled (``central.api``)."""

from __future__ import annotations

from fastapi import APIRouter

from central.web import login

router = APIRouter()
router.include_router(login.router)
