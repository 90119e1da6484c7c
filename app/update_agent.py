"""Updates from central's staged rollout: report, learn the target, download, apply, report.

``update poll`` (root, from a timer or cron; docs/deployment.md, "Staged rollout") does
one pass over HTTPS with the station's token:

1. ``POST /v1/stations/{s}/update-report``: the running release and the last update's
   outcome (from ``update-state.json``); the answer names the station's target, if
   the rollout offers it one now.
2. Nothing to do when there is no target, it is current, or an update to it failed
   here already (a release that rolled back is not retried: the fix is a new version).
3. The bundle is downloaded beside the releases (``<root>/downloads``), resuming a
   partial file with ``Range``, at most the size central announced, and kept only if
   its sha256 is the announced one. It is applied only inside the maintenance window
   with no delivery open (checked before, so waiting journals nothing), by the same
   code as ``update apply``: the signature is verified with the station's own release
   key, whatever central said.
4. The outcome is reported at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app import release
from app.config import StationConfig
from app.update_plan import Preflight, in_window, parse_window, refusal
from contract.ids import is_release_version

OUTCOMES = ("update.applied", "update.rolled_back", "update.failed")
CHUNK = 1 << 16


def health_checks(cfg: StationConfig, units: Any) -> dict[str, Any]:
    """Every post-update check, reading the states written since ``units`` restarted."""
    from app import update_health as h

    def since() -> datetime:
        if units.restarted_at is None:
            raise RuntimeError("the units were not restarted")
        return units.restarted_at  # type: ignore[no-any-return]

    db = cfg.station.db_path
    return {"units": units.active, "journal": lambda: h.journal_verifies(cfg),
            "kiosk": lambda: h.kiosk_answers(cfg), "scale": lambda: h.scale_reachable(db, since()),
            "broker": lambda: h.broker_reachable(db, since())}


def preflight_refusal(cfg: StationConfig, current: str | None, target: str, force: bool) -> str | None:
    from app.update_health import delivery_open
    now = datetime.now(ZoneInfo(cfg.station.timezone)).time()
    return refusal(Preflight(current=current, target=target,
                             in_window=in_window(now, parse_window(cfg.update.window)),
                             delivery_open=None if force else delivery_open(cfg), force=force))


def apply_bundle(cfg: StationConfig, key: Ed25519PublicKey, bundle: Path, *, force: bool) -> dict[str, Any]:
    """``update apply``: {"result": applied|rolled_back|failed|refused, ...}; every step recorded."""
    from app.updater import Layout, StateLog, Units, UpdateError, apply
    u = cfg.update
    layout = Layout(u.root)
    layout.root.mkdir(parents=True, exist_ok=True)
    state = StateLog(layout.state_file, cfg.station.data_dir).load()
    if state.doc.get("state") in ("started", "installed", "switched"):
        state.step("failed", reason="the previous update was interrupted")
    try:
        target = release.verify_signature(bundle, key).version
    except (release.ReleaseError, OSError) as exc:
        state.step("refused", reason=str(exc))
        return {"result": "refused", "version": None, "reason": str(exc)}
    why = preflight_refusal(cfg, layout.current_version(), target, force)
    if why is not None:
        state.step("refused", version=target, reason=why)
        return {"result": "refused", "version": target, "reason": why}
    units = Units(u.systemctl, u.units)
    try:
        out = apply(bundle, key, layout, units, health_checks(cfg, units), python=u.python,
                    min_free_bytes=u.min_free_mb * 2**20, deadline_s=u.health_deadline_s,
                    interval_s=u.health_interval_s, state=state)
    except UpdateError as exc:
        return {"result": "refused", "version": target, "reason": str(exc)}
    return {"result": out.result, "version": out.version, "previous": out.previous,
            "seconds": round(out.seconds, 3), "failures": list(out.failures)}


def last_outcome(steps: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest applied / rolled_back / failed step (refusals are not outcomes)."""
    return next((s for s in reversed(steps) if s.get("step") in OUTCOMES and s.get("version")), None)


