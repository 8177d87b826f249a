"""KC-CHK: an expiration listing (kubeadm certs check-expiration) agrees with the certificates themselves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from kubecert import layout
from kubecert.inventory.action import tail
from kubecert.inventory.listing import (
    AUTHORITIES,
    CERTIFICATES,
    Listing,
    ListingBeyondBound,
    ListingError,
    ListingRow,
    parse_listing,
)
from kubecert.inventory.model import CertRecord, Inventory
from kubecert.rules._common import fmt_duration, fmt_time, is_external
from kubecert.rules.catalog import implements
from kubecert.rules.findings import Finding, error, failed, passed
from kubecert.rules.renewal.context import ListingContext
from kubecert.timestamps import isoformat

UNREAD_TAIL_CHARS = 1000  # of output that is no listing: enough to see what it is


def _certificate(inventory: Inventory, name: str) -> CertRecord | None:
    if name in inventory.certificates:
        return inventory.certificates[name]
    kubeconfig = inventory.kubeconfigs.get(name)
    return kubeconfig.client_cert if kubeconfig is not None else None


def _external(inventory: Inventory, ca: str | None) -> bool:
    record = inventory.certificates.get(ca or "")
    return record is not None and is_external(record, inventory)


def _disagreements(ctx: ListingContext, listing: Listing, row: ListingRow, cert: CertRecord, *,
                   ca: str | None, external: bool) -> list[str]:
    wrong = []
    assert row.expires is not None  # rows that are not missing have a date
    if not row.expires <= cert.not_after < row.expires + row.expires_precision:
        wrong.append(f"EXPIRES {fmt_time(row.expires)}, the certificate expires {fmt_time(cert.not_after)}")
    residual = row.residual
    if residual is not None:
        # The listing was printed while the action ran; the residual time was the certificate's then.
        skew = dt.timedelta(seconds=ctx.profile.clock_skew_seconds)
        shortest = (cert.not_after - (ctx.action.finished_at + skew)).total_seconds()
        longest = (cert.not_after - (ctx.action.started_at - skew)).total_seconds()
        if residual.seconds is None:  # "<invalid>": what Go prints for a negative duration
            agrees = shortest < 0
        else:  # printed values are truncated: the real one is in [seconds, seconds + precision)
            low, high = residual.seconds, residual.seconds + residual.precision
            agrees = (low <= longest and high > shortest) or (low == 0 and shortest <= 0)
        if not agrees:
            remaining = fmt_duration(dt.timedelta(seconds=max(shortest, 0)))
            wrong.append(f"RESIDUAL TIME {residual.text}, but {remaining} remain")
    if listing.has_ca_column and row.table == CERTIFICATES and row.ca is not None and row.ca != (ca or ""):
        wrong.append(f"CERTIFICATE AUTHORITY {row.ca!r}, the certificate's CA is {ca!r}")
    if row.externally_managed is not None and row.externally_managed != external:
        wrong.append(f"EXTERNALLY MANAGED {'yes' if row.externally_managed else 'no'}, but its CA key is "
                     f"{'absent' if external else 'present'}")
    return wrong


def _row_evidence(row: ListingRow | None, cert: CertRecord | None) -> dict[str, Any]:
    listed = None
    if row is not None:
        listed = {"missing": row.missing, "expires": isoformat(row.expires) if row.expires else None,
                  "residual": row.residual.text if row.residual else None, "ca": row.ca,
                  "externally_managed": row.externally_managed}
    actual = None
    if cert is not None:
        actual = {"path": cert.path, "not_after": isoformat(cert.not_after),
                  "fingerprint_sha256": cert.fingerprint_sha256}
    return {"listed": listed, "certificate": actual}


def _judge(ctx: ListingContext, listing: Listing, table: str, name: str, *, ca: str | None,  # noqa: PLR0911
           external: bool) -> Finding:
    cert = _certificate(ctx.inventory, name)
    row = listing.row(table, name)
    evidence = _row_evidence(row, cert)
    label = name if table == CERTIFICATES else f"{name} (CA table)"
    if row is None:
        if cert is None:
            return passed(label, "neither listed nor present", **evidence)
        return failed(label, f"not listed, but {cert.path} exists", **evidence)
    if row.missing or cert is None:
        if row.missing and cert is None:
            return passed(label, "listed as missing, and it is", **evidence)
        if row.missing:
            return failed(label, f"listed as !MISSING!, but {cert.path if cert else name} exists", **evidence)
        return failed(label, "listed with an expiry, but the certificate is missing", **evidence)
    wrong = _disagreements(ctx, listing, row, cert, ca=ca, external=external)
    if wrong:
        return failed(label, "; ".join(wrong), **evidence)
    return passed(label, f"agrees: expires {fmt_time(cert.not_after)}", **evidence)


@implements("KC-CHK-01", context=ListingContext)
def listing_agrees(ctx: ListingContext) -> Iterator[Finding]:
    """KADM: check-expiration shows expiration and residual time of the certificates and kubeconfigs."""
    action = ctx.action
    why = action.failure()
    if why is not None:
        yield error(f"action: {action.action}", why, **action.evidence())
        return
    if action.stdout_cut:
        yield error(f"action: {action.action}", f"it printed {action.stdout_bytes} bytes, more than kubecert keeps of "
                    "a command's output (its bound): the listing is not judged", **action.evidence())
        return
    try:
        listing = parse_listing(action.stdout)
    except ListingBeyondBound as exc:
        yield error(f"action: {action.action}", f"the output was not read: {exc}", **action.evidence())
        return
    except ListingError as exc:  # what it printed instead, briefly: the reader needs to see it
        yield error(f"action: {action.action}", f"the output is not an expiration listing: {exc}",
                    **action.evidence(), stdout_tail=tail(action.stdout, UNREAD_TAIL_CHARS))
        return
    yield passed(f"action: {action.action}", f"read a listing ({listing.form})", **action.evidence())
    inventory = ctx.inventory
    for name in layout.RENEWED:
        ca = layout.issuer_of(name)
        absent = _certificate(inventory, name) is None and listing.row(CERTIFICATES, name) is None
        etcd = name in layout.CERTS_BY_NAME and layout.CERTS_BY_NAME[name].etcd
        # super-admin.conf is on the first control-plane node only (and unknown before v1.29); with
        # external etcd kubeadm lists no etcd certificates: neither there nor listed is agreement.
        if absent and (name == "super-admin.conf" or etcd):
            continue
        yield _judge(ctx, listing, CERTIFICATES, name, ca=ca, external=_external(inventory, ca))
    if listing.authorities is None:
        yield passed("CA table", f"{listing.form}: this form has no CA table", notable=True)
        return
    for spec in layout.CAS:
        if spec.etcd and spec.name not in inventory.certificates and listing.row(AUTHORITIES, spec.name) is None:
            continue
        yield _judge(ctx, listing, AUTHORITIES, spec.name, ca=None, external=_external(inventory, spec.name))
