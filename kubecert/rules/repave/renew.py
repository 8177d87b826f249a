"""KC-RPV-01..09: certificate renewal through the API, judged on the recorded timeline of one renewal.

The watcher looked at the platform every poll interval from the renew request until the renewal had
finished; each rule reads those looks (machines by uid, their states, the reported expiries). What the
looks cannot show (a change between two of them) is not judged: the poll interval bounds it. KC-RPV-04 and
05 judge a repave; a renewal in place is KC-RPV-11's (in_place.py); modes.py says which way it is judged.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubecert.inventory.platform import Machine, RenewalRecord, Sample, UnauthenticatedRenewal
from kubecert.inventory.renewal_progress import REPAVE
from kubecert.rules._common import fmt_time
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, error, failed, passed
from kubecert.rules.repave.expiries import ca_expiries_unchanged, finished_sample, leaves_renewed
from kubecert.rules.repave.expiries import good as _good
from kubecert.rules.repave.modes import RenewalMode, mode_of, with_mode
from kubecert.status import Status
from kubecert.timestamps import isoformat

PROMPT_S = 30.0  # "promptly": a renew request that takes longer than this is not answered before the work


@dataclass(frozen=True)
class ApiRenewalContext(RuleContext):
    """One renewal requested through the API and watched (catalog: ``action = "api-renewal"``)."""

    renewal: RenewalRecord


@dataclass(frozen=True)
class RefusedRenewalContext(RuleContext):
    """Renew requests sent without a valid key, and the platform watched after them."""

    refused: UnauthenticatedRenewal


def timeline(record: RenewalRecord, limit: int = 60) -> list[dict[str, Any]]:
    """Machine events in order: when each machine was first seen, changed state, and was gone."""
    events: list[dict[str, Any]] = []
    seen: dict[str, tuple[Machine, str | None]] = {
        m.key: (m, m.state) for m in record.before.machines or ()
    }
    for sample in record.samples:
        if sample.error is not None:
            continue
        now = {m.key: m for m in sample.machines}
        for key, machine in now.items():
            state = "Deleting" if machine.deleting is not None else machine.state
            if key not in seen:
                events.append(_event(sample.at, machine, f"appeared, {state}"))
            elif seen[key][1] != state:
                events.append(_event(sample.at, machine, str(state)))
            seen[key] = (machine, state)
        for key in [k for k in seen if k not in now]:
            events.append(_event(sample.at, seen[key][0], "gone"))
            del seen[key]
    return events[:limit]


def _event(at: dt.datetime, machine: Machine, what: str) -> dict[str, Any]:
    return {"at": isoformat(at), "machine": machine.name, "pool": machine.pool, "event": what}


def renewal_judged(
    rule: Callable[[ApiRenewalContext, RenewalRecord], Iterator[Finding]],
) -> Callable[[ApiRenewalContext], Iterator[Finding]]:
    """The rule judges the renewal it is given; one that could not be carried out (refused, held for approval,
    never watched) is an error naming why, whatever the rule. A renewal that did not finish within the deadline
    was not seen whole: what the rule found wrong stands, but nothing it passed does (the deadline is a bound,
    and a bound that is hit is never a pass). Its findings say the renewal's mode."""

    @functools.wraps(rule)
    def judged(ctx: ApiRenewalContext) -> Iterator[Finding]:
        record = ctx.renewal
        if record.error is not None:
            yield error("renewal", record.error)
            return
        findings = list(rule(ctx, record))
        if record.finished or any(f.status is Status.FAILED for f in findings):
            yield from findings
            return
        yield from (f for f in findings if f.status is not Status.PASSED)
        if any(f.status is Status.PASSED for f in findings):
            yield error("renewal", f"the renewal did not finish within {record.deadline_s:g} s, so it was not seen "
                                   "whole and cannot be passed (see KC-RPV-08)")

    return with_mode(judged, _renewal_of)


def _renewal_of(ctx: ApiRenewalContext) -> RenewalRecord:
    return ctx.renewal


def judged_in(mode: str, subject: str) -> Callable[
        [Callable[[ApiRenewalContext, RenewalRecord, RenewalMode], Iterator[Finding]]],
        Callable[[ApiRenewalContext, RenewalRecord], Iterator[Finding]]]:
    """A rule of one way of renewing (``mode``): not applicable when the renewal is judged in the other way, an
    error when in none, saying why about ``subject``; else the rule, given the way the renewal is judged."""

    def wrap(rule: Callable[[ApiRenewalContext, RenewalRecord, RenewalMode], Iterator[Finding]]
             ) -> Callable[[ApiRenewalContext, RenewalRecord], Iterator[Finding]]:
        @functools.wraps(rule)
        def judged(ctx: ApiRenewalContext, record: RenewalRecord) -> Iterator[Finding]:
            judged_mode = mode_of(record)
            if (elsewhere := judged_mode.outside(mode, subject)) is not None:
                yield elsewhere
                return
            yield from rule(ctx, record, judged_mode)

        return judged

    return wrap


