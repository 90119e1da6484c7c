"""Sending one warning on one channel: MQTT (per school topic, QoS 1), a signed webhook, e-mail.

Each send raises ``SendError`` on failure; retries and the once-only record are ``deliveries``'.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import uuid
from email.message import EmailMessage
from typing import Any

import requests

from central.platform.config import DeliverySection, WebhookSection
from contract.broker_config import BrokerSection
from contract.mqtt import make_client

SIGNATURE_HEADER = "X-Acceptance-Signature"
ID_HEADER = "X-Acceptance-Warning-Id"


class SendError(Exception):
    """One send failed (the message says how, never with a secret)."""


def warning_topic(school_id: str) -> str:
    return f"acceptance/v1/schools/{school_id}/warnings"


def payload(warning: dict[str, Any]) -> bytes:
    """The canonical JSON body every channel carries (``schema`` acceptance.warning/1)."""
    return json.dumps({"schema": "acceptance.warning/1", **warning}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def signature(secret: bytes, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>``: what the receiver recomputes with the shared key."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def send_mqtt(broker: BrokerSection, warning: dict[str, Any], timeout_s: float) -> None:
    client = make_client(broker, f"central-warnings-{uuid.uuid4().hex[:8]}")
    try:
        client.connect(broker.host, broker.port, broker.keepalive_s)
    except OSError as exc:
        raise SendError(f"mqtt: cannot reach the broker: {exc}") from exc
    acks: dict[int, Any] = {}
    client.on_publish = lambda c, u, mid, reason, props: acks.__setitem__(mid, reason)
    client.loop_start()
    try:
        info = client.publish(warning_topic(warning["school_id"]), payload(warning), qos=1, retain=False)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise SendError("mqtt: no PUBACK in time")
        reason = acks.get(info.mid)
        if reason is not None and reason.is_failure:  # e.g. 135 not authorized (the broker's ACL)
            raise SendError(f"mqtt: the broker refused the publish: {reason}")
    except (RuntimeError, ValueError) as exc:
        raise SendError(f"mqtt: {exc}") from exc
    finally:
        client.disconnect()
        client.loop_stop()


def send_webhook(hook: WebhookSection, warning: dict[str, Any], timeout_s: float) -> None:
    try:
        secret = hook.secret_file.read_bytes().strip()
    except OSError as exc:
        raise SendError(f"webhook: cannot read its secret file: {exc.strerror}") from exc
    body = payload(warning)
    try:
        r = requests.post(hook.url, data=body, timeout=timeout_s, headers={
            "Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body),
            ID_HEADER: warning["warning_id"]})
    except requests.RequestException as exc:
        raise SendError(f"webhook: {exc.__class__.__name__}") from exc
    if not 200 <= r.status_code < 300:
        raise SendError(f"webhook: HTTP {r.status_code}")


def mail(cfg: DeliverySection, to: str, warning: dict[str, Any]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"] = cfg.mail_from, to
    msg["Subject"] = f"验收预警 {warning['indicator']} · {warning['school_id']} · {warning['day']}"
    msg["Message-ID"] = f"<{warning['warning_id']}.{to.replace('@', '.')}@acceptance-central>"
    msg.set_content(f"学校 {warning['school_id']} 的验收记录触发预警，请及时核查并书面说明。\n\n"
                    f"指标: {warning['indicator']}\n日期: {warning['day']}\n站点: {warning['station_id']}\n"
                    f"说明: {warning['message']}\n预警编号: {warning['warning_id']}\n\n"
                    f"证据 (JSON):\n{json.dumps(warning['evidence'], ensure_ascii=False, indent=1)}\n")
    return msg


def send_email(cfg: DeliverySection, to: str, warning: dict[str, Any]) -> None:
    try:
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_s) as smtp:
            if cfg.smtp_starttls:
                smtp.starttls()
            smtp.send_message(mail(cfg, to, warning))
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"smtp: {exc.__class__.__name__}: {exc}") from exc
