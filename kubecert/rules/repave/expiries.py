"""What a renewal or an upgrade through the API must do to the reported expiries, judged on its record: every
leaf renewed for leaf_days from the request, every CA's expiry as it was. KC-RPV-02 and 03 judge a
renewal by these, KC-RPV-10 an upgrade.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from kubecert.inventory.platform import MachineCertificates, RenewalRecord, ReportedCertificate, Sample
from kubecert.profiles import Profile
from kubecert.rules._common import fmt_duration, fmt_time
from kubecert.rules.findings import Finding, error, failed, passed


def good(samples: list[Sample]) -> list[Sample]:
    """The looks that could be taken."""
    return [s for s in samples if s.error is None]


def finished_sample(record: RenewalRecord) -> Sample | None:
    """The last look, once the work has finished (and stayed so); None while it had not."""
    looks = good(record.samples)
    return looks[-1] if record.finished and looks else None


def leaves_renewed(record: RenewalRecord, final: Sample, profile: Profile, *, noun: str,
                   before: Iterable[MachineCertificates] | None = None) -> Iterator[Finding]:
    """Every leaf of every control-plane machine expires within [request + leaf_days − skew, finish + leaf_days
    + skew]. Given what the machines listed ``before``, each leaf's earlier expiry is evidence too, and a leaf of
    a machine that was there before must expire otherwise than it did: one renewed within the clock skew
    before the request fits the window without having been renewed by this work."""
    skew = dt.timedelta(seconds=profile.clock_skew_seconds)
    period = dt.timedelta(days=profile.leaf_days)
    earliest = record.requested_at + period - skew
    latest = (record.finished_at or final.at) + period + skew
    earlier = None if before is None else list(before)
    if not final.certificates:
        yield failed("k8certificates", f"no control-plane machine is listed after the {noun}")
    for machine in final.certificates:
        for cert in machine.leaves():
            subject = f"{machine.machine}/{cert.reported_name}"
            facts = {**cert.evidence(), "window": f"{fmt_time(earliest)} .. {fmt_time(latest)}"}
            kept = None
            if earlier is not None:
                kept, found = _before(earlier, machine, cert)
                facts.update(found)
            if cert.expiry is None:
                yield error(subject, f"expiry {cert.expiry_text!r} cannot be read (see KC-API-01)", **facts)
            elif kept is not None and _second(kept) == _second(cert.expiry):
                yield failed(subject, f"not renewed by the {noun}: expires {fmt_time(cert.expiry)}, as before",
                             **facts)
            elif earliest <= cert.expiry <= latest:
                yield passed(subject, f"expires {fmt_time(cert.expiry)}: {profile.leaf_days}d after the {noun}",
                             **facts)
            else:
                after = fmt_duration(cert.expiry - record.requested_at)
                yield failed(subject, f"expires {fmt_time(cert.expiry)}, {after} after the {noun} request; "
                             f"expected {profile.leaf_days}d", **facts)


def _before(earlier: list[MachineCertificates], machine: MachineCertificates,
            cert: ReportedCertificate) -> tuple[dt.datetime | None, dict[str, Any]]:
    """(the certificate's expiry before on the same machine, if it was there; its evidence). On a machine that is
    new (a repave) the evidence is what it expired on the machines there were: a new machine's certificates
    are new, so only the window judges them."""
    slot = (cert.authority, cert.reported_name)
    same = next((m for m in earlier if m.machine == machine.machine), None)
    if same is not None:
        previous = next((c for c in same.certificates if (c.authority, c.reported_name) == slot), None)
        return (previous.expiry if previous else None), {"before": previous.expiry_text if previous else None}
    seen = {str(c.expiry_text) for m in earlier for c in m.certificates if (c.authority, c.reported_name) == slot}
    return None, {"before": sorted(seen), "new_machine": True}


def _second(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=0)  # X.509 has whole seconds; listings may add milliseconds


def ca_expiries_unchanged(before: Iterable[MachineCertificates], after: Iterable[MachineCertificates], *,
             noun: str) -> Iterator[Finding]:
    """Every CA reported before is reported after with the same expiry, and no other CA appears."""
    was_all, now_all = _ca_expiries(before), _ca_expiries(after)
    for ca in sorted(was_all.keys() | now_all.keys()):
        was, now = was_all.get(ca, set()), now_all.get(ca, set())
        facts: dict[str, Any] = {"before": sorted(map(_text, was)), "after": sorted(map(_text, now))}
        if None in was or None in now:
            yield error(ca, "its expiry cannot be read (see KC-API-01)", **facts)
        elif not now:
            yield failed(ca, f"no longer reported after the {noun}", **facts)
        elif now == was:
            yield passed(ca, f"expiry unchanged ({', '.join(map(_text, sorted(now, key=_text)))})", **facts)
        else:
            yield failed(ca, f"expiry changed from {', '.join(map(_text, sorted(was, key=_text))) or 'nothing'} to "
                         f"{', '.join(map(_text, sorted(now, key=_text)))}", **facts)


def _text(moment: dt.datetime | None) -> str:
    return fmt_time(moment) if moment is not None else "(unreadable)"


def _ca_expiries(machines: Iterable[MachineCertificates]) -> dict[str, set[dt.datetime | None]]:
    found: dict[str, set[dt.datetime | None]] = {}
    for machine in machines:
        for ca in machine.cas():
            found.setdefault(ca.reported_name, set()).add(_second(ca.expiry) if ca.expiry else None)
    return found
