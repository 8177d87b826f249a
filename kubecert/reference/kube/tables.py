"""Content negotiation and server-side printing (``meta.k8s.io`` Table), which ``kubectl get`` asks for.

kubectl sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;
v=v1beta1;g=meta.k8s.io,application/json`` and prints whatever columns the server defines, upper-cased.
The columns here are kube-apiserver's for each resource (a custom resource without printer columns
gets Name and Age).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubecert.reference.kube.discovery import CONFIGMAPS, EVENTS, NAMESPACES, NODES, PODS, Resource
from kubecert.reference.kube.objects import ApiError, node_roles
from kubecert.reference.pki.expiration import human_duration

JSON = "application/json"
TABLE_GROUP = "meta.k8s.io"
TABLE_VERSIONS = ("v1", "v1beta1")
_JSON_TYPES = frozenset({JSON, "application/*", "*/*"})
_MAX_ACCEPT_ENTRIES = 32  # an Accept header is short; more is not a client worth parsing for


@dataclass(frozen=True)
class Representation:
    """What to answer with: plain JSON, or a Table of ``table_version``."""

    table_version: str | None = None

    @property
    def content_type(self) -> str:
        if self.table_version is None:
            return JSON
        return f"{JSON};as=Table;v={self.table_version};g={TABLE_GROUP}"


def negotiate(accept: str, *, tables: bool) -> Representation:
    """The first acceptable entry of ``accept``; ``tables`` says whether a Table may be given."""
    if not accept.strip():
        return Representation()
    for entry in accept.split(",")[:_MAX_ACCEPT_ENTRIES]:
        media, *raw_params = (part.strip() for part in entry.split(";"))
        params = dict(p.split("=", 1) for p in raw_params if "=" in p)
        if media.lower() not in _JSON_TYPES:
            continue  # protobuf, YAML: not served
        shape = params.get("as")
        if shape is None:
            return Representation()
        if tables and shape == "Table" and params.get("g") == TABLE_GROUP and params.get("v") in TABLE_VERSIONS:
            return Representation(params["v"])
        # Anything else (aggregated discovery, PartialObjectMetadata): skip, so the client falls back.
    raise ApiError(406, "only application/json (and meta.k8s.io Tables of lists) can be served")


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    cell: Callable[[dict[str, Any], dt.datetime], Any]
    type: str = "string"
    format: str = ""
    priority: int = 0


def _age(document: dict[str, Any], now: dt.datetime) -> str:
    created = dt.datetime.fromisoformat(document["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    return human_duration(int((now - created).total_seconds()))


def _node_status(document: dict[str, Any], _now: dt.datetime) -> str:
    ready = [c for c in document["status"].get("conditions", []) if c["type"] == "Ready"]
    return "Ready" if ready and ready[0]["status"] == "True" else "NotReady"


def _address(kind: str) -> Callable[[dict[str, Any], dt.datetime], str]:
    def cell(document: dict[str, Any], _now: dt.datetime) -> str:
        found = [a["address"] for a in document["status"].get("addresses", []) if a["type"] == kind]
        return found[0] if found else "<none>"
    return cell


def _info(field: str) -> Callable[[dict[str, Any], dt.datetime], str]:
    return lambda document, _now: str(document["status"]["nodeInfo"].get(field, "<unknown>"))


def _pod_status(document: dict[str, Any], _now: dt.datetime) -> str:
    """What kubectl shows: the pod's reason, else its container's waiting or ending reason, else its phase."""
    status = document.get("status", {})
    if status.get("reason"):
        return str(status["reason"])
    for container in status.get("containerStatuses") or []:
        state = container.get("state", {})
        for key in ("waiting", "terminated"):
            if state.get(key, {}).get("reason"):
                return str(state[key]["reason"])
    return str(status.get("phase", "Pending"))


def _ready(document: dict[str, Any], _now: dt.datetime) -> str:
    statuses = document.get("status", {}).get("containerStatuses") or []
    return f"{sum(1 for c in statuses if c.get('ready'))}/{len(document['spec'].get('containers', []))}"


def _event_age(document: dict[str, Any], now: dt.datetime) -> str:
    return _age({"metadata": {"creationTimestamp": document.get("lastTimestamp")
                              or document["metadata"]["creationTimestamp"]}}, now)


_NAME = Column("Name", "Name must be unique within a namespace.", lambda d, _now: d["metadata"]["name"],
               format="name")
_AGE = Column("Age", "CreationTimestamp is a timestamp representing the server time when this object was created.",
              _age)
_COLUMNS: dict[str, tuple[Column, ...]] = {
    NODES.name: (
        _NAME,
        Column("Status", "The status of the node", _node_status),
        Column("Roles", "The roles of the node", lambda d, _now: ",".join(node_roles(d)) or "<none>"),
        _AGE,
        Column("Version", "Kubelet Version reported by the node.", _info("kubeletVersion")),
        Column("Internal-IP", "List of internal IPs for the node.", _address("InternalIP"), priority=1),
        Column("External-IP", "List of external IPs for the node.", _address("ExternalIP"), priority=1),
        Column("OS-Image", "OS image reported by the node.", _info("osImage"), priority=1),
        Column("Kernel-Version", "Kernel version reported by the node.", _info("kernelVersion"), priority=1),
        Column("Container-Runtime", "Container runtime version reported by the node.",
               _info("containerRuntimeVersion"), priority=1),
    ),
    NAMESPACES.name: (_NAME, Column("Status", "The status of the namespace", lambda d, _now: d["status"]["phase"]),
                      _AGE),
    CONFIGMAPS.name: (_NAME, Column("Data", "Number of data entries", lambda d, _now: len(d.get("data", {})),
                                    type="integer"), _AGE),
    PODS.name: (
        _NAME,
        Column("Ready", "The aggregate readiness state of this pod for accepting traffic.", _ready),
        Column("Status", "The aggregate status of the containers in this pod.", _pod_status),
        Column("Restarts", "The number of times the containers in this pod have been restarted.",
               lambda d, _now: str(sum(c.get("restartCount", 0) for c in d.get("status", {}).get(
                   "containerStatuses") or []))),
        _AGE,
        Column("IP", "IP address allocated to the pod.", lambda d, _now: d.get("status", {}).get("podIP", "<none>"),
               priority=1),
        Column("Node", "Name of the node where the pod runs.", lambda d, _now: d["spec"].get("nodeName") or "<none>",
               priority=1),
    ),
    EVENTS.name: (
        Column("Last Seen", "Time since the event was last seen.", _event_age),
        Column("Type", "Type of the event.", lambda d, _now: d.get("type", "")),
        Column("Reason", "Why the event was reported.", lambda d, _now: d.get("reason", "")),
        Column("Object", "What the event is about.", lambda d, _now: f"pod/{d['involvedObject']['name']}"),
        Column("Message", "What the event says.", lambda d, _now: d.get("message", "")),
    ),
}


def table_document(resource: Resource, documents: list[dict[str, Any]], *, version: str, revision: int,
                   now: dt.datetime, include_object: str = "PartialObjectMetadata") -> dict[str, Any]:
    """A Table of ``documents``; each row carries the object as ``include_object`` asks
    (None, Object or PartialObjectMetadata, the default)."""
    if include_object not in ("None", "Object", "PartialObjectMetadata"):
        raise ApiError(400, "includeObject must be None, Object or PartialObjectMetadata")
    columns = _COLUMNS.get(resource.name, (_NAME, _AGE))
    rows = []
    for document in documents:
        row: dict[str, Any] = {"cells": [column.cell(document, now) for column in columns]}
        if include_object == "Object":
            row["object"] = document
        elif include_object == "PartialObjectMetadata":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": f"{TABLE_GROUP}/{version}",
                             "metadata": document["metadata"]}
        rows.append(row)
    return {
        "kind": "Table", "apiVersion": f"{TABLE_GROUP}/{version}", "metadata": {"resourceVersion": str(revision)},
        "columnDefinitions": [{"name": c.name, "type": c.type, "format": c.format, "description": c.description,
                               "priority": c.priority} for c in columns],
        "rows": rows,
    }
