"""KC-VAL and KC-EXP: how long certificates are valid, and how long they have left."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from kubecert import layout
from kubecert.inventory.model import CertRecord, Role
from kubecert.profiles import BUILTIN
from kubecert.rules._common import expiry_problem, fmt_duration, fmt_time, is_external, issuer_name, issuing_ca
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, failed, not_applicable, passed

# X.509 times have whole seconds; a source that computes expiry with fractions rounds either way.
_ROUNDING = dt.timedelta(seconds=1)


def _outside_policy(ctx: RuleContext, record: CertRecord) -> Finding | None:
    """Leaves of an external CA, and the external CA itself, are not made by the platform."""
    ca = record if record.role is Role.CA else issuing_ca(ctx.inventory, record)
    if ca is not None and is_external(ca, ctx.inventory):
        return not_applicable(record, f"issued outside the platform: {ca.name} is externally managed (no key)")
    return None


def _leaves(ctx: RuleContext) -> Iterator[CertRecord]:
    yield from ctx.inventory.leaves()
    yield from ctx.inventory.kubeconfig_certs()


def _leaf_subjects(ctx: RuleContext) -> tuple[str, ...]:
    return tuple(s.name for s in layout.LEAVES) + tuple(k.name for k in layout.KUBECONFIGS)


def _unjudged_certificates(ctx: RuleContext) -> Iterator[Finding]:
    """Every certificate of the node that could not be read, for the rules that judge them all."""
    yield from ctx.unevaluated(*_leaf_subjects(ctx), "ca", "front-proxy-ca", "etcd-ca", owner="KC-INV-01/02/03")
    yield from ctx.unevaluated(layout.KUBELET_CLIENT, layout.KUBELET_SERVING, owner="KC-KLT-01/03")


@implements("KC-VAL-01")
def leaf_validity(ctx: RuleContext) -> Iterator[Finding]:
    """PAL/KADM: leaves expire 365 days after issuance; issuance = NotBefore + backdate."""
    yield from ctx.unevaluated(*_leaf_subjects(ctx), owner="KC-INV-02/KC-INV-03")
    for leaf in _leaves(ctx):
        yield _outside_policy(ctx, leaf) or leaf_lifetime(ctx, leaf, issuing_ca(ctx.inventory, leaf))


def leaf_lifetime(ctx: RuleContext, leaf: CertRecord, ca: CertRecord | None) -> Finding:
    """KC-VAL-01's judgement of one leaf signed by ``ca``: valid leaf_days from issuance."""
    period = dt.timedelta(days=ctx.profile.leaf_days)
    backdate = dt.timedelta(seconds=ctx.profile.backdate_seconds)
    excess = leaf.lifetime - period
    facts: dict[str, Any] = {"lifetime": fmt_duration(leaf.lifetime), "expected": f"{ctx.profile.leaf_days}d"}
    if dt.timedelta(0) <= excess <= backdate + _ROUNDING:
        return passed(leaf, f"valid {ctx.profile.leaf_days}d from issuance", **facts)
    if ca is not None and leaf.not_before == ca.not_before:
        # kubeadm before v1.31 reuses the CA's NotBefore, so the issuance time is unknown. It lies between
        # NotBefore (nothing is signed before the CA exists) and the observation (nothing is signed after
        # we saw it): NotAfter must be leaf_days after some moment in that window.
        limit = ctx.observed_at + period + dt.timedelta(seconds=ctx.profile.clock_skew_seconds)
        facts["issuance"] = "unknown: NotBefore equals the CA's (kubeadm before v1.31)"
        if leaf.lifetime < period - _ROUNDING:
            return failed(leaf, f"NotBefore equals the CA's, and the leaf is valid only "
                          f"{fmt_duration(leaf.lifetime)} from it: signed no earlier than NotBefore, it should "
                          f"be valid at least {ctx.profile.leaf_days}d", **facts)
        if leaf.not_after <= limit:
            return passed(leaf, "NotBefore equals the CA's (kubeadm before v1.31), so issuance is unknown; "
                          f"NotAfter is within {ctx.profile.leaf_days}d of observation", notable=True, **facts)
        return failed(leaf, f"NotBefore equals the CA's, so issuance is unknown, and NotAfter "
                      f"{fmt_time(leaf.not_after)} is more than {ctx.profile.leaf_days}d after observation "
                      f"({fmt_time(ctx.observed_at)})", **facts)
    return failed(leaf, f"valid {fmt_duration(leaf.lifetime)} from NotBefore, expected "
                  f"{ctx.profile.leaf_days}d (+ up to {fmt_duration(backdate)} backdate)", **facts)


