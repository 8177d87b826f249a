"""KC-API: the management API's certificate listing, its cluster object and its access control.

KC-API-01..03 judge the target's observation, one look at the platform through the API
(``PlatformObservation``); KC-API-04..06 and 08 the answers to the access probe (catalog: ``probe = "access"``),
requests sent with missing, wrong or foreign credentials, and reads of the cluster object with the SDK's query
parameters; KC-API-07 the listing sent back with no right to change it (catalog: ``action =
"api-listing-overwrite"``, a write).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubecert import layout
from kubecert.inventory.platform import (
    MAX_LISTED_MACHINES,
    RFC3339,
    AccessProbes,
    Exchange,
    ListingOverwrite,
    PlatformObservation,
    ReportedCertificate,
    Sent,
    read_time,
)
from kubecert.inventory.platform_inventory import platform_of
from kubecert.rules._common import expiry_problem, fmt_duration, fmt_time
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, error, failed, not_applicable, passed

# How long after the cluster object's creation its CAs may have been made (the first control-plane
# machine's kubeadm init): well under the 2 days that tell Palette's 3652 from kubeadm's 3650.
CA_CREATION_ALLOWANCE = dt.timedelta(days=1)
# Keys of a successful answer: their presence in a refusal means data was given away.
_DATA_KEYS = ("machineCertificates", "metadata", "spec", "status", "items")


@dataclass(frozen=True)
class AccessContext(RuleContext):
    """The target's observation and the answers to requests made with missing, wrong or foreign credentials."""

    probes: AccessProbes


@dataclass(frozen=True)
class ListingOverwriteContext(RuleContext):
    """The certificate listing before and after requests that sent it back with no right to change it."""

    overwrite: ListingOverwrite


def _platform(ctx: RuleContext) -> PlatformObservation:
    platform = platform_of(ctx.inventory)
    if platform is None:
        raise TypeError(f"{ctx.inventory.target} was not observed through a management API")
    return platform


def _expected(ctx: RuleContext) -> dict[str, tuple[str, ...]]:
    """Palette's CA name → the Palette names of the leaves it must list."""
    specs = layout.expected_certs(ctx.inventory.facts.external_etcd)
    return {ca.palette_name: tuple(s.palette_name for s in specs if s.ca == ca.name) for ca in specs if ca.is_ca}


# ---------------------------------------------------------------- KC-API-01


@implements("KC-API-01")
def listing_shape(ctx: RuleContext) -> Iterator[Finding]:
    """PAL: the k8certificates sample response; expiries are RFC 3339 date-times."""
    exchange = _platform(ctx).certificates_exchange
    facts = exchange.evidence()
    if exchange.status != 200:
        yield failed("k8certificates", f"answered {exchange.status}, expected 200", **facts)
        return
    if not exchange.is_json or not isinstance(exchange.document, dict):
        why = f": {exchange.error}" if exchange.error else f" (Content-Type {exchange.content_type})"
        yield failed("k8certificates", f"{exchange.method} {exchange.path}: the answer is not a JSON object{why}",
                     **facts)
        return
    entries = exchange.document.get("machineCertificates")
    if not isinstance(entries, list):
        yield failed("k8certificates", "machineCertificates is missing or not a list", **facts)
        return
    if len(entries) > MAX_LISTED_MACHINES:
        yield failed("k8certificates", f"{len(entries)} machines listed, more than any cluster's control plane; "
                     f"only the first {MAX_LISTED_MACHINES} are judged", **facts)
    else:
        yield passed("k8certificates", f"200, JSON, {len(entries)} machine(s) listed", **facts)
    for index, entry in enumerate(entries[:MAX_LISTED_MACHINES]):
        issues = list(_entry_issues(entry, f"machineCertificates[{index}]"))
        name = entry.get("name") if isinstance(entry, dict) else None
        subject = name if isinstance(name, str) and name else f"machineCertificates[{index}]"
        if issues:
            yield failed(subject, "; ".join(issues[:8]) + (f" (and {len(issues) - 8} more)" if len(issues) > 8 else ""),
                         issues=issues)
        else:
            yield passed(subject, "every field of the documented shape is there, expiries are RFC 3339")


