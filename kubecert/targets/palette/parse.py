"""Reading the Palette API's documents tolerantly: unknown fields are ignored, optional ones may be
missing, dates may or may not carry fractions of a second. What cannot be understood becomes a problem
naming the field, never an exception.
"""

from __future__ import annotations

from typing import Any

from kubecert.inventory.platform import (
    IN_PROGRESS_STATES,
    MAX_LISTED_MACHINES,
    MAX_LISTED_PER_MACHINE,
    ClusterObject,
    Machine,
    MachineCertificates,
    ReportedCertificate,
    canonical_name,
    parse_time,
)

KUBERNETES_LAYER = "k8s"  # a cluster profile pack's layer (V1PackRef.layer) that carries Kubernetes


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def certificates(document: Any) -> tuple[tuple[MachineCertificates, ...], list[str]]:
    """machineCertificates[] {name, certificateAuthorities[] {name, expiry, certificates[] {name, expiry}}}."""
    problems: list[str] = []
    machines = []
    entries = _mapping(document).get("machineCertificates")
    if not isinstance(entries, list):
        return (), ["machineCertificates: missing or not a list"]
    if len(entries) > MAX_LISTED_MACHINES:
        problems.append(f"machineCertificates lists {len(entries)} machines; only the first {MAX_LISTED_MACHINES} "
                        "are read")
    for i, raw_entry in enumerate(entries[:MAX_LISTED_MACHINES]):
        where = f"machineCertificates[{i}]"
        entry = _mapping(raw_entry)
        machine = _text(entry.get("name")) or f"(machine {i + 1}, unnamed)"
        found: list[ReportedCertificate] = []
        for j, raw_authority in enumerate(_list(entry.get("certificateAuthorities"))[:MAX_LISTED_PER_MACHINE + 1]):
            authority = _mapping(raw_authority)
            ca_name = _text(authority.get("name")) or f"(CA {j + 1}, unnamed)"
            found.append(_record(machine, ca_name, ca_name, True, authority.get("expiry")))
            for raw_leaf in _list(authority.get("certificates"))[:MAX_LISTED_PER_MACHINE + 1]:
                leaf = _mapping(raw_leaf)
                found.append(_record(machine, _text(leaf.get("name")) or "(unnamed)", ca_name, False,
                                     leaf.get("expiry")))
        if not found:
            problems.append(f"{where} ({machine}): no certificateAuthorities")
        if len(found) > MAX_LISTED_PER_MACHINE:
            problems.append(f"{where} ({machine}) lists {len(found)} certificates; only the first "
                            f"{MAX_LISTED_PER_MACHINE} are read")
        machines.append(MachineCertificates(machine, tuple(found[:MAX_LISTED_PER_MACHINE])))
    return tuple(machines), problems


def _record(machine: str, name: str, authority: str, is_ca: bool, expiry: Any) -> ReportedCertificate:
    return ReportedCertificate(machine, name, canonical_name(name), authority, is_ca, parse_time(expiry), expiry)


def cluster(document: Any, uid: str) -> ClusterObject:
    metadata, spec, status = (_mapping(_mapping(document).get(k)) for k in ("metadata", "spec", "status"))
    annotations = {str(k): str(v) for k, v in _mapping(metadata.get("annotations")).items()}
    return ClusterObject(
        uid=_text(metadata.get("uid")) or uid, name=_text(metadata.get("name")),
        created=parse_time(metadata.get("creationTimestamp")), state=_short(status.get("state")),
        repave_state=_short(_mapping(status.get("repave")).get("state")), cloud_type=_text(spec.get("cloudType")),
        config_uid=_text(_mapping(spec.get("cloudConfigRef")).get("uid")), annotations=annotations,
        condition_in_progress=any(
            str(_mapping(c).get("reason", "")).lower() in IN_PROGRESS_STATES for c in _list(status.get("conditions"))
        ),
        pack_versions=pack_versions(status.get("packs")),
    )


MAX_STATE_CHARS = 64  # a state is one word of an enum; what goes past this is no state the API documents


def _short(value: Any) -> str | None:
    """A state as the API sent it, cut at MAX_STATE_CHARS: it is shown on every progress line."""
    text = _text(value)
    return text if text is None or len(text) <= MAX_STATE_CHARS else text[:MAX_STATE_CHARS] + "…"


