"""The Kubernetes upgrade KC-RPV-10 applies through the API, made as Palette's own client makes it
(palette-sdk-go client/addon_deployment_update.go):
``PATCH /v1/spectroclusters/{uid}/profiles?resolveNotification=true`` with
``{"profiles": [{"uid": NEW, "replaceWithProfile": OLD}]}``, the new version of a cluster profile in place of
the version attached to the cluster. In Palette each version of a profile is a profile with its own uid, and the
Kubernetes release comes with the version (its pack of layer k8s); ``packValues`` only overrides the values of a
pack the profile has, so kubecert sends none.

The user names the new version (``--upgrade-profile UID``: only they know one that fits the cluster). kubecert
reads it (``GET /v1/clusterprofiles/{uid}``) for its name and its Kubernetes pack, and finds the attached version it
replaces among the cluster's ``spec.clusterProfileTemplates`` by that name, as the SDK does (IsProfileAttachedByName),
unless ``--upgrade-replaces UID`` names it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubecert.inventory.platform import Exchange
from kubecert.options import OptionsHint
from kubecert.targets.errors import TargetError, TargetUnavailable
from kubecert.targets.palette import parse
from kubecert.targets.palette.http import ApiClient
from kubecert.text import escaped

MAX_WORD_CHARS = 256
QUERY = {"resolveNotification": "true"}  # what the SDK's client sends with a profile update
REASON = OptionsHint("give --upgrade-profile UID (the uid of the cluster profile version to upgrade the cluster to: "
                     "one that carries a Kubernetes release the cluster does not run yet) to let kubecert upgrade "
                     "the cluster", ("--upgrade-profile",))


@dataclass(frozen=True)
class UpgradeAsk:
    """What the user named: the new profile version, and (optionally) the attached one it replaces."""

    profile_uid: str
    replaces: str | None = None


@dataclass(frozen=True)
class UpgradeRequest:
    """The upgrade, as the API says it: the new version, the release its Kubernetes pack carries, and the attached
    version it replaces."""

    profile_uid: str
    version: str
    pack: str
    replaces: str
    profile_name: str = ""

    def body(self) -> dict[str, Any]:
        return {"profiles": [{"uid": self.profile_uid, "replaceWithProfile": self.replaces}]}


def ask_from(uri: str, options: Mapping[str, Any]) -> UpgradeAsk | None:
    """The user's upgrade, or None when they asked for none; a replaced version without a new one is a usage
    error."""
    profile, replaces = (_word(uri, options, name) for name in ("upgrade-profile", "upgrade-replaces"))
    if profile is None:
        if replaces is not None:
            raise TargetError(f"{uri}: --upgrade-replaces names the profile version an upgrade replaces; give "
                              "--upgrade-profile UID too (the version that replaces it)")
        return None
    if replaces == profile:
        raise TargetError(f"{uri}: --upgrade-profile and --upgrade-replaces name the same profile version; an "
                          "upgrade replaces the attached version with another")
    return UpgradeAsk(profile, replaces)


def resolve(client: ApiClient, target: str, cluster_path: str, ask: UpgradeAsk) -> UpgradeRequest:
    """The upgrade ``ask`` names, read from the API; TargetUnavailable saying what is missing when it cannot be."""
    new = ask.profile_uid
    read = client.request("GET", f"/v1/clusterprofiles/{urllib.parse.quote(new, safe='')}")
    name, pack_name, release = parse.kubernetes_pack(_answer(target, read, f"--upgrade-profile {new}: the cluster "
                                                                       "profile version"))
    if not release or not pack_name:
        raise TargetUnavailable(f"{target}: --upgrade-profile {new}: the cluster profile version{_named(name)} has no "
                                f"pack of layer {parse.KUBERNETES_LAYER} with a name and a tag, so it names no "
                                "Kubernetes release to upgrade to")
    replaces = ask.replaces or _attached(client, target, cluster_path, new, name)
    return UpgradeRequest(new, release, pack_name, replaces, name or "")


def _attached(client: ApiClient, target: str, cluster_path: str, new: str, name: str | None) -> str:
    """The uid of the attached profile version of the same name (the SDK's IsProfileAttachedByName)."""
    attached = parse.profile_templates(_answer(target, client.request("GET", cluster_path), "the cluster object"))
    if any(uid == new for uid, _ in attached):
        raise TargetUnavailable(f"{target}: --upgrade-profile {new} is attached to the cluster already: name a version "
                                "it does not run")
    matching = [uid for uid, attached_name in attached if uid and name and attached_name == name]
    if len(matching) == 1:
        return matching[0]
    listed = ", ".join(f"{escaped(n or '(no name)')[:64]} ({escaped(u or '?')[:64]})" for u, n in attached) or "none"
    raise TargetUnavailable(f"{target}: --upgrade-profile {new}: {'no' if not matching else 'more than one'} "
                            f"attached cluster profile is named{_named(name) or ' as it is'} (attached: {listed}); "
                            "give --upgrade-replaces UID, the attached version it replaces")


def _answer(target: str, exchange: Exchange, what: str) -> dict[str, Any]:
    if exchange.status == 200 and isinstance(exchange.document, dict):
        return exchange.document
    request = f"{exchange.method} {exchange.path}"
    if exchange.status is None:
        said = f"{request} got no answer: {exchange.error}"
    elif exchange.status == 200:
        said = f"{request} answered 200 but not a JSON object" + (f" ({exchange.error})" if exchange.error else "")
    else:
        code = exchange.document.get("code") if isinstance(exchange.document, dict) else None
        said = f"{request} answered {exchange.status}" + (f" {escaped(str(code))[:64]}" if code else "")
    raise TargetUnavailable(f"{target}: {what} could not be read: {said}")


def _named(name: str | None) -> str:
    return f" {escaped(name)[:128]!r}" if name else ""


def _word(uri: str, options: Mapping[str, Any], name: str) -> str | None:
    raw = options.get(name)
    if raw is None:
        return None
    text = str(raw).strip()
    if not text or len(text) > MAX_WORD_CHARS or any(c.isspace() or not c.isprintable() for c in text):
        raise TargetError(f"{uri}: --{name} {raw!r} is not one word of at most {MAX_WORD_CHARS} characters")
    return text