# ---------------------------------------------------------------- KC-RPV-01


@implements("KC-RPV-01", context=ApiRenewalContext)
@functools.partial(with_mode, record_of=_renewal_of)
def renew_answers_204(ctx: ApiRenewalContext) -> Iterator[Finding]:
    """PAL: "No output is returned and an HTTP status 204 is expected"; the renewal takes minutes after."""
    record = ctx.renewal
    if record.answer is None:
        yield error("renew", record.error or "no renew request was sent")
        return
    answer = record.answer
    facts = answer.evidence()
    problems = []
    if answer.status is None:
        yield error("renew", f"no answer: {answer.error}", **facts)
        return
    if answer.status != 204:
        problems.append(f"answered {answer.status}, expected 204")
    if answer.body_size:
        problems.append(f"the answer has a {answer.body_size}-byte body, expected none")
    if answer.elapsed_s > PROMPT_S:
        problems.append(f"the answer took {answer.elapsed_s:.1f} s, longer than {PROMPT_S:g} s")
    if record.done_at_first_look:
        problems.append(f"the renewal had already finished when the answer came ({answer.elapsed_s:.1f} s after the "
                        "request): it did not run after the answer")
    if problems:
        yield failed("renew", "; ".join(problems), **facts)
    else:
        yield passed("renew", f"204, empty, in {answer.elapsed_s:.2f} s; the renewal ran afterwards", **facts)


# ---------------------------------------------------------------- KC-RPV-02, 03


@implements("KC-RPV-02", context=ApiRenewalContext)
@renewal_judged
def renewed_for_leaf_days(ctx: ApiRenewalContext, record: RenewalRecord) -> Iterator[Finding]:
    """PAL: after renewal every component shows "365d", a date one year away."""
    final = finished_sample(record)
    if final is None:
        yield error("renewal", f"the renewal did not finish within {record.deadline_s:g} s, so what it renewed "
                    "cannot be judged (see KC-RPV-08)")
        return
    yield from leaves_renewed(record, final, ctx.profile, noun="renewal")


@implements("KC-RPV-03", context=ApiRenewalContext)
@renewal_judged
def cas_kept(ctx: ApiRenewalContext, record: RenewalRecord) -> Iterator[Finding]:
    """KADM: renewal signs with the CA on the node; PAL: new nodes join under the cluster's CAs."""
    good = _good(record.samples)
    if not good:
        yield error("renewal", "the platform could not be looked at after the renew request")
        return
    yield from ca_expiries_unchanged(record.before.certificates, good[-1].certificates, noun="renewal")


def _control_plane_scan(record: RenewalRecord, original: set[str], start: int
                        ) -> tuple[tuple[int, Sample] | None, Sample | None, bool]:
    """(fewest running below ``start`` and when, first look removing an old one before a new one ran, any change)."""
    worst: tuple[int, Sample] | None = None
    early_removal: Sample | None = None
    changed = False
    for sample in _good(record.samples):
        cp = [m for m in sample.machines if m.control_plane]
        running = sum(m.running for m in cp)
        if running < start and (worst is None or running < worst[0]):
            worst = (running, sample)
        present = {m.key: m for m in cp}
        removed = [k for k in original if k not in present or present[k].transitional]
        new_running = [m for m in cp if m.key not in original and m.running]
        changed = changed or bool(removed or new_running or len(cp) != len(original))
        if removed and not new_running and early_removal is None:
            early_removal = sample
    return worst, early_removal, changed


# ---------------------------------------------------------------- KC-RPV-04, 05


