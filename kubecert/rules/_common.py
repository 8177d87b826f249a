"""Small helpers the rule families share."""

from __future__ import annotations

import datetime as dt

from kubecert import layout
from kubecert.inventory.model import CertRecord, Inventory, Role


def fmt_duration(delta: dt.timedelta) -> str:
    """``400d 0h 5m`` style; seconds only when there is nothing larger."""
    total = abs(delta) // dt.timedelta(seconds=1)  # whole seconds, exactly (a float loses them at large sizes)
    negative = delta < dt.timedelta(0) and total > 0  # no sign on "0s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours or (days and minutes):
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if not parts:
        parts.append(f"{seconds}s")
    return ("-" if negative else "") + " ".join(parts)


def fmt_time(moment: dt.datetime) -> str:
    """``2027-01-31 12:00:00 UTC``, the year in four digits (strftime writes year 1 as "1")."""
    try:
        utc = moment.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 lies before the first moment UTC can hold: said as given
        return moment.isoformat(sep=" ", timespec="seconds")
    return utc.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds") + " UTC"


def expiry_problem(not_after: dt.datetime, now: dt.datetime, horizon_days: int) -> str | None:
    """Why a certificate ending at ``not_after`` fails the expiry horizon, said as it is: expired (and since
    when), or expiring within the horizon; None when it ends beyond it."""
    remaining = not_after - now
    if remaining < dt.timedelta(0):  # valid through NotAfter itself (RFC 5280 4.1.2.5)
        return f"expired {fmt_duration(-remaining)} ago, at {fmt_time(not_after)} (observed {fmt_time(now)})"
    if remaining < dt.timedelta(days=horizon_days):
        return (f"expires {fmt_time(not_after)}, {fmt_duration(remaining)} from {fmt_time(now)}: within the "
                f"{horizon_days}d horizon")
    return None


def issuer_name(record: CertRecord) -> str | None:
    """The CA that should have signed ``record``: from the layout, or ``ca`` for kubeconfig clients."""
    if record.role is Role.KUBECONFIG:
        return "ca"
    spec = layout.CERTS_BY_NAME.get(record.name)
    return spec.ca if spec else None


def issuing_ca(inventory: Inventory, record: CertRecord) -> CertRecord | None:
    name = issuer_name(record)
    return inventory.certificates.get(name) if name else None


def is_external(ca: CertRecord, inventory: Inventory) -> bool:
    """kubeadm's external-CA mode: the CA certificate is there, its key is not (and nothing broke it)."""
    return ca.key is None and not inventory.problems_for(f"{ca.name}.key")


def node_name(inventory: Inventory) -> str | None:
    return inventory.facts.node_name
