"""``POST /v1/enrol``: a new kiosk enrols with a one-time code (docs/contract.md, "Enrolment").

The only route without a station token: the code is the credential. The body
(at most 16 KiB of JSON: ``code``, ``public_key``, ``csr``) is checked whole before
the code is spent; then the code is spent, the key registered, the certificate
signed and the token issued. The answer is ``{"station_id", "school_id",
"certificate", "ca_certificate", "token", "broker": {"host", "port", "role"}}``; 403 for an
unknown, used or expired code, 409 when the station is registered with another key,
503 when central has no CA for stations. ``broker.role`` says whether central added the
station's broker role (``[enrol.broker_admin]``); enrolment does not fail when it could not.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from central import tokens
from central.config import CentralConfig
from central.rollout import enrol
from central.rollout.routes import shared
from central.store import Store

router = APIRouter()
MAX_BYTES = 16 * 1024


def _body(raw: bytes) -> tuple[str, str, str]:
    try:
        doc = json.loads(raw)
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"code", "public_key", "csr"} \
            or not all(isinstance(v, str) and len(v) <= 8192 for v in doc.values()):
        raise HTTPException(400, "expected {code, public_key, csr} as text")
    return doc["code"], doc["public_key"], doc["csr"]


def enrol_station(cfg: CentralConfig, store: Store, code: str, public_key: str,
                  csr_pem: str) -> dict[str, Any]:
    e = cfg.enrol
    if e.ca_cert_file is None or e.ca_key_file is None:
        raise enrol.EnrolError("enrolment is off at central ([enrol] ca_cert_file)", 503)
    pub = enrol.check_public_key(public_key)
    csr = enrol.check_csr(csr_pem)
    peek = enrol.usable_station(store, code)
    if enrol.key_conflict(cfg.registry.keys_dir, peek, pub):
        raise enrol.EnrolError(f"station {peek} is registered with another key at central "
                               "(a replaced kiosk: remove keys_dir/<station>.pub first)", 409)
    station, school = enrol.spend_code(store, code)
    enrol.register_key(cfg.registry.keys_dir, station, pub)
    cert, ca = enrol.sign_certificate(csr, station, e.ca_cert_file, e.ca_key_file, e.cert_days)
    token, _ = tokens.issue(cfg.http.tokens_file, station)
    return {"station_id": station, "school_id": school, "certificate": cert, "ca_certificate": ca,
            "token": token, "broker": {"host": e.broker_host, "port": e.broker_port}}


def broker_role(cfg: CentralConfig, station: str) -> str:
    """Add the station's role on the broker when central may (``[enrol.broker_admin]``)."""
    if cfg.enrol.broker_admin is None:
        return "not configured: an operator adds it (broker-acl --control)"
    from central.rollout.broker_admin import add_station
    problem = add_station(cfg.enrol.broker_admin, station)
    return "added" if problem is None else f"not added: {problem}"


@router.post("/v1/enrol")
async def enrol_route(request: Request) -> JSONResponse:
    raw = request.headers.get("content-length")
    if raw is None:
        raise HTTPException(411, "Content-Length required")
    if not raw.isdigit() or int(raw) > MAX_BYTES:
        raise HTTPException(413, f"an enrolment is at most {MAX_BYTES} bytes")
    code, public_key, csr = _body(await request.body())
    cfg: CentralConfig = request.app.state.cfg
    try:
        doc = await run_in_threadpool(shared(request).run,
                                      lambda s: enrol_station(cfg, s, code, public_key, csr))
    except enrol.EnrolError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    # Outside the store's lock: the broker may take seconds to answer.
    doc["broker"]["role"] = await run_in_threadpool(broker_role, cfg, doc["station_id"])
    return JSONResponse(doc, headers={"Cache-Control": "no-store"})
