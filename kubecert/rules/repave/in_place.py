"""KC-RPV-11: a renewal in place (Palette 4.2 and later) keeps every machine, judged on the recorded timeline of
one renewal: every control-plane machine and every worker there before is there at every look, with its name,
uid and creation time, and not being deleted; no machine comes; the control plane keeps running. (A renewal
that did not finish is an error, not a pass: renew.renewal_judged.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubecert.inventory.platform import Machine, RenewalRecord, Sample
from kubecert.inventory.renewal_progress import IN_PLACE
from kubecert.rules._common import fmt_time
from kubecert.rules.catalog import implements
from kubecert.rules.findings import Finding, failed, passed
from kubecert.rules.repave.expiries import good
from kubecert.rules.repave.modes import RenewalMode
from kubecert.rules.repave.renew import ApiRenewalContext, judged_in, renewal_judged, timeline

_NAMED = 10  # changes named in one finding; the count says how many more


@implements("KC-RPV-11", context=ApiRenewalContext)
@renewal_judged
@judged_in(IN_PLACE, "machines")
def in_place_keeps_every_machine(ctx: ApiRenewalContext, record: RenewalRecord, mode: RenewalMode
                                 ) -> Iterator[Finding]:
    """PAL4: renewal "will not cause a cluster repave" and renews "control plane certificates only"."""
    events: dict[str, Any] = {"timeline": timeline(record)}
    contradiction = mode.contradiction()
    for control_plane, subject in ((True, "control plane"), (False, "workers")):
        before = [m for m in record.before.machines or () if m.control_plane == control_plane]
        changes = _changes(record, before, control_plane)
        if contradiction is not None and control_plane:
            changes.insert(0, contradiction)
        if changes:
            more = f"; and {len(changes) - _NAMED} more" if len(changes) > _NAMED else ""
            yield failed(subject, "; ".join(changes[:_NAMED]) + more, **events)
        elif control_plane:
            yield passed(subject, f"in place: the {len(before)} control-plane machines kept their names, uids and "
                                  "creation times and kept running", **events)
        else:
            yield passed(subject, f"the {len(before)} workers were left alone", **events)


def _changes(record: RenewalRecord, before: list[Machine], control_plane: bool) -> list[str]:
    """What happened to the pool's machines at any look, each machine's first change once, in order."""
    original = {m.key: m for m in before}
    start = sum(m.running for m in before)
    found: dict[str, str] = {}
    fewest: tuple[int, Sample] | None = None
    for sample in good(record.samples):
        pool = {m.key: m for m in sample.machines if m.control_plane == control_plane}
        at = fmt_time(sample.at)
        for key, was in original.items():
            now = pool.get(key)
            if now is None:
                found.setdefault(key, f"{was.name} went away by {at}")
            elif now.deleting is not None or now.transitional:
                found.setdefault(key, f"{was.name} was {now.state or 'being deleted'} at {at}")
            elif (now.name, now.created) != (was.name, was.created):
                found.setdefault(key, f"{was.name} became {now.name}, created {now.created} (at {at})")
        for key, machine in pool.items():
            if key not in original:
                found.setdefault(key, f"new machine {machine.name} appeared at {at}")
        running = sum(m.running for m in pool.values())
        if control_plane and running < start and (fewest is None or running < fewest[0]):
            fewest = (running, sample)
    changes = list(found.values())
    if fewest is not None:
        changes.append(f"only {fewest[0]} of {start} control-plane machines ran at {fmt_time(fewest[1].at)}")
    return changes