@implements("KC-RPV-04", context=ApiRenewalContext)
@renewal_judged
@judged_in(REPAVE, "control plane")
def control_plane_surges_first(ctx: ApiRenewalContext, record: RenewalRecord, mode: RenewalMode) -> Iterator[Finding]:
    """PAL: scale the control plane up first; remove the old machines once the new are available."""
    original = {m.key for m in record.before.control_plane()}
    start = sum(m.running for m in record.before.control_plane())
    events: dict[str, Any] = {"timeline": timeline(record)}
    if (contradiction := mode.contradiction()) is not None:
        yield failed("control plane", contradiction, **events)
        return
    worst, early_removal, changed = _control_plane_scan(record, original, start)
    problems = []
    if early_removal is not None:
        problems.append(f"an old control-plane machine was being removed at {fmt_time(early_removal.at)} before "
                        "any new one ran")
    if worst is not None:
        problems.append(f"only {worst[0]} control-plane machines ran at {fmt_time(worst[1].at)}, fewer than the "
                        f"{start} at the start")
    if problems:
        yield failed("control plane", "; ".join(problems), **events)
    elif not changed:
        yield error("control plane", "no control-plane machine was replaced while the renewal was watched", **events)
    else:
        yield passed("control plane", f"new control-plane machines ran before old ones went; never fewer than "
                     f"{start} running", **events)


@implements("KC-RPV-05", context=ApiRenewalContext)
@renewal_judged
@judged_in(REPAVE, "workers")
def workers_after_control_plane(ctx: ApiRenewalContext, record: RenewalRecord, mode: RenewalMode
                                ) -> Iterator[Finding]:
    """PAL: "The worker nodes renew once the control plane nodes are updated and available"."""
    original_cp = {m.key for m in record.before.control_plane()}
    original_workers = {m.key for m in record.before.workers()}
    events: dict[str, Any] = {"timeline": timeline(record)}
    cp_done: Sample | None = None
    first_worker_change: tuple[Sample, str] | None = None
    for sample in _good(record.samples):
        cp = [m for m in sample.machines if m.control_plane]
        if cp_done is None and not any(m.key in original_cp or m.transitional for m in cp) \
                and sum(m.running for m in cp) >= len(original_cp):
            cp_done = sample
        change = _worker_change(sample, original_workers)
        if change and first_worker_change is None:
            first_worker_change = (sample, change)
    if first_worker_change is None:
        if record.finished or not original_workers:
            yield passed("workers", "no worker was replaced", notable=bool(original_workers), **events)
        else:
            yield error("workers", "no worker was replaced before the deadline (see KC-RPV-08)", **events)
        return
    sample, change = first_worker_change
    if cp_done is None or sample.at < cp_done.at:
        done = f"the control plane was done at {fmt_time(cp_done.at)}" if cp_done else "the control plane was not done"
        yield failed("workers", f"{change} at {fmt_time(sample.at)}; {done}", **events)
    else:
        yield passed("workers", f"workers changed from {fmt_time(sample.at)}, after the control plane was done "
                     f"({fmt_time(cp_done.at)})", **events)


def _worker_change(sample: Sample, original: set[str]) -> str | None:
    workers = [m for m in sample.machines if not m.control_plane]
    present = {m.key for m in workers}
    for machine in workers:
        if machine.key not in original:
            return f"new worker {machine.name} appeared"
        if machine.transitional:
            return f"worker {machine.name} is {machine.state}"
    gone = original - present
    return f"{len(gone)} worker(s) went away" if gone else None


# ---------------------------------------------------------------- KC-RPV-06


@implements("KC-RPV-06", context=ApiRenewalContext)
@renewal_judged
def controlplane_only_leaves_workers(ctx: ApiRenewalContext, record: RenewalRecord) -> Iterator[Finding]:
    """PAL: with spectrocloud.com/cert-renew-controlplane-only "true", worker nodes are not renewed."""
    events: dict[str, Any] = {"timeline": timeline(record), "annotation_restored": record.annotation_restored}
    good = _good(record.samples)
    if not good:
        yield error("workers", "the platform could not be looked at after the renew request", **events)
        return
    before = {m.key: m for m in record.before.workers()}
    changes = []
    for sample in good:
        change = _worker_change(sample, set(before))
        if change:
            changes.append(f"{change} at {fmt_time(sample.at)}")
            break
    after = {m.key: m for m in good[-1].machines if not m.control_plane}
    for key, machine in before.items():
        later = after.get(key)
        if later is None:
            changes.append(f"worker {machine.name} is gone")
        elif (later.name, later.created) != (machine.name, machine.created):
            changes.append(f"worker {machine.name} changed: now {later.name}, created {later.created}")
    if not record.finished:
        changes.append(f"the control-plane renewal did not finish within {record.deadline_s:g} s")
    if changes:
        yield failed("workers", "; ".join(changes), **events)
    else:
        yield passed("workers", f"the {len(before)} workers kept their names, uids and creation times",
                     workers=[m.evidence() for m in before.values()], **events)