def _entry_issues(entry: Any, where: str) -> Iterator[str]:
    if not isinstance(entry, dict):
        yield f"{where} is not an object"
        return
    if not isinstance(entry.get("name"), str) or not entry["name"]:
        yield f"{where}.name is missing or not text"
    authorities = entry.get("certificateAuthorities")
    if not isinstance(authorities, list):
        yield f"{where}.certificateAuthorities is missing or not a list"
        return
    for i, authority in enumerate(authorities):
        here = f"{where}.certificateAuthorities[{i}]"
        if not isinstance(authority, dict):
            yield f"{here} is not an object"
            continue
        yield from _named_expiry(authority, here)
        certificates = authority.get("certificates")
        if not isinstance(certificates, list):
            yield f"{here}.certificates is missing or not a list"
            continue
        for j, certificate in enumerate(certificates):
            if not isinstance(certificate, dict):
                yield f"{here}.certificates[{j}] is not an object"
                continue
            yield from _named_expiry(certificate, f"{here}.certificates[{j}]")


def _named_expiry(item: dict[str, Any], where: str) -> Iterator[str]:
    name = item.get("name")
    if not isinstance(name, str) or not name:
        yield f"{where}.name is missing or not text"
    expiry = item.get("expiry")
    problem = "is not an RFC 3339 date-time"
    if isinstance(expiry, str) and RFC3339.fullmatch(expiry):
        read = read_time(expiry)
        problem = read if isinstance(read, str) else ""
    if problem:
        named = f" ({name})" if isinstance(name, str) and name else ""
        yield f"{where}{named}.expiry {expiry!r} {problem}"


# ---------------------------------------------------------------- KC-API-02


@implements("KC-API-02")
def every_certificate_reported(ctx: RuleContext) -> Iterator[Finding]:
    """PAL sample: each machine lists ca, front-proxy-ca and etcd-ca with the leaves each signs."""
    platform = _platform(ctx)
    expected = _expected(ctx)
    running = [m for m in platform.control_plane() if m.running]
    if not platform.certificates:
        yield failed("k8certificates", "no control-plane machine is listed", running_control_plane=len(running))
        return
    if platform.machines is not None and len(platform.certificates) < len(running):
        names = sorted({m.name for m in running} - {m.machine for m in platform.certificates})
        yield failed("k8certificates", f"{len(platform.certificates)} machine(s) listed but {len(running)} "
                     f"control-plane machines run (not listed: {', '.join(names) or 'names differ'})",
                     listed=[m.machine for m in platform.certificates], running=[m.name for m in running])
    for machine in platform.certificates:
        listed: dict[str, set[str]] = {}
        for cert in machine.certificates:
            if not cert.is_ca:
                listed.setdefault(cert.authority, set()).add(cert.reported_name)
            else:
                listed.setdefault(cert.reported_name, set())
        missing, misplaced = [], []
        for ca, leaves in expected.items():
            if ca not in listed:
                missing.append(ca)
            for leaf in leaves:
                if leaf in listed.get(ca, set()):
                    continue
                elsewhere = [other for other, names in listed.items() if leaf in names]
                (misplaced.append(f"{leaf} under {elsewhere[0]}, expected under {ca}") if elsewhere
                 else missing.append(f"{leaf} (under {ca})"))
        facts = {"machine": machine.machine, "listed": {ca: sorted(names) for ca, names in listed.items()}}
        if missing or misplaced:
            yield failed(machine.machine, "; ".join(
                ([f"missing: {', '.join(missing)}"] if missing else []) + misplaced), **facts)
        else:
            known = {leaf for leaves in expected.values() for leaf in leaves} | set(expected)
            extra = sorted({c.reported_name for c in machine.certificates} - known)
            note = f" (also listed: {', '.join(extra)})" if extra else ""
            yield passed(machine.machine, f"the three CAs with their {sum(map(len, expected.values()))} leaves{note}",
                         notable=bool(extra), **facts)