def pack_versions(packs: Any) -> dict[str, str]:
    """status.packs[] {name, version} (``tag`` where an implementation says so): what the cluster runs."""
    found = {}
    for raw_pack in _list(packs)[:MAX_LISTED_PER_MACHINE]:
        pack = _mapping(raw_pack)
        name, version = _text(pack.get("name")), _text(pack.get("version")) or _text(pack.get("tag"))
        if name and version:
            found[name] = version
    return found


MAX_REPAVE_REASONS = 10
MAX_REASON_CHARS = 200


def repave_reasons(document: Any) -> list[str]:
    """spec.reasons[] {code, message} of a repave's status (GET /v1/spectroclusters/{uid}/repave/status), each as
    "code: message", at most MAX_REPAVE_REASONS of them and MAX_REASON_CHARS each: the API's words, to show."""
    found = []
    for raw_reason in _list(_mapping(_mapping(document).get("spec")).get("reasons"))[:MAX_REPAVE_REASONS]:
        reason = _mapping(raw_reason)
        words = ": ".join(text for text in (_text(reason.get("code")), _text(reason.get("message"))) if text)
        if words:
            found.append(words if len(words) <= MAX_REASON_CHARS else words[:MAX_REASON_CHARS] + "…")
    return found


def pools(document: Any) -> list[tuple[str, bool]]:
    """(name, is control plane) of each machine pool of a cloud config."""
    found = []
    for raw_pool in _list(_mapping(_mapping(document).get("spec")).get("machinePoolConfig")):
        pool = _mapping(raw_pool)
        name = _text(pool.get("name"))
        if name:
            found.append((name, bool(pool.get("isControlPlane"))))
    return found


def machines(items: list[Any], pool: str, control_plane: bool) -> list[Machine]:
    found = []
    for raw_item in items:
        item = _mapping(raw_item)
        metadata, status = _mapping(item.get("metadata")), _mapping(item.get("status"))
        name = _text(metadata.get("name"))
        if name is None:
            continue
        # The SDK's machines name their host in spec.dnsName (V1AwsMachineSpec); others list addresses.
        dns_name = _text(_mapping(item.get("spec")).get("dnsName"))
        hostnames: tuple[str, ...] = (dns_name,) if dns_name else ()
        hostnames += tuple(
            str(a.get("address")) for a in map(_mapping, _list(status.get("addresses")))
            if str(a.get("type", "")).lower() in ("hostname", "internaldns") and a.get("address")
        )
        found.append(Machine(
            uid=_text(metadata.get("uid")), name=name, pool=pool, control_plane=control_plane,
            state=_text(status.get("instanceState")), created=parse_time(metadata.get("creationTimestamp")),
            deleting=parse_time(metadata.get("deletionTimestamp")), hostnames=hostnames,
        ))
    return found


def next_page(document: Any, offset: int, received: int) -> dict[str, Any] | None:
    """The query of the following page, from ``listmeta`` (a continue token, else offset and count)."""
    listmeta = _mapping(_mapping(document).get("listmeta"))
    token = _text(listmeta.get("continue"))
    if token:
        return {"continue": token}
    count = listmeta.get("count")
    if isinstance(count, int) and received and offset + received < count:
        return {"offset": offset + received}
    return None


def profile_templates(document: Any) -> list[tuple[str | None, str | None]]:
    """(uid, name) of each cluster profile version a cluster object says is attached (spec.clusterProfileTemplates)."""
    templates = _list(_mapping(_mapping(document).get("spec")).get("clusterProfileTemplates"))
    return [(_text(t.get("uid")), _text(t.get("name"))) for t in map(_mapping, templates[:MAX_LISTED_PER_MACHINE])]


def kubernetes_pack(document: Any) -> tuple[str | None, str | None, str | None]:
    """(profile name, Kubernetes pack name, its tag) of a cluster profile version (V1ClusterProfile): the pack of
    layer k8s of its published template (its draft, when it has none)."""
    spec = _mapping(_mapping(document).get("spec"))
    template = _mapping(spec.get("published")) or _mapping(spec.get("draft"))
    packs = map(_mapping, _list(template.get("packs"))[:MAX_LISTED_PER_MACHINE])
    pack = next((p for p in packs if p.get("layer") == KUBERNETES_LAYER), {})
    name = _text(_mapping(_mapping(document).get("metadata")).get("name"))
    return name, _text(pack.get("name")), _text(pack.get("tag"))
