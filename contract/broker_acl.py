"""Who may do what on the broker, as mosquitto dynamic-security data (docs/contract.md §4).

Mosquitto 2.0's ``acl_file`` never checks a SUBSCRIBE (only the delivery), so a
station could join central's shared subscription ``$share/ingest/…`` and be
handed other stations' batches, which the broker then drops. The
dynamic-security plugin checks subscriptions, but in 2.0 it has no ``%u``
patterns: each station gets its own role with literal topics. Everything not
granted is denied (``defaultACLAccess``), and a certificate whose CN is not a
registered client can do nothing at all.

``dynsec_config`` renders the plugin's whole JSON file (a fresh broker);
``control_commands`` renders the ``$CONTROL/dynamic-security/v1`` commands that
add or remove stations on a running broker (sent by the admin client).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contract import protocol

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
CONTROL_RESPONSE = "$CONTROL/dynamic-security/v1/response"
CENTRAL_ROLE = "central"
ADMIN_ROLE = "broker-admin"
DEFAULT_ACCESS = {"publishClientSend": False, "publishClientReceive": False, "subscribe": False,
                  "unsubscribe": True}


def _acl(acltype: str, topic: str) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


def station_role_name(station_id: str) -> str:
    return f"station-{station_id}"


def station_acls(station_id: str) -> list[dict[str, Any]]:
    """A station writes its events and (retained) status, reads its acks and commands; nothing else."""
    own = [protocol.topic(station_id, leaf) for leaf in ("acks", "commands")]
    return ([_acl("publishClientSend", protocol.topic(station_id, leaf)) for leaf in ("events", "status")]
            + [_acl("subscribeLiteral", t) for t in own] + [_acl("publishClientReceive", t) for t in own])


def central_acls() -> list[dict[str, Any]]:
    """Central's workers: shared subscriptions on any station's events and status; acks, commands."""
    shared = [protocol.shared_topic("+", leaf) for leaf in ("events", "status")]
    return ([_acl("subscribePattern", t) for t in shared]
            + [_acl("publishClientReceive", protocol.topic("+", leaf)) for leaf in ("events", "status")]
            + [_acl("publishClientSend", protocol.topic("+", leaf)) for leaf in ("acks", "commands")]
            + [_acl("publishClientSend", warnings_topic("+"))])


def warnings_topic(school_id: str) -> str:
    """Where central publishes a school's warnings (docs/indicators.md)."""
    return f"acceptance/v1/schools/{school_id}/warnings"


def school_role_name(school_id: str) -> str:
    return f"school-{school_id}"


def school_acls(school_id: str) -> list[dict[str, Any]]:
    """A school's subscriber reads its own warnings and nothing else."""
    t = warnings_topic(school_id)
    return [_acl("subscribeLiteral", t), _acl("publishClientReceive", t)]


def admin_acls() -> list[dict[str, Any]]:
    """The admin client edits the plugin's data at run time (add or remove a station)."""
    return [_acl("publishClientSend", CONTROL_TOPIC), _acl("subscribeLiteral", CONTROL_RESPONSE),
            _acl("publishClientReceive", CONTROL_RESPONSE)]


def _client(username: str, role: str) -> dict[str, Any]:
    # No password: these clients authenticate by certificate (use_identity_as_username).
    return {"username": username, "textname": "", "roles": [{"rolename": role, "priority": 0}]}


def dynsec_config(stations: Iterable[str], central_users: Iterable[str], admins: Iterable[str] = (),
                  schools: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """The plugin's JSON file: stations, central users (workers), admins, (user, school) subscribers."""
    ids = sorted(set(stations))
    readers = sorted(set(schools))
    clients = ([_client(s, station_role_name(s)) for s in ids]
               + [_client(u, CENTRAL_ROLE) for u in sorted(set(central_users))]
               + [_client(a, ADMIN_ROLE) for a in sorted(set(admins))]
               + [_client(u, school_role_name(sch)) for u, sch in readers])
    roles = ([{"rolename": station_role_name(s), "acls": station_acls(s)} for s in ids]
             + [{"rolename": CENTRAL_ROLE, "acls": central_acls()},
                {"rolename": ADMIN_ROLE, "acls": admin_acls()}]
             + [{"rolename": school_role_name(sch), "acls": school_acls(sch)}
                for sch in sorted({sch for _, sch in readers})])
    return {"defaultACLAccess": DEFAULT_ACCESS, "clients": clients, "groups": [], "roles": roles}


def control_commands(add: Iterable[str] = (), remove: Iterable[str] = ()) -> dict[str, Any]:
    """One ``$CONTROL/dynamic-security/v1`` message adding and removing stations on a running broker.

    Removing deletes the client (its certificate can then do nothing) and its role;
    connected sessions of a removed station are disconnected by the plugin.
    """
    cmds: list[dict[str, Any]] = []
    for s in add:
        role = station_role_name(s)
        cmds.append({"command": "createRole", "rolename": role})
        cmds += [{"command": "addRoleACL", "rolename": role, **acl} for acl in station_acls(s)]
        cmds.append({"command": "createClient", "username": s, "roles": [{"rolename": role}]})
    for s in remove:
        cmds += [{"command": "deleteClient", "username": s},
                 {"command": "deleteRole", "rolename": station_role_name(s)}]
    return {"commands": cmds}