# ---------------------------------------------------------------- KC-API-03


@implements("KC-API-03")
def reported_expiries(ctx: RuleContext) -> Iterator[Finding]:
    """PAL: leaves 365 days, CAs 3652 days from the cluster's creation; VAL-03 and EXP-01 on the dates."""
    platform = _platform(ctx)
    created = platform.cluster.created if platform.cluster is not None else None
    for machine in platform.certificates:
        authorities = {c.reported_name: c for c in machine.cas()}
        for cert in machine.certificates:
            subject = f"{machine.machine}/{cert.reported_name}"
            facts = cert.evidence()
            if cert.expiry is None:
                yield error(subject, f"expiry {cert.expiry_text!r} cannot be read (see KC-API-01)", **facts)
                continue
            remaining = cert.expiry - ctx.now
            facts["remaining"] = fmt_duration(remaining)
            problems = _expiry_problems(ctx, cert, authorities.get(cert.authority), created)
            if problems:
                yield failed(subject, "; ".join(problems), **facts)
            elif cert.is_ca and created is None:
                yield passed(subject, f"{fmt_duration(remaining)} remaining; the cluster's creation time is not "
                             "reported, so the CA's validity period is not judged", notable=True, **facts)
            else:
                yield passed(subject, f"expires {fmt_time(cert.expiry)}, {fmt_duration(remaining)} remaining", **facts)


def _expiry_problems(ctx: RuleContext, cert: ReportedCertificate, ca: ReportedCertificate | None,
                     created: dt.datetime | None) -> list[str]:
    profile = ctx.profile
    assert cert.expiry is not None
    problems = []
    expiring = expiry_problem(cert.expiry, ctx.now, profile.min_remaining_days)
    if expiring:
        problems.append(expiring)
    skew = dt.timedelta(seconds=profile.clock_skew_seconds)
    if cert.is_ca:
        if created is not None:
            # Compared as durations: created + ca_days overflows for a creation time near the year 9999.
            period = dt.timedelta(days=profile.ca_days)
            shortest = period - dt.timedelta(seconds=profile.backdate_seconds) - skew
            if not shortest <= cert.expiry - created <= period + CA_CREATION_ALLOWANCE:
                problems.append(f"expires {fmt_time(cert.expiry)}, {fmt_duration(cert.expiry - created)} after the "
                                f"cluster was created ({fmt_time(created)}); expected {profile.ca_days}d (+ up to "
                                f"{fmt_duration(CA_CREATION_ALLOWANCE)} for provisioning)")
        return problems
    if cert.expiry > ctx.observed_at + dt.timedelta(days=profile.leaf_days) + skew:
        problems.append(f"expires {fmt_time(cert.expiry)}, more than {profile.leaf_days}d after observation "
                        f"({fmt_time(ctx.observed_at)})")
    if ca is not None and ca.expiry is not None and cert.expiry > ca.expiry:
        problems.append(f"expires after its CA {ca.reported_name} ({fmt_time(ca.expiry)})")
    return problems


# ---------------------------------------------------------------- KC-API-04..06


def _gave_data(exchange: Exchange) -> bool:
    return isinstance(exchange.document, dict) and any(k in exchange.document for k in _DATA_KEYS)


def _refusal(exchange: Exchange, allowed: tuple[int, ...]) -> Finding:
    subject = f"{exchange.method} {exchange.path} ({exchange.sent})"
    facts = exchange.evidence()
    if exchange.status is None:
        return error(subject, f"no answer: {exchange.error}", **facts)
    wanted = " or ".join(map(str, allowed))
    if exchange.status not in allowed:
        return failed(subject, f"answered {exchange.status}, expected {wanted}", **facts)
    if _gave_data(exchange):
        return failed(subject, f"answered {exchange.status} but the body carries the cluster's data", **facts)
    return passed(subject, f"refused with {exchange.status}, no data", **facts)


