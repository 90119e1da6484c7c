"""Give an enrolled station its broker role on the running broker (dynamic-security plugin).

Central connects with the broker's admin identity (``[enrol.broker_admin]``: a client
certificate whose CN has the plugin's admin role, ``central-admin`` in
``contract.broker_acl``), publishes the ``$CONTROL`` commands that create the
station's role and client (what ``acceptance-station broker-acl --control`` prints for
an operator) and waits for the plugin's answer. "Already exists" is success: a
station enrolling again keeps its role.
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from contract import broker_acl
from contract.broker_config import BrokerSection
from contract.mqtt import make_client


def add_station(broker: BrokerSection, station: str, timeout_s: float = 10.0) -> str | None:
    """None when the station's role and client exist on the broker now; else what failed."""
    done = threading.Event()
    answer: dict[str, Any] = {}
    c = make_client(broker, f"central-admin-enrol-{secrets.token_hex(3)}")

    def on_connect(client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            answer["error"] = f"broker refused the admin connection: {rc}"
            done.set()
            return
        client.subscribe(broker_acl.CONTROL_RESPONSE, qos=1)

    def on_subscribe(client: Any, userdata: Any, mid: Any, rcs: Any, props: Any) -> None:
        if any(r.is_failure for r in rcs):
            answer["error"] = "the admin identity may not read the plugin's answers"
            done.set()
            return
        doc = broker_acl.control_commands(add=[station])
        client.publish(broker_acl.CONTROL_TOPIC, json.dumps(doc), qos=1)

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        try:
            answer["responses"] = json.loads(msg.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            answer["error"] = "the plugin's answer is not readable"
        done.set()

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    try:
        c.connect(broker.host, broker.port, keepalive=broker.keepalive_s)
    except OSError as exc:
        return f"broker unreachable: {exc}"
    c.loop_start()
    try:
        if not done.wait(timeout_s):
            return "no answer from the broker's dynamic-security plugin"
    finally:
        c.disconnect()
        c.loop_stop()
    if "error" in answer:
        return str(answer["error"])
    errors = [str(r.get("error")) for r in answer.get("responses", [])
              if isinstance(r, dict) and r.get("error") and "already exists" not in str(r.get("error"))]
    return "; ".join(errors) or None
