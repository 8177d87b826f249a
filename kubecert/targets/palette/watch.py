"""Renewals and upgrades through the API, watched: request one, look every poll interval until it has
finished (and stayed finished for a settling time) or the deadline passes, and keep every look as the
timeline the RPV rules judge. Progress goes to the terminal while waiting, and the way the platform renews
(repave or in place) once it shows.

A repave that waits for approval (status.repave.state Pending, nothing moving) never moves on its own: the
watch ends as soon as that has held for the settling time, with an error that says how to approve it.
kubecert never approves a repave itself: that is the operator's decision.
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from kubecert.inventory.platform import (
    REPAVE_AWAITS_APPROVAL,
    ClusterObject,
    Exchange,
    Machine,
    PlatformObservation,
    RenewalRecord,
    Sample,
    Sent,
    UnauthenticatedRenewal,
    UpgradeRecord,
)
from kubecert.inventory.renewal_progress import Progress, RenewalWatch, UpgradeWatch
from kubecert.targets.errors import TargetUnavailable, TargetUnresponsive
from kubecert.targets.palette import CONTROLPLANE_ONLY, parse
from kubecert.targets.palette.api import PaletteApi
from kubecert.targets.palette.upgrade import REASON

_REPORT_EVERY_S = 10.0
R = TypeVar("R", bound=RenewalRecord)


@dataclass(frozen=True)
class _Operation:
    """What is requested and then watched: a renewal or an upgrade."""

    noun: str  # "renewal", "upgrade": what errors and progress lines call it
    request_name: str  # "renew", "upgrade": what they call its request
    request: Callable[[], Exchange]
    progress: Callable[[Sample], Progress]  # how far it has got at one look (each look once, in order)
    while_running: Callable[[], Exchange] | None = None  # a second request sent while it runs (KC-RPV-07)


def renew_and_watch(target: PaletteApi, *, controlplane_only: bool = False) -> RenewalRecord:
    before = target.look()
    record = RenewalRecord(
        target=target.id, profile_mode=target.profile.renewal_mode, controlplane_only=controlplane_only,
        deadline_s=float(target.profile.renewal_deadline_seconds), before=before, requested_at=_now(),
    )
    operation = _Operation(
        "renewal", "renew", target.renew, RenewalWatch(before, controlplane_only).look,
        while_running=lambda: target.renew(sent=Sent.WHILE_RENEWING),
    )
    return _request_and_watch(target, record, operation)


def upgrade_and_watch(target: PaletteApi) -> UpgradeRecord:
    """KC-RPV-10: apply the user's Kubernetes pack version through the API and watch the upgrade to its end."""
    before = target.look()  # first: a target may name its upgrade only once it is reached (the reference's)
    wanted = target.upgrade_to
    record = UpgradeRecord(
        target=target.id, profile_mode=target.profile.renewal_mode, controlplane_only=False,
        deadline_s=float(target.profile.renewal_deadline_seconds), before=before, requested_at=_now(),
    )
    if wanted is None:
        record.error = f"no upgrade was asked for: {REASON}"
        return record
    record.profile_uid, record.pack, record.version = wanted.profile_uid, wanted.pack, wanted.version
    record.version_before = before.cluster.pack_versions.get(wanted.pack) if before.cluster is not None else None
    if record.version_before == wanted.version:
        record.error = (f"the cluster already runs {wanted.pack} {wanted.version}, so an upgrade to it would change "
                        "nothing; give --upgrade-profile a profile version that carries a release it does not run")
        return record
    operation = _Operation(
        "upgrade", "upgrade", lambda: target.request_upgrade(wanted),
        UpgradeWatch(before, wanted.pack, wanted.version).look,
    )
    return _request_and_watch(target, record, operation)


def _request_and_watch(target: PaletteApi, record: R, operation: _Operation) -> R:
    if record.before.machines is None:
        record.error = (f"the machines could not be read before the {operation.noun}: "
                        f"{'; '.join(record.before.problems)}")
        return record
    if record.before.cluster is not None and record.before.cluster.repave_awaits_approval:
        # Whatever the request would start could not be told apart from the repave on hold, which waits anyway.
        _held_for_approval(target, record, f"since before the {operation.noun} was requested (nothing was sent)")
        return record
    record.answer = operation.request()
    record.answered_at = _now()
    if record.answer.status is None or not 200 <= record.answer.status < 300:
        record.error = (f"the {operation.request_name} request was not accepted: "
                        f"{record.answer.status or record.answer.error} {record.answer.text[:200]}".rstrip())
        return record
    _watch(target, record, operation)
    return record


