"""The certificates an observation holds, summed up as plain data for the report (one list per target): the
HTML report's expiry timeline and the OpenMetrics file are drawn from it, so both work from a report read
back from disk. Text the target sent is escaped here, once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography.x509.oid import NameOID

from kubecert.inventory.keymaterial import KeyTraces, scrub
from kubecert.inventory.model import CertRecord, Inventory, Role
from kubecert.text import escaped, escaped_block
from kubecert.timestamps import isoformat

if TYPE_CHECKING:
    from kubecert.inventory.platform import ReportedCertificate


def certificate_summary(inventory: Inventory) -> list[dict[str, Any]]:
    """One entry per certificate the observation holds (read from files, or listed by an API), as JSON."""
    traces = inventory.key_traces  # a name or a path a target chose may carry its own keys: cleaned as evidence is
    records = [_from_x509(record, traces) for record in inventory.all_certs()]
    platform = inventory.platform_observation()
    if platform is not None:
        records += [_from_listing(reported, traces) for machine in platform.certificates
                    for reported in machine.certificates]
    return records


# A certificate's identity in a finding's evidence (model.IDENTITY_FIELDS) → the same in its summary entry.
_IDENTITY = {"path": "path", "subject_dn": "subject", "issuer_dn": "issuer", "not_before": "not_before",
             "not_after": "not_after"}


def mark_listed(inventory: Inventory) -> None:
    """Mark the certificates whose identity the target's report lists as a finding's evidence would give it (the
    report joins the two by fingerprint_sha256, the last of a fingerprint's entries): evidence of a finding that
    passed then names them by reference instead of building, cleaning and escaping it again for every rule. What
    differs (the same certificate at two paths, text that evidence shows otherwise) keeps its identity in full."""
    traces = inventory.key_traces  # evidence is cleaned of the target's keys (rules/evaluate.py), then escaped
    entries = {record.fingerprint_sha256: _from_x509(record, traces) for record in inventory.all_certs()}
    for record in inventory.all_certs():
        entry, identity = entries[record.fingerprint_sha256], record.evidence()
        record.listed = all(escaped_block(scrub(identity[mine], traces)) == entry[theirs]
                            for mine, theirs in _IDENTITY.items())


def _common_name(record: CertRecord, issuer: bool, traces: KeyTraces) -> str | None:
    name = record.cert.issuer if issuer else record.cert.subject
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return _text(str(values[0].value), traces) if values else None


def _text(text: str, traces: KeyTraces) -> str:
    """Target text for the report: cleaned of the target's keys (and of any key by its structure), escaped."""
    return escaped(scrub(text, traces))


def _from_x509(record: CertRecord, traces: KeyTraces) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": _text(record.name, traces), "path": _text(record.path, traces), "role": str(record.role),
        "is_ca": record.role is Role.CA, "subject": _text(record.subject, traces),
        "issuer": _text(record.issuer, traces), "subject_cn": _common_name(record, False, traces),
        "issuer_cn": _common_name(record, True, traces),
        "not_before": isoformat(record.not_before), "not_after": isoformat(record.not_after),
        "fingerprint_sha256": record.fingerprint_sha256,
    }
    if record.machine:
        entry["machine"] = _text(record.machine, traces)
    return entry


def _from_listing(reported: ReportedCertificate, traces: KeyTraces) -> dict[str, Any]:
    """An API lists a name and an expiry per machine: no DN, no start, no fingerprint."""
    return {
        "name": _text(reported.canonical or reported.reported_name, traces),
        "path": _text(f"{reported.machine}/{reported.reported_name}", traces),
        "role": "ca" if reported.is_ca else "leaf", "is_ca": reported.is_ca, "subject": None, "issuer": None,
        "subject_cn": _text(reported.reported_name, traces), "issuer_cn": _text(reported.authority, traces),
        "not_before": None, "not_after": isoformat(reported.expiry) if reported.expiry is not None else None,
        "fingerprint_sha256": None, "machine": _text(reported.machine, traces),
    }