def _not_probed(probes: AccessProbes) -> Iterator[Finding]:
    if probes.unavailable is not None:
        yield error("access probe", f"not sent: {probes.unavailable}")


@implements("KC-API-04", context=AccessContext)
def key_required(ctx: AccessContext) -> Iterator[Finding]:
    """PAL: every request carries ``ApiKey``; without it, or with a wrong one, nothing is given."""
    yield from _not_probed(ctx.probes)
    for exchange in ctx.probes.exchanges:
        if exchange.sent in (Sent.NO_KEY, Sent.WRONG_KEY):
            yield _refusal(exchange, (401,))


@implements("KC-API-05", context=AccessContext)
def project_scopes(ctx: AccessContext) -> Iterator[Finding]:
    """PAL: ``ProjectUid`` scopes the request; a project that does not own the cluster sees nothing."""
    yield from _not_probed(ctx.probes)
    for exchange in ctx.probes.exchanges:
        if exchange.sent is Sent.FOREIGN_PROJECT:
            yield _refusal(exchange, (403, 404))


@implements("KC-API-06", context=AccessContext)
def errors_are_json_without_credentials(ctx: AccessContext) -> Iterator[Finding]:
    """Palette specification: errors are {code, message, ref, details}; no answer repeats a credential, in its
    status line, headers (a redirect's Location), or body, in any spelling."""
    yield from _not_probed(ctx.probes)
    for exchange in ctx.probes.exchanges:
        yield _error_answer(exchange)
    for request, places in ctx.probes.echoed_elsewhere:
        yield failed(request, _echo(places), echoed_credential=list(places))


def _error_answer(exchange: Exchange) -> Finding:
    subject = f"{exchange.method} {exchange.path} ({exchange.sent})"
    facts = exchange.evidence()
    echo = [_echo(exchange.echoed)] if exchange.echoed else []
    if exchange.status is None:
        if echo:
            return failed(subject, f"{echo[0]}; no answer: {exchange.error}", **facts)
        return error(subject, f"no answer: {exchange.error}", **facts)
    problems = []
    if exchange.sent is Sent.UNKNOWN_CLUSTER and exchange.status != 404:
        problems.append(f"an unknown cluster answered {exchange.status}, expected 404")
    if exchange.status >= 400:
        document = exchange.document
        if not exchange.is_json or not isinstance(document, dict):
            problems.append(f"the error body is not a JSON object (Content-Type {exchange.content_type})")
        else:
            absent = [k for k in ("code", "message") if not isinstance(document.get(k), str)]
            if absent:
                problems.append(f"the error body has no {' or '.join(absent)}")
    problems += echo
    if problems:
        return failed(subject, "; ".join(problems), **facts)
    if exchange.status >= 400:
        return passed(subject, f"{exchange.status} with JSON code and message, no credential", **facts)
    return not_applicable(subject, f"answered {exchange.status}: not an error", **facts)


def _echo(places: tuple[str, ...]) -> str:
    return f"the answer repeats a credential kubecert sent, in {', '.join(places)} (redacted here)"


# ---------------------------------------------------------------- KC-API-07