def _watch(target: PaletteApi, record: RenewalRecord, operation: _Operation) -> None:
    with target.budget.set_aside():  # the renewal deadline bounds this wait, not the target's time budget
        _watch_until_done(target, record, operation)


def _watch_until_done(target: PaletteApi, record: RenewalRecord, operation: _Operation) -> None:
    deadline = record.requested_at + dt.timedelta(seconds=record.deadline_s)
    stable_since: dt.datetime | None = None
    held_since: dt.datetime | None = None
    last_line, last_report = "", 0.0
    progress = None
    while True:
        sample = target.sample()
        record.samples.append(sample)
        progress = operation.progress(sample)
        if len(record.samples) == 1:
            record.done_at_first_look = progress.done
            if not progress.done and not progress.awaiting_approval and operation.while_running is not None:
                record.second_sent_at = _now()
                record.second_request = operation.while_running()
        line = f"{operation.noun}: {progress.summary}, state {progress.state}, {record.elapsed(sample.at):.0f} s"
        if line.split(",")[:-1] != last_line.split(",")[:-1] or time.monotonic() - last_report > _REPORT_EVERY_S:
            target.progress(f"{target.id} {line}")
            record.progress_reports += 1
            last_line, last_report = line, time.monotonic()
        if progress.done:
            stable_since = stable_since or sample.at
            if (sample.at - stable_since).total_seconds() >= target.settle_s:
                record.finished_at = stable_since
                break
        else:
            stable_since = None
        held_since = (held_since or sample.at) if progress.awaiting_approval else None
        if held_since is not None and (sample.at - held_since).total_seconds() >= target.settle_s:
            _held_for_approval(target, record, f"after the {operation.request_name} request")
            return
        if sample.at >= deadline:
            break
        time.sleep(target.poll_s)
    if record.finished_at is not None:
        how = f": {progress.mode}" if progress is not None and progress.mode else ""
        target.progress(f"{target.id} {operation.noun} finished in {record.elapsed(record.finished_at):.1f} s{how}")
    else:
        target.progress(f"{target.id} {operation.noun} not finished after {record.deadline_s:g} s: {last_line}")
    record.progress_reports += 1


def _held_for_approval(target: PaletteApi, record: RenewalRecord, when: str) -> None:
    """The record of a repave on hold: an error that says so and how to approve it, with the platform's reasons."""
    approve = f"/v1/spectroclusters/{urllib.parse.quote(target.cluster_uid, safe='')}/repave/approve"
    reasons = _repave_reasons(target)
    record.awaiting_approval = True
    record.error = (f"the repave waits for approval (status.repave.state {REPAVE_AWAITS_APPROVAL}) {when}: approve it "
                    f"with PATCH {approve} or in Palette's UI, then check again; kubecert does not approve a repave "
                    "(that is the operator's decision)"
                    + (f"; the platform's reasons: {'; '.join(reasons)}" if reasons else ""))
    target.progress(f"{target.id} {record.error}")
    record.progress_reports += 1


def _repave_reasons(target: PaletteApi) -> list[str]:
    """What ``GET .../repave/status`` gives as the repave's reasons; nothing where the route is not offered."""
    path = f"/v1/spectroclusters/{urllib.parse.quote(target.cluster_uid, safe='')}/repave/status"
    try:
        answer = target.client().request("GET", path)
    except TargetUnresponsive:
        raise
    except TargetUnavailable:
        return []
    return parse.repave_reasons(answer.document) if answer.status == 200 else []