def failed_before(steps: list[Mapping[str, Any]], version: str) -> bool:
    return any(s.get("step") in OUTCOMES[1:] and s.get("version") == version for s in steps)


def report_doc(current: str | None, steps: list[Mapping[str, Any]]) -> dict[str, Any]:
    last = last_outcome(steps)
    doc: dict[str, Any] = {"version": current}
    if last is not None:
        detail = "; ".join(str(f) for f in last.get("failures") or []) or str(last.get("reason") or "")
        doc.update(target=str(last["version"]), result=str(last["step"]).removeprefix("update."),
                   detail=detail[:1000])
    return doc


def download(session: requests.Session, base: str, target: Mapping[str, Any], dest_dir: Path,
             max_bytes: int) -> Path:
    """The target's bundle and its ``.sig`` in ``dest_dir``, sha256-checked; ValueError otherwise.

    A ``.part`` left by an interrupted download is resumed when central answers 206.
    """
    version, sha, size = str(target["version"]), str(target["sha256"]), int(target["size"])
    if not is_release_version(version) or len(sha) != 64 or not 0 < size <= max_bytes:
        raise ValueError(f"central's target is unusable: {version!r}, {size} bytes (at most {max_bytes})")
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / release.bundle_name(version)
    part = out.with_name(out.name + ".part")
    if not (out.is_file() and release.sha256_file(out) == sha):
        have = part.stat().st_size if part.is_file() else 0
        if have >= size:
            part.unlink()
            have = 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with session.get(base + f"/v1/releases/{version}/bundle", headers=headers, stream=True,
                         timeout=60) as r:
            if r.status_code not in (200, 206):
                raise ValueError(f"download of {version}: HTTP {r.status_code}")
            mode = "ab" if r.status_code == 206 and have else "wb"
            got = have if mode == "ab" else 0
            with part.open(mode) as f:
                for chunk in r.iter_content(CHUNK):
                    got += len(chunk)
                    if got > size:
                        raise ValueError(f"download of {version}: more than the {size} bytes announced")
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
        if release.sha256_file(part) != sha:
            part.unlink()
            raise ValueError(f"download of {version}: sha256 differs from central's (truncated or changed)")
        part.replace(out)
    release.sig_path(out).write_text(str(target["signature"]).strip() + "\n", encoding="ascii")
    return out


def poll(cfg: StationConfig, key: Ed25519PublicKey, session: requests.Session) -> dict[str, Any]:
    """One pass (see the module doc); what happened, as a JSON-able dict."""
    from app.updater import Layout, StateLog
    layout = Layout(cfg.update.root)
    base = cfg.orders.api_url.rstrip("/")
    url = f"{base}/v1/stations/{cfg.station.station_id}/update-report"

    def report() -> dict[str, Any]:
        steps = StateLog(layout.state_file).load().doc.get("steps", [])
        r = session.post(url, json=report_doc(layout.current_version(), steps), timeout=30)
        if r.status_code != 200:
            raise ValueError(f"central answered the report with HTTP {r.status_code}: {r.text[:200]}")
        return dict(r.json())

    doc = report()
    target = doc.get("target")
    current = layout.current_version()
    if not target:
        return {"action": "none", "current": current, "rollout": doc.get("rollout")}
    version = str(target.get("version"))
    if version == current:
        return {"action": "current", "current": current}
    if failed_before(StateLog(layout.state_file).load().doc.get("steps", []), version):
        return {"action": "skipped", "current": current, "reason": f"the update to {version} failed here"}
    why = preflight_refusal(cfg, current, version, force=False)
    if why is not None:
        return {"action": "waiting", "current": current, "target": version, "reason": why}
    bundle = download(session, base, target, layout.root / "downloads", cfg.update.max_download_mb * 2**20)
    out = apply_bundle(cfg, key, bundle, force=False)
    if out["result"] in ("applied", "rolled_back"):
        bundle.unlink(missing_ok=True)
        release.sig_path(bundle).unlink(missing_ok=True)
    report()
    return {"action": "refused" if out["result"] == "refused" else "updated",
            "current": layout.current_version(), **out}
