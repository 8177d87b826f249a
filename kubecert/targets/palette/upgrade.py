"""The Kubernetes upgrade KC-RPV-10 applies through the API: which cluster profile, which pack and which
version (only the user knows a valid one, so they are options), and the body kubecert sends.

``PATCH /v1/spectroclusters/{uid}/profiles`` takes Palette's profile updates, ``{"profiles": [...]}``,
each entry a cluster profile attached to the cluster with the packs to change. kubecert sends the subset
that changes one pack's version: the profile's ``uid`` and one ``packValues`` entry, the pack's ``name``
and its new ``tag``. Nothing else of the profile is sent, so nothing else of it changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubecert.options import OptionsHint
from kubecert.targets.errors import TargetError
from kubecert.targets.palette import DEFAULT_KUBERNETES_PACK

MAX_WORD_CHARS = 256
REASON = OptionsHint("give --upgrade-profile UID and --upgrade-version VERSION (the cluster profile whose Kubernetes "
                     "pack changes, and a version the cluster does not run yet) to let kubecert upgrade the cluster",
                     ("--upgrade-profile", "--upgrade-version"))


@dataclass(frozen=True)
class UpgradeRequest:
    profile_uid: str
    version: str
    pack: str = DEFAULT_KUBERNETES_PACK

    def body(self) -> dict[str, Any]:
        return {"profiles": [{"uid": self.profile_uid, "packValues": [{"name": self.pack, "tag": self.version}]}]}


def request_from(uri: str, options: Mapping[str, Any]) -> UpgradeRequest | None:
    """The user's upgrade, or None when they asked for none; half of one is a usage error."""
    profile, version, pack = (_word(uri, options, name) for name in ("upgrade-profile", "upgrade-version",
                                                                     "upgrade-pack"))
    if profile is None and version is None:
        if pack is not None:
            raise TargetError(f"{uri}: --upgrade-pack names the pack of an upgrade; give --upgrade-profile UID and "
                              "--upgrade-version VERSION too")
        return None
    if profile is None or version is None:
        missing = "--upgrade-profile UID" if profile is None else "--upgrade-version VERSION"
        raise TargetError(f"{uri}: an upgrade needs both --upgrade-profile UID and --upgrade-version VERSION; "
                          f"give {missing} too")
    return UpgradeRequest(profile, version, pack or DEFAULT_KUBERNETES_PACK)


def _word(uri: str, options: Mapping[str, Any], name: str) -> str | None:
    raw = options.get(name)
    if raw is None:
        return None
    text = str(raw).strip()
    if not text or len(text) > MAX_WORD_CHARS or any(c.isspace() or not c.isprintable() for c in text):
        raise TargetError(f"{uri}: --{name} {raw!r} is not one word of at most {MAX_WORD_CHARS} characters")
    return text