def renew_controlplane_only(target: PaletteApi) -> RenewalRecord:
    """KC-RPV-06: annotate, renew, watch, and put the annotation back as it was."""
    try:
        previous = target.spc_annotation(CONTROLPLANE_ONLY)
        target.set_spc_annotation(CONTROLPLANE_ONLY, "true")
        if target.spc_annotation(CONTROLPLANE_ONLY) != "true":
            raise TargetUnavailable(f"{target.id}: the annotation {CONTROLPLANE_ONLY}=true did not stick")
    except TargetUnavailable as exc:
        return RenewalRecord(target.id, target.profile.renewal_mode, True, 0.0, _empty(), _now(), error=str(exc))
    try:
        record = renew_and_watch(target, controlplane_only=True)
    except TargetUnavailable as exc:
        record = RenewalRecord(target.id, target.profile.renewal_mode, True, 0.0, _empty(), _now(), error=str(exc))
    finally:
        try:
            target.set_spc_annotation(CONTROLPLANE_ONLY, previous)
            restored = target.spc_annotation(CONTROLPLANE_ONLY) == previous
        except TargetUnavailable:
            restored = False
    record.annotation_before, record.annotation_set = previous, True
    record.annotation_restored = restored
    return record


def refused_renewal(target: PaletteApi) -> UnauthenticatedRenewal:
    """KC-RPV-09: renew without a key and with a wrong one, then watch that nothing starts."""
    before = target.look()
    probe = UnauthenticatedRenewal(before=before)
    if _busy(before.machines or (), before.cluster):
        # A renewal is still going on (an earlier one outlived its deadline): whatever changes now cannot be
        # told apart from what these requests might start. Their answers are still judged.
        probe.error = ("the platform was still busy with an earlier renewal when the unauthenticated requests "
                       "were sent, so what they started cannot be told apart from it")
    client = target.client()
    probe.exchanges.append(target.renew(key=None, sent=Sent.NO_KEY))
    probe.exchanges.append(target.renew(key=client.wrong_key(), sent=Sent.WRONG_KEY))
    started = time.monotonic()
    while time.monotonic() - started < target.settle_s:
        time.sleep(target.poll_s)
        sample = target.sample()
        probe.samples.append(sample)
        probe.changes += [c for c in changes(before, sample) if c not in probe.changes]
    if probe.changes and probe.error is None:
        # Something started: let it finish, so the checks after this one find the platform at rest.
        target.progress(f"{target.id} an unauthenticated renew request changed the platform ({probe.changes[0]}); "
                        "waiting for it to settle")
        with target.budget.set_aside():  # bounded by the renewal deadline instead
            probe.settled = _settled(target, probe)
    return probe


def _settled(target: PaletteApi, probe: UnauthenticatedRenewal) -> bool:
    """Whether the platform came to rest within the renewal deadline (each look kept in ``probe``)."""
    deadline = time.monotonic() + target.profile.renewal_deadline_seconds
    while time.monotonic() < deadline:
        sample = target.sample()
        probe.samples.append(sample)
        if sample.error is None and not _busy(sample.machines, sample.cluster):
            return True
        time.sleep(target.poll_s)
    return False


def _busy(machines: Iterable[Machine], cluster: ClusterObject | None) -> bool:
    return any(m.transitional for m in machines) or (cluster is not None and cluster.renewal_in_progress)


def changes(before: PlatformObservation, sample: Sample) -> list[str]:
    """What differs from ``before``: machines come or go or move, expiries change, a renewal shows."""
    if sample.error is not None:
        return []
    found = []
    was = {m.key: m for m in before.machines or ()}
    now = {m.key: m for m in sample.machines}
    found += [f"machine {now[k].name} appeared" for k in now.keys() - was.keys()]
    found += [f"machine {was[k].name} went away" for k in was.keys() - now.keys()]
    found += [f"machine {m.name} is {m.state}" for m in sample.machines if m.transitional]
    for machine in before.certificates:
        later = next((m for m in sample.certificates if m.machine == machine.machine), None)
        if later is not None and later.expiries() != machine.expiries():
            found.append(f"the certificates of {machine.machine} changed expiry")
    if sample.cluster is not None and sample.cluster.renewal_in_progress:
        found.append("the cluster reports a renewal in progress (a status condition)")
    was_state = before.cluster.repave_state if before.cluster is not None else None
    if sample.cluster is not None and sample.cluster.repave_state != was_state:
        found.append(f"the cluster's repave state went from {was_state or '(none)'} to "
                     f"{sample.cluster.repave_state or '(none)'}")
    return found


def _empty() -> PlatformObservation:
    return PlatformObservation(_now(), Exchange("GET", "", Sent.API_KEY, None), (), None, None)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