# ---------------------------------------------------------------- KC-RPV-07


@implements("KC-RPV-07", context=ApiRenewalContext)
@renewal_judged
def one_renewal_at_a_time(ctx: ApiRenewalContext, record: RenewalRecord) -> Iterator[Finding]:
    """A second renew request during a renewal must not start another."""
    events: dict[str, Any] = {"timeline": timeline(record)}
    if record.second_request is None:
        yield error("second request", "the renewal had finished before a second request could be sent "
                    "(see KC-RPV-01)", **events)
        return
    events.update(record.second_request.evidence())
    good = _good(record.samples)
    mode = mode_of(record)
    if (mode.detected or mode.judged_as) == REPAVE:  # what the platform did, whatever the profile pins
        before_cp = {m.key for m in record.before.control_plane()}
        before_workers = {m.key for m in record.before.workers()}
        new_cp = {m.key for s in good for m in s.machines if m.control_plane and m.key not in before_cp}
        new_workers = {m.key for s in good for m in s.machines if not m.control_plane and m.key not in before_workers}
        extra = []
        if len(new_cp) > len(before_cp):
            extra.append(f"{len(new_cp)} new control-plane machines for {len(before_cp)}")
        if len(new_workers) > len(before_workers):
            extra.append(f"{len(new_workers)} new workers for {len(before_workers)}")
        if extra:
            yield failed("second request", f"a second renewal ran: {'; '.join(extra)}", **events)
        else:
            yield passed("second request", f"answered {record.second_request.status}; one repave only "
                         f"({len(new_cp)} control-plane, {len(new_workers)} worker replacements)", **events)
        return
    changes = _expiry_changes(record)
    twice = [f"{name} ({count} changes)" for name, count in changes.items() if count > 1]
    if twice:
        yield failed("second request", f"certificates were renewed more than once: {', '.join(twice[:6])}", **events)
    else:
        yield passed("second request", f"answered {record.second_request.status}; every certificate renewed once",
                     **events)


def _expiry_changes(record: RenewalRecord) -> dict[str, int]:
    last = {(m.machine, k): v for m in record.before.certificates for k, v in m.expiries().items()}
    counts: dict[str, int] = {}
    for sample in _good(record.samples):
        for machine in sample.certificates:
            for key, value in machine.expiries().items():
                slot = (machine.machine, key)
                if slot in last and last[slot] != value:
                    name = f"{machine.machine}/{key[1]}"
                    counts[name] = counts.get(name, 0) + 1
                last[slot] = value
    return counts


# ---------------------------------------------------------------- KC-RPV-08


@implements("KC-RPV-08", context=ApiRenewalContext)
@renewal_judged
def finishes_within_deadline(ctx: ApiRenewalContext, record: RenewalRecord) -> Iterator[Finding]:
    """PAL: "The renewal process may take several minutes"; the user's deadline bounds it."""
    facts: dict[str, Any] = {"deadline_s": record.deadline_s, "looks": len(record.samples),
                             "progress_reports": record.progress_reports}
    if record.finished_at is not None:
        took = record.elapsed(record.finished_at)
        yield passed("renewal", f"finished in {took:.1f} s (deadline {record.deadline_s:g} s); "
                     f"{record.progress_reports} progress reports", elapsed_s=round(took, 1), **facts)
    else:
        yield failed("renewal", f"not finished after {record.elapsed():.0f} s (deadline {record.deadline_s:g} s)",
                     **facts)


# ---------------------------------------------------------------- KC-RPV-09


@implements("KC-RPV-09", context=RefusedRenewalContext)
def unauthenticated_renewal_refused(ctx: RefusedRenewalContext) -> Iterator[Finding]:
    """PAL: the renew request carries the ApiKey; without a valid one nothing may start."""
    probe = ctx.refused
    for exchange in probe.exchanges:
        subject = f"{exchange.method} {exchange.path} ({exchange.sent})"
        facts = exchange.evidence()
        if exchange.status is None:
            yield error(subject, f"no answer: {exchange.error}", **facts)
        elif exchange.status != 401:
            yield failed(subject, f"answered {exchange.status}, expected 401", **facts)
        else:
            yield passed(subject, "refused with 401", **facts)
    if probe.error is not None:
        yield error("platform", probe.error)
    elif probe.changes:
        yield failed("platform", f"the platform changed after the refused requests: {'; '.join(probe.changes[:5])}",
                     settled=probe.settled)
    else:
        yield passed("platform", f"nothing changed in the {len(probe.samples)} looks after the requests")