@implements("KC-VAL-02")
def ca_validity(ctx: RuleContext) -> Iterator[Finding]:
    """PAL: CA valid 3652 days; kubeadm: 3650 days (CACertificateValidityPeriod)."""
    yield from ctx.unevaluated("ca", "front-proxy-ca", "etcd-ca", owner="KC-INV-01")
    for ca in ctx.inventory.cas():
        yield _outside_policy(ctx, ca) or ca_lifetime(ctx, ca)


def ca_lifetime(ctx: RuleContext, ca: CertRecord) -> Finding:
    """KC-VAL-02's judgement of one CA: valid ca_days."""
    backdate = dt.timedelta(seconds=ctx.profile.backdate_seconds)
    facts: dict[str, Any] = {"lifetime": fmt_duration(ca.lifetime), "expected": f"{ctx.profile.ca_days}d"}
    if _lasts(ca.lifetime, ctx.profile.ca_days, backdate):
        return passed(ca, f"valid {ctx.profile.ca_days}d", **facts)
    message = (f"valid {fmt_duration(ca.lifetime)}, expected {ctx.profile.ca_days}d "
               f"(+ up to {fmt_duration(backdate)} backdate)")
    fitting = next((profile for profile in BUILTIN.values()
                    if profile.ca_days != ctx.profile.ca_days and _lasts(ca.lifetime, profile.ca_days, backdate)), None)
    if fitting is not None:
        # Another profile's CA judged by this one: the platform may well be right and the --profile wrong.
        facts["fits_profile"] = fitting.name
        message += (f": {fitting.ca_days} days is the {fitting.name} profile's CA lifetime; if the platform is "
                    f"{fitting.name}'s, check with --profile {fitting.name}")
    return failed(ca, message, **facts)


def _lasts(lifetime: dt.timedelta, days: int, backdate: dt.timedelta) -> bool:
    """Whether a CA valid ``lifetime`` was issued for ``days``: NotBefore may be backdated by up to ``backdate``."""
    excess = lifetime - dt.timedelta(days=days)
    return -_ROUNDING <= excess <= backdate + _ROUNDING


@implements("KC-VAL-03")
def leaf_within_ca(ctx: RuleContext) -> Iterator[Finding]:
    """A chain is invalid once its CA expires; a leaf that outlives it promises time it cannot have."""
    yield from ctx.unevaluated(*_leaf_subjects(ctx), "ca", "front-proxy-ca", "etcd-ca", owner="KC-INV-01/02/03")
    for leaf in _leaves(ctx):
        ca = issuing_ca(ctx.inventory, leaf)
        if ca is None:
            continue  # a missing CA is KC-INV-01's finding
        facts: dict[str, Any] = {"ca": ca.name, "ca_path": ca.path, "ca_not_after": fmt_time(ca.not_after)}
        if leaf.not_after <= ca.not_after:
            yield passed(leaf, f"expires before {ca.name}", **facts)
        else:
            yield failed(leaf, f"expires {fmt_time(leaf.not_after)}, after its CA {ca.name} "
                         f"({fmt_time(ca.not_after)})", **facts)


@implements("KC-VAL-04")
def inside_validity_window(ctx: RuleContext) -> Iterator[Finding]:
    """RFC 5280: outside NotBefore..NotAfter a certificate is rejected by every client."""
    skew = dt.timedelta(seconds=ctx.profile.clock_skew_seconds)
    yield from _unjudged_certificates(ctx)
    for record in ctx.inventory.all_certs():
        if ctx.now > record.not_after:
            ago = fmt_duration(ctx.now - record.not_after)
            yield failed(record, f"expired {ago} ago, at {fmt_time(record.not_after)}")
        elif ctx.now < record.not_before - skew:
            yield failed(record, f"not valid before {fmt_time(record.not_before)} "
                         f"({fmt_duration(record.not_before - ctx.now)} from {fmt_time(ctx.now)})")
        else:
            yield passed(record, f"valid until {fmt_time(record.not_after)}")


@implements("KC-EXP-01")
def not_expiring_soon(ctx: RuleContext) -> Iterator[Finding]:
    """The CI gate: Palette renews 30 days ahead, so anything closer has missed its renewal."""
    yield from _unjudged_certificates(ctx)
    for record in ctx.inventory.all_certs():
        remaining = record.not_after - ctx.now
        facts: dict[str, Any] = {
            "remaining": fmt_duration(remaining), "remaining_days": remaining.days, "ca": issuer_name(record),
        }
        problem = expiry_problem(record.not_after, ctx.now, ctx.profile.min_remaining_days)
        if problem:
            yield failed(record, problem, **facts)
        else:
            yield passed(record, f"{fmt_duration(remaining)} remaining", **facts)