@implements("KC-API-07", context=ListingOverwriteContext)
def listing_not_overwritten(ctx: ListingOverwriteContext) -> Iterator[Finding]:
    """SDK: PUT /v1/spectroclusters/{uid}/k8certificates (V1SpectroClusterK8sCertificate) replaces the listing;
    without a key, with a wrong one, or in a project that does not own the cluster it must be refused."""
    record = ctx.overwrite
    if record.unavailable is not None:
        yield error("k8certificates", f"nothing was sent: {record.unavailable}", **record.before.evidence())
        return
    for exchange in record.exchanges:
        yield _refusal(exchange, (401,) if exchange.sent in (Sent.NO_KEY, Sent.WRONG_KEY) else (403, 404))
    after = record.after
    if after is None or after.status != 200 or not isinstance(after.document, dict):
        facts = after.evidence() if after is not None else {}
        yield error("k8certificates", "the listing could not be read again after the requests, so whether they "
                    "changed it is not known", **facts)
    elif after.document != record.before.document:
        yield failed("k8certificates", "the listing is not what it was before the requests that had no right to "
                     f"change it: {_listing_change(record.before.document, after.document)} (a renewal running at "
                     "the same time changes it too)", before=record.before.evidence(), after=after.evidence())
    else:
        yield passed("k8certificates", "the listing is as it was before the requests", after=after.evidence())


def _listing_change(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What differs between two listings, said briefly: machines, then the first certificate whose entry differs."""
    def entries(document: dict[str, Any]) -> dict[str, Any]:
        machines = document.get("machineCertificates")
        return {str(m.get("name")): m for m in machines[:MAX_LISTED_MACHINES] if isinstance(m, dict)} \
            if isinstance(machines, list) else {}

    def names(found: list[str]) -> str:
        return ", ".join(name[:64] for name in found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")

    was, now = entries(before), entries(after)
    gone, new = sorted(was.keys() - now.keys()), sorted(now.keys() - was.keys())
    if gone or new:
        return f"machines gone: {names(gone) or 'none'}; machines new: {names(new) or 'none'}"
    changed = sorted(name for name in was if was[name] != now[name])
    return f"the certificates of {names(changed)} changed" if changed else "a field outside the machines changed"


# ---------------------------------------------------------------- KC-API-08

# What kubecert reads of the cluster object; a read with query parameters must give the same.
_CLUSTER_FIELDS = (("metadata.uid", "uid"), ("metadata.name", "name"), ("metadata.creationTimestamp", "created"),
                   ("spec.cloudType", "cloud_type"), ("spec.cloudConfigRef.uid", "config_uid"),
                   ("status.state", "state"), ("status.packs", "pack_versions"))


@implements("KC-API-08", context=AccessContext)
def cluster_reads_keep_their_shape(ctx: AccessContext) -> Iterator[Finding]:
    """SDK: GET /v1/spectroclusters/{uid} takes includeNonSpectroLabels, resolvePackValues, includeTags, ... (the
    generated client sends its defaults with every read); the answer is the same V1SpectroCluster."""
    yield from _not_probed(ctx.probes)
    if not ctx.probes.cluster_reads:
        return
    plain, *with_query = ctx.probes.cluster_reads
    if plain.cluster is None:
        said = plain.exchange.status or plain.exchange.error
        yield error(f"GET {plain.exchange.path}", f"the cluster object answered {said} without query parameters: "
                    "nothing to compare with", **plain.exchange.evidence())
        return
    for read in with_query:
        subject = f"GET {read.exchange.path}?{read.query}"
        facts = read.exchange.evidence()
        if read.cluster is None:
            said = read.exchange.status or read.exchange.error
            yield failed(subject, f"answered {said}, not the cluster object (200, JSON) that the same read without "
                         "query parameters gives", **facts)
            continue
        differences = [f"{label} {_value(getattr(read.cluster, name))} instead of "
                       f"{_value(getattr(plain.cluster, name))}" for label, name in _CLUSTER_FIELDS
                       if getattr(read.cluster, name) != getattr(plain.cluster, name)]
        if differences:
            yield failed(subject, "; ".join(differences), **facts)
        else:
            yield passed(subject, "the same cluster object as without query parameters (" +
                         ", ".join(label for label, _ in _CLUSTER_FIELDS) + ")", **facts)


def _value(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return fmt_time(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {v}" for k, v in sorted(value.items())) + "}" if value else "none"
    return repr(value) if value is not None else "none"
