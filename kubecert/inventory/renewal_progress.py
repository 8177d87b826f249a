"""How far a renewal has got and which way the platform renews it, judged from the looks at the platform: what
the watcher waits on, what its progress lines say, and the mode the RPV rules judge. Only what any
implementation shows is used: machines (by uid, else name), reported expiries, a status condition that says a
renewal is in progress, and the repave's approval state.

The mode is what the platform does, not what it was asked to do. Control-plane machines replaced (gone, being
deleted, or new ones) is a repave (the 2023 page); a control-plane machine that kept its uid and reports renewed
certificates is a renewal in place (Palette 4.2 and later). A platform that does both renewed in place and
replaced machines besides: in place, with the machines it replaced for KC-RPV-11 to name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubecert.inventory.platform import (
    MAX_LISTED_MACHINES,
    Machine,
    MachineCertificates,
    PlatformObservation,
    RenewalRecord,
    Sample,
)

REPAVE, IN_PLACE = "repave", "in-place"
_NAMED = 20  # machines named in evidence and messages; a cluster has a few, a hostile API may list thousands
# Machines kept track of in each list: an API that shows new machines at every look would otherwise make the
# lists, and the work of adding to them, grow with every look. Past it the count says "or more".
MAX_TRACKED = 2 * MAX_LISTED_MACHINES


@dataclass(frozen=True)
class Progress:
    done: bool
    summary: str  # "2/3 control-plane machines new, 0/2 workers new"
    state: str  # the cluster's own words for it, or "-"
    mode: str | None = None  # the way the platform renews, once seen
    awaiting_approval: bool = False  # the cluster says a repave waits for approval and nothing moves


@dataclass(frozen=True)
class RenewalSeen:
    """What the looks after a request showed the platform do to the control plane, over all of them."""

    replaced: tuple[str, ...] = ()  # control-plane machines there before that went away or were being deleted
    added: tuple[str, ...] = ()  # control-plane machines that were not there before
    renewed_in_place: tuple[str, ...] = ()  # listed machines there before, same machine, with a leaf renewed

    @property
    def mode(self) -> str | None:
        if self.renewed_in_place:
            return IN_PLACE
        if self.replaced or self.added:
            return REPAVE
        return None

    def after(self, before: PlatformObservation, sample: Sample) -> RenewalSeen:
        """This, with what one more look shows."""
        if sample.error is not None:
            return self
        original = {m.key: m for m in before.control_plane()}
        present = {m.key: m for m in sample.machines if m.control_plane}
        replaced = [m.name for key, m in original.items()
                    if key not in present or _leaving(present[key]) or not _same(m, present[key])]
        added = [m.name for key, m in present.items() if key not in original or not _same(original[key], m)]
        return RenewalSeen(_union(self.replaced, replaced), _union(self.added, added),
                           _union(self.renewed_in_place, _renewed_in_place(before, sample, original)))

    def describe(self) -> str:
        """Why the mode is what it is, in a sentence."""
        if self.mode == IN_PLACE:
            their = "its uid" if len(self.renewed_in_place) == 1 else "their uids"
            kept = (f"{_count(self.renewed_in_place, 'control-plane machine')} kept {their} and reported renewed "
                    f"certificates ({_names(self.renewed_in_place)})")
            if not (self.replaced or self.added):
                return f"the platform renewed in place: {kept}; no machine was replaced"
            return f"the platform renewed in place: {kept}; besides, {self._replacements()}"
        if self.mode == REPAVE:
            return f"the platform repaved: {self._replacements()}"
        return "no control-plane machine was replaced or reported renewed certificates"

    def _replacements(self) -> str:
        parts = []
        if self.replaced:
            parts.append(f"{_count(self.replaced, 'control-plane machine')} went away ({_names(self.replaced)})")
        if self.added:
            parts.append(f"{_count(self.added, 'new control-plane machine')} came ({_names(self.added)})")
        return " and ".join(parts)

    def evidence(self) -> dict[str, Any]:
        return {"detected": self.mode, "control_plane_replaced": list(self.replaced[:_NAMED]),
                "control_plane_new": list(self.added[:_NAMED]),
                "control_plane_renewed_in_place": list(self.renewed_in_place[:_NAMED])}


def renewal_seen(record: RenewalRecord) -> RenewalSeen:
    """What every look of ``record`` showed the platform do."""
    seen = RenewalSeen()
    for sample in record.samples:
        seen = seen.after(record.before, sample)
    return seen


class RenewalWatch:
    """A renewal's looks as the watcher takes them, one by one: how far it has got, and which way it goes."""

    def __init__(self, before: PlatformObservation, controlplane_only: bool) -> None:
        self.before = before
        self.controlplane_only = controlplane_only
        self.seen = RenewalSeen()

    def look(self, sample: Sample) -> Progress:
        state = _state(sample)
        if sample.error is not None:
            return Progress(False, f"could not look: {sample.error}", state, self.seen.mode)
        self.seen = self.seen.after(self.before, sample)
        mode = self.seen.mode
        if mode == REPAVE:
            done, summary = self._repaved(sample)
        elif mode == IN_PLACE:
            done, summary = self._renewed_in_place(sample)
        else:
            done, summary = False, f"0/{len(self.before.control_plane())} control-plane machines renewed or replaced"
        moving = _busy(sample)
        held = (sample.cluster is not None and sample.cluster.repave_awaits_approval and mode is None
                and not any(m.transitional for m in sample.machines))
        return Progress(done and not moving, summary, state, mode, held)

    def _repaved(self, sample: Sample) -> tuple[bool, str]:
        cp_new, cp_done = _replaced(self.before.control_plane(), [m for m in sample.machines if m.control_plane])
        summary = f"{cp_new}/{len(self.before.control_plane())} control-plane machines new"
        if self.controlplane_only:
            return cp_done, summary
        workers = [m for m in sample.machines if not m.control_plane]
        workers_new, workers_done = _replaced(self.before.workers(), workers)
        return cp_done and workers_done, summary + f", {workers_new}/{len(self.before.workers())} workers new"

    def _renewed_in_place(self, sample: Sample) -> tuple[bool, str]:
        """Done once every machine listed before is renewed or no longer listed, and as many control-plane machines
        run as before (a machine replaced besides has a running successor)."""
        listed_now = {entry.machine for entry in sample.certificates}
        renewed = set(self.seen.renewed_in_place)
        listed_before = [entry.machine for entry in self.before.certificates]
        waiting = [name for name in listed_before if name not in renewed and name in listed_now]
        running = sum(m.running for m in sample.machines if m.control_plane)
        done = bool(listed_before) and not waiting and running >= len(self.before.control_plane())
        summary = f"{len(renewed)}/{len(listed_before)} control-plane machines renewed in place"
        if self.seen.replaced or self.seen.added:
            summary += f" ({len(self.seen.replaced)} replaced besides)"
        return done, summary


