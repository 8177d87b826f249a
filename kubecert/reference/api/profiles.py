"""The reference's cluster profiles, as Palette versions them: each version of a profile is a profile of its own
with its own uid, and a cluster runs one of them (``spec.clusterProfileTemplates``). Upgrading a cluster is
applying another version: ``PATCH /v1/spectroclusters/{uid}/profiles`` with the new version's ``uid`` and, in
``replaceWithProfile``, the attached version it replaces (what the SDK's own client sends).

Each seeded cluster has one profile, named after the cluster, with one pack, ``kubernetes`` (layer k8s), and a
version of it for each release in ``PUBLISHED`` (the version is named after the Kubernetes release it carries).
A version's uid is derived from the cluster's profile and the release, so nothing new is stored: the attached
version is the one the latest upgrade asked for (Palette changes a cluster's spec at once; its status follows
when the upgrade is done), else the release the cluster runs.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from typing import Any

from kubecert.reference.platform.engine import KUBERNETES_PACK, KUBERNETES_VERSION

# The releases the reference publishes a profile version for: the one clusters are seeded with, and later ones.
PUBLISHED = (KUBERNETES_VERSION, "1.31.5", "1.31.6", "1.32.2")
PROFILE_TYPE = "cluster"


@dataclass(frozen=True)
class ProfileVersion:
    uid: str
    name: str  # the profile's name: every version of it has the same
    release: str  # the Kubernetes version its kubernetes pack carries (and the version's own name)
    cloud_type: str

    def template(self, *, values: bool = False) -> dict[str, Any]:
        """The version as a V1ClusterProfileTemplate; ``values``: with its pack's values resolved."""
        pack: dict[str, Any] = {"layer": "k8s", "name": KUBERNETES_PACK, "tag": self.release, "type": "spectro",
                                "version": self.release}
        if values:
            pack["values"] = f"pack:\n  k8sHardening: true\nkubeadmconfig:\n  kubernetesVersion: v{self.release}\n"
        return {"cloudType": self.cloud_type, "name": self.name, "packs": [pack], "profileVersion": self.release,
                "type": PROFILE_TYPE, "uid": self.uid}


def version_uid(profile: str, release: str) -> str:
    """The uid of ``profile``'s version for ``release``: 24 hex digits, as Palette's uids."""
    return hashlib.sha256(f"{profile}/{release}".encode()).hexdigest()[:24]


def versions(cluster: sqlite3.Row) -> dict[str, ProfileVersion]:
    """Every version of the cluster's profile, by uid (the release the cluster runs among them)."""
    releases = dict.fromkeys((*PUBLISHED, cluster["kubernetes_version"]))
    name = f"{cluster['name']}-profile"
    found = (ProfileVersion(version_uid(cluster["profile_uid"], release), name, release, cluster["cloud_type"])
             for release in releases)
    return {version.uid: version for version in found}


def by_release(cluster: sqlite3.Row, release: str) -> ProfileVersion:
    """The version that carries ``release`` (KeyError when there is none)."""
    return {v.release: v for v in versions(cluster).values()}[release]


def later(cluster: sqlite3.Row) -> list[ProfileVersion]:
    """The versions that carry a later release than the cluster runs: what it can be upgraded to."""
    running = release_key(cluster["kubernetes_version"])
    return sorted((v for v in versions(cluster).values() if release_key(v.release) > running),
                  key=lambda v: release_key(v.release))


def release_key(release: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in release.removeprefix("v").split("."))


def attached(db: sqlite3.Connection, cluster: sqlite3.Row) -> ProfileVersion:
    """The version the cluster's spec names: the one the latest upgrade asked for, else the release it runs."""
    row = db.execute("SELECT version FROM renewals WHERE cluster_uid = ? AND kind = 'upgrade' ORDER BY id DESC "
                     "LIMIT 1", (cluster["uid"],)).fetchone()
    releases = {v.release for v in versions(cluster).values()}
    wanted = row["version"] if row is not None and row["version"] in releases else cluster["kubernetes_version"]
    return by_release(cluster, wanted)
