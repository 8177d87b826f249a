"""The JSON documents the routes answer with, read from one consistent snapshot of the platform.

Shapes follow the Palette API specification ("Palette APIs - 4.8"); dates are RFC 3339 with
milliseconds and ``Z``, as Palette writes them.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

from kubecert.reference.platform import machine_pki
from kubecert.reference.platform.engine import (
    ACTIVE_STATES,
    AWAITING_APPROVAL,
    CONTROL_PLANE_POOL,
    KUBERNETES_PACK,
    LIVE_STATES,
    Platform,
)

SPC_GROUP = "cluster.spectrocloud.com"
SPC_VERSIONS = ("v1alpha1", "v1")
PAGE_LIMIT = 50
# A continue token is the next page's offset in decimal: simple enough for the OpenAPI document to say
# exactly which tokens there are, so that any token it allows is one the server can follow.
CONTINUE_PATTERN = "^[0-9]{0,9}$"


def rfc3339(moment: dt.datetime | float | None) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _renewal(db: sqlite3.Connection, cluster_uid: str) -> sqlite3.Row | None:
    marks = ",".join("?" * len(ACTIVE_STATES))
    return db.execute(  # type: ignore[no-any-return]
        f"SELECT * FROM renewals WHERE cluster_uid = ? ORDER BY (state IN ({marks})) DESC, id DESC "  # noqa: S608
        "LIMIT 1", (cluster_uid, *ACTIVE_STATES),
    ).fetchone()


def cluster_document(db: sqlite3.Connection, cluster: sqlite3.Row) -> dict[str, Any]:
    renewal = _renewal(db, cluster["uid"])
    repave = Platform.repave_status(db, cluster["uid"])  # an approval state: Pending (held), Approved
    repave_state, conditions = repave.state if repave is not None else "", []
    if renewal is not None:
        held = renewal["state"] == AWAITING_APPROVAL
        active = renewal["state"] in ACTIVE_STATES and not held
        conditions.append({
            "type": "KubernetesUpgraded" if renewal["kind"] == "upgrade" else "CertificatesRenewed",
            "status": "False" if active or held else "True",
            "reason": "WaitingForApproval" if held else "InProgress" if active else "Completed",
            "lastTransitionTime": rfc3339(renewal["finished_at"] or renewal["started_at"] or renewal["requested_at"]),
        })
    return {
        "apiVersion": "v1", "kind": "SpectroCluster",
        "metadata": {
            "uid": cluster["uid"], "name": cluster["name"], "annotations": json.loads(cluster["annotations"]),
            "labels": {}, "creationTimestamp": rfc3339(cluster["created_at"]),
        },
        "spec": {"cloudType": cluster["cloud_type"],
                 "cloudConfigRef": {"kind": f"{cluster['cloud_type']}CloudConfig", "uid": cluster["config_uid"]}},
        "status": {"state": "Running", "conditions": conditions, "repave": {"state": repave_state},
                   # What the cluster runs: the version changes when an upgrade has completed.
                   "packs": [{"name": KUBERNETES_PACK, "profileUid": cluster["profile_uid"],
                              "version": cluster["kubernetes_version"]}]},
    }


def cloud_config_document(db: sqlite3.Connection, cluster: sqlite3.Row) -> dict[str, Any]:
    pools = db.execute("SELECT * FROM pools WHERE cluster_uid = ? ORDER BY control_plane DESC, name",
                       (cluster["uid"],)).fetchall()
    return {
        "metadata": {"uid": cluster["config_uid"], "name": cluster["name"]},
        "spec": {"machinePoolConfig": [
            {"name": p["name"], "isControlPlane": bool(p["control_plane"]), "size": p["size"],
             "updateStrategy": {"type": "RollingUpdateScaleOut"}}
            for p in pools
        ]},
    }


def machine_document(row: sqlite3.Row) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": row["name"], "uid": row["uid"],
                                "creationTimestamp": rfc3339(row["created_at"])}
    if row["deleting_at"] is not None:
        metadata["deletionTimestamp"] = rfc3339(row["deleting_at"])
    running = row["state"] == "Running"
    return {
        "metadata": metadata,
        "status": {
            "instanceState": row["state"], "ready": running,
            "health": {"state": "Healthy" if running else "Unknown"},
            "addresses": [{"type": "InternalIP", "address": row["address"]},
                          {"type": "Hostname", "address": row["name"]}],
        },
    }


def machines_page(db: sqlite3.Connection, cluster: sqlite3.Row, pool: str, offset: int, limit: int) -> dict[str, Any]:
    marks = ",".join("?" * len(LIVE_STATES))
    rows = db.execute(
        f"SELECT * FROM machines WHERE cluster_uid = ? AND pool = ? AND state IN ({marks}) "  # noqa: S608 - marks only
        "ORDER BY created_at, name", (cluster["uid"], pool, *LIVE_STATES),
    ).fetchall()
    page = rows[offset:offset + limit]
    following = offset + len(page)
    token = str(following) if following < len(rows) else ""  # opaque to clients; CONTINUE_PATTERN describes it
    return {"items": [machine_document(r) for r in page],
            "listmeta": {"continue": token, "count": len(rows), "limit": limit, "offset": offset}}


def certificates_document(platform: Platform, db: sqlite3.Connection, cluster: sqlite3.Row) -> dict[str, Any]:
    """Each control-plane machine's certificates, read from its own PKI folder."""
    rows = db.execute(
        "SELECT * FROM machines WHERE cluster_uid = ? AND pool = ? AND state IN ('Running', 'Deleting') "
        "ORDER BY created_at, name", (cluster["uid"], CONTROL_PLANE_POOL),
    ).fetchall()
    entries = []
    for row in rows:
        folder = platform.machine_dir(cluster["uid"], row["uid"])
        try:
            authorities = machine_pki.listing(folder)
        except (OSError, ValueError):  # the machine was removed while we read it
            continue
        entries.append({"name": row["name"], "certificateAuthorities": [_authority(a, platform) for a in authorities]})
    return {"machineCertificates": entries}


def _authority(authority: machine_pki.ListedAuthority, platform: Platform) -> dict[str, Any]:
    leaves = [c for c in authority.certificates
              if not (platform.fault("missing-leaf") and c.name == "kube-etcd-peer")]
    return {
        "certificates": [{"expiry": _expiry(c.expiry, platform), "name": c.name} for c in leaves],
        "expiry": _expiry(authority.expiry, platform), "name": authority.name,
    }


def _expiry(moment: dt.datetime, platform: Platform) -> Any:
    return int(moment.timestamp()) if platform.fault("expiry-not-rfc3339") else rfc3339(moment)


def spc_document(cluster: sqlite3.Row, version: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{SPC_GROUP}/{version}", "kind": "SpectroCluster",
        "metadata": {
            "name": cluster["name"], "namespace": f"cluster-{cluster['uid']}", "uid": cluster["config_uid"],
            "annotations": json.loads(cluster["spc_annotations"]),
            "creationTimestamp": rfc3339(cluster["created_at"]), "generation": 1,
            "resourceVersion": str(cluster["spc_generation"]),
        },
        "spec": {"clusterUid": cluster["uid"]},
    }