class UpgradeWatch(RenewalWatch):
    """An upgrade renews as a whole renewal does, so it is done when that is; it is done too once the cluster,
    at rest, reports the new version (a platform that upgrades without renewing is then judged, not waited on)."""

    def __init__(self, before: PlatformObservation, pack: str, version: str) -> None:
        super().__init__(before, controlplane_only=False)
        self.pack, self.version = pack, version

    def look(self, sample: Sample) -> Progress:
        progress = super().look(sample)
        if sample.error is not None:
            return progress
        reported = sample.cluster.pack_versions.get(self.pack) if sample.cluster is not None else None
        upgraded = reported == self.version and not _busy(sample)
        return Progress(progress.done or upgraded, f"{progress.summary}, {self.pack} {reported or '(not reported)'}",
                        progress.state, progress.mode, progress.awaiting_approval)


def _replaced(before: tuple[Machine, ...], now: list[Machine]) -> tuple[int, bool]:
    """(how many new machines run, whether every machine of ``before`` is gone and as many new ones run)."""
    old = {m.key: m for m in before}
    kept = [m.key in old and _same(old[m.key], m) for m in now]
    running = sum(m.running for m, was_there in zip(now, kept, strict=True) if not was_there)
    return running, not any(kept) and running >= len(old)


def _state(sample: Sample) -> str:
    cluster = sample.cluster
    if cluster is None:
        return "-"
    state = cluster.state or "-"
    return f"{state}, repave {cluster.repave_state}" if cluster.repave_state else state


def _busy(sample: Sample) -> bool:
    return any(m.transitional for m in sample.machines) or (
        sample.cluster is not None and sample.cluster.renewal_in_progress)


def _leaving(machine: Machine) -> bool:
    return machine.deleting is not None or (machine.state or "").lower() == "deleting"


def _renewed_in_place(before: PlatformObservation, sample: Sample, original: dict[str, Machine]) -> list[str]:
    """The listed machines that were there before and show another leaf expiry now, on the machine that was there:
    the machine the entry names (by name, or by a host name where the listing names hosts) kept its uid and
    creation time. A new machine that took an old one's name is a replacement, not a renewal in place. Indexed
    once per look: a listing and a machine list as long as their bounds cost a pass each, not one per entry."""
    listed_now = {entry.machine: entry for entry in sample.certificates}
    machines_by_name: dict[str, Machine] = {}
    for machine in sample.machines:
        if machine.control_plane:
            for name in (machine.name, *machine.hostnames):
                machines_by_name.setdefault(name, machine)
    renewed = []
    for entry in before.certificates:
        now = listed_now.get(entry.machine)
        if now is None or not _leaf_expiry_changed(entry, now):
            continue
        holder = machines_by_name.get(entry.machine)
        if holder is None or (holder.key in original and _same(original[holder.key], holder)):
            renewed.append(entry.machine)
    return renewed


def _same(was: Machine, now: Machine) -> bool:
    """The same machine as far as its creation time tells (an API without uids names machines by name, and a
    replacement may take its predecessor's name)."""
    return was.created is None or now.created is None or was.created == now.created


def _leaf_expiry_changed(before: MachineCertificates, now: MachineCertificates) -> bool:
    earlier = {(c.authority, c.reported_name): c.expiry for c in before.leaves()}
    return any((c.authority, c.reported_name) in earlier and earlier[(c.authority, c.reported_name)] != c.expiry
               for c in now.leaves())


def _union(kept: tuple[str, ...], more: Iterable[str]) -> tuple[str, ...]:
    if len(kept) >= MAX_TRACKED:
        return kept
    return tuple(dict.fromkeys((*kept, *more)))[:MAX_TRACKED]


def _count(names: tuple[str, ...], noun: str) -> str:
    return f"{len(names)}{' or more' if len(names) >= MAX_TRACKED else ''} {noun}{'' if len(names) == 1 else 's'}"


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:_NAMED])
    return shown + (f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")
