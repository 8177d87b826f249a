"""A profile update (``PATCH /v1/spectroclusters/{uid}/profiles``, the SDK's V1SpectroClusterProfiles) read
against one cluster: the Kubernetes release it asks the cluster to run.

Each entry names a cluster profile version by ``uid``. Applying another version of the attached profile (an
upgrade) names, in ``replaceWithProfile``, the attached version it replaces: what the SDK's own client sends
(client/addon_deployment_update.go). ``packValues`` overrides the values of a pack the version has; it does not
change a pack's version: a ``tag`` other than the version's own names no pack of it (404), and the answer says
how to upgrade instead. A request the reference cannot apply is refused before anything starts.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from kubecert.reference.api import models, profiles
from kubecert.reference.api.errors import ApiError, bounded
from kubecert.reference.platform.engine import KUBERNETES_PACK

_SHOWN = 64  # how much of a client's uid or name an error repeats


def requested_release(body: bytes, db: sqlite3.Connection, cluster: sqlite3.Row, *,
                      model: str = "V1SpectroClusterProfiles") -> str:
    """The release the update asks for (the attached one when it changes none); ApiError when it cannot be
    applied, naming the field. ``model`` is the body's SDK model: the profile update's, or the repave
    validation's V1SpectroClusterPacksEntity (the same ``profiles`` entries)."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        raise ApiError(400, "InvalidRequest", "the body is not JSON") from None
    issues = models.problems(model, document)
    if issues:
        raise ApiError(400, "InvalidRequest", f"{bounded(issues[0], 200)} (the body is the SDK's {model})")
    known = profiles.versions(cluster)
    attached = profiles.attached(db, cluster)
    for index, entry in enumerate(document.get("profiles") or []):
        where = f"profiles.{index}"
        uid, replaces = entry.get("uid") or "", entry.get("replaceWithProfile") or ""
        version = known.get(uid)
        if version is None:
            raise ApiError(404, "ResourceNotFound", f"{where}.uid: cluster profile {bounded(uid, _SHOWN)!r} not found")
        if replaces and replaces != attached.uid:
            raise ApiError(404, "ResourceNotFound", f"{where}.replaceWithProfile: cluster profile "
                                                    f"{bounded(replaces, _SHOWN)} is not attached to spectrocluster "
                                                    f"{cluster['uid']}")
        if not replaces and uid != attached.uid:
            raise ApiError(404, "ResourceNotFound", f"{where}: cluster profile {uid} is not attached to spectrocluster "
                                                    f"{cluster['uid']} and replaces none of its profiles; to apply "
                                                    "another version of the attached profile, name the version it "
                                                    "replaces in replaceWithProfile")
        _check_pack_values(entry.get("packValues") or [], version, where)
        attached = version  # the entries apply in turn
    return attached.release


def _check_pack_values(packs: list[dict[str, Any]], version: profiles.ProfileVersion, where: str) -> None:
    for index, pack in enumerate(packs):
        here = f"{where}.packValues.{index}"
        if pack["name"] != KUBERNETES_PACK:
            raise ApiError(404, "ResourceNotFound", f"{here}.name: pack {bounded(pack['name'], _SHOWN)} is not in "
                                                    f"cluster profile {version.uid}")
        tag = pack.get("tag")
        if tag and tag != version.release:
            # packValues refers to a pack the profile version has (name and tag) to override its values.
            raise ApiError(404, "ResourceNotFound", (
                f"{here}: pack {KUBERNETES_PACK} {bounded(tag, _SHOWN)} is not in cluster profile {version.uid}: "
                f"packValues overrides the values of a pack the profile has ({KUBERNETES_PACK} {version.release}) and "
                "does not change its version; to upgrade, apply the profile version that carries the release, with "
                "replaceWithProfile"))
