"""The JSON documents the routes answer with, read from one consistent snapshot of the platform.

Shapes are the SDK's models (spec/models.json names each; the tests validate every answer against them);
dates are RFC 3339 with milliseconds and ``Z``, as Palette writes them.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

from kubecert.reference.api import profiles
from kubecert.reference.platform import machine_pki
from kubecert.reference.platform.engine import (
    ACTIVE_STATES,
    AWAITING_APPROVAL,
    CONTROL_PLANE_POOL,
    KUBERNETES_PACK,
    LIVE_STATES,
    Platform,
)

PAGE_LIMIT = 50
CLOUD_CONFIG_KIND = "AwsCloudConfig"  # the reference's clusters are AWS clusters
# What every reference machine is said to run on: the shapes of an AWS machine need them (V1AwsMachineSpec).
AMI, INSTANCE_TYPE, VPC = "ami-0123456789abcdef0", "m5.xlarge", "vpc-0123456789abcdef0"
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


def cluster_document(db: sqlite3.Connection, cluster: sqlite3.Row, *, resolve_values: bool = False) -> dict[str, Any]:
    """The cluster as a V1SpectroCluster; ``resolve_values`` (``?resolvePackValues=true``): with its packs' values."""
    renewal = _renewal(db, cluster["uid"])
    conditions: list[dict[str, Any]] = []
    status: dict[str, Any] = {"state": "Running", "conditions": conditions}
    repave = Platform.repave_status(db, cluster["uid"])
    if repave is not None:  # an approval state (the SDK's v1ClusterRepaveState): Pending (held), Approved
        status["repave"] = {"state": repave.state}
    if renewal is not None:
        held = renewal["state"] == AWAITING_APPROVAL
        active = renewal["state"] in ACTIVE_STATES and not held
        conditions.append({
            "type": "KubernetesUpgraded" if renewal["kind"] == "upgrade" else "CertificatesRenewed",
            "status": "False" if active or held else "True",
            "reason": "WaitingForApproval" if held else "InProgress" if active else "Completed",
            "lastTransitionTime": rfc3339(renewal["finished_at"] or renewal["started_at"] or renewal["requested_at"]),
        })
    running = profiles.by_release(cluster, cluster["kubernetes_version"])
    # What the cluster runs: the version changes when an upgrade has completed.
    status["packs"] = [{"name": KUBERNETES_PACK, "profileUid": running.uid, "type": "spectro",
                        "version": cluster["kubernetes_version"]}]
    return {
        "apiVersion": "v1", "kind": "SpectroCluster",
        "metadata": {
            "uid": cluster["uid"], "name": cluster["name"], "annotations": json.loads(cluster["annotations"]),
            "labels": {}, "creationTimestamp": rfc3339(cluster["created_at"]),
        },
        "spec": {"cloudType": cluster["cloud_type"],
                 "cloudConfigRef": {"kind": CLOUD_CONFIG_KIND, "uid": cluster["config_uid"]},
                 # What the cluster is to run: it changes when a profile update is accepted.
                 "clusterProfileTemplates": [profiles.attached(db, cluster).template(values=resolve_values)]},
        "status": status,
    }


def profile_document(version: profiles.ProfileVersion, created: float) -> dict[str, Any]:
    """``GET /v1/clusterprofiles/{uid}``: one version of a cluster profile, as a published V1ClusterProfile."""
    return {
        "apiVersion": "v1", "kind": "ClusterProfile",
        "metadata": {"name": version.name, "uid": version.uid, "creationTimestamp": rfc3339(created)},
        "spec": {"published": version.template(), "version": version.release},
    }


def cloud_config_document(db: sqlite3.Connection, cluster: sqlite3.Row) -> dict[str, Any]:
    """The cluster's machine pools, as a V1AwsCloudConfig."""
    pools = db.execute("SELECT * FROM pools WHERE cluster_uid = ? ORDER BY control_plane DESC, name",
                       (cluster["uid"],)).fetchall()
    return {
        "apiVersion": "v1", "kind": CLOUD_CONFIG_KIND,
        "metadata": {"uid": cluster["config_uid"], "name": cluster["name"],
                     "creationTimestamp": rfc3339(cluster["created_at"])},
        "spec": {"machinePoolConfig": [
            {"name": p["name"], "isControlPlane": bool(p["control_plane"]), "size": p["size"],
             "instanceType": INSTANCE_TYPE, "updateStrategy": {"type": "RollingUpdateScaleOut"},
             "useControlPlaneAsWorker": False}
            for p in pools
        ]},
    }


def machine_document(row: sqlite3.Row) -> dict[str, Any]:
    """One machine as a V1AwsMachine: its host name is the spec's dnsName, as EC2 names it from its address."""
    metadata: dict[str, Any] = {"name": row["name"], "uid": row["uid"],
                                "creationTimestamp": rfc3339(row["created_at"])}
    if row["deleting_at"] is not None:
        metadata["deletionTimestamp"] = rfc3339(row["deleting_at"])
    running = row["state"] == "Running"
    return {
        "apiVersion": "v1", "kind": "AwsMachine",
        "metadata": metadata,
        "spec": {"ami": AMI, "instanceType": INSTANCE_TYPE, "vpcId": VPC,
                 "dnsName": f"ip-{row['address'].replace('.', '-')}.ec2.internal"},
        "status": {"instanceState": row["state"], "health": {"state": "Healthy" if running else "Unknown"}},
    }


def machines_page(db: sqlite3.Connection, cluster: sqlite3.Row, pool: str, offset: int, limit: int) -> dict[str, Any]:
    """A page of a pool's machines, as V1AwsMachines. As the SDK's V1ListMetaData says: ``limit`` is how many
    were fetched, ``offset`` where the next page starts, ``continue`` the next page's token (empty on the last)."""
    marks = ",".join("?" * len(LIVE_STATES))
    rows = db.execute(
        f"SELECT * FROM machines WHERE cluster_uid = ? AND pool = ? AND state IN ({marks}) "  # noqa: S608 - marks only
        "ORDER BY created_at, name", (cluster["uid"], pool, *LIVE_STATES),
    ).fetchall()
    page = rows[offset:offset + limit]
    following = offset + len(page)
    token = str(following) if following < len(rows) else ""  # opaque to clients; CONTINUE_PATTERN describes it
    return {"items": [machine_document(r) for r in page],
            "listmeta": {"continue": token, "count": len(rows), "limit": len(page), "offset": following}}


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
