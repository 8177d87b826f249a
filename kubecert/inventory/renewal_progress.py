"""How far a renewal has got, judged from one look at the platform: what the watcher waits on and what
its progress lines say. Only what any implementation shows is used: machines (by uid, else name),
reported expiries, and a cluster status that says a repave or renewal is in progress, where there is one.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubecert.inventory.platform import PlatformObservation, Sample


@dataclass(frozen=True)
class Progress:
    done: bool
    summary: str  # "2/3 control-plane machines new, 0/2 workers new"
    state: str  # the cluster's own word for it, or "-"


def assess(before: PlatformObservation, sample: Sample, mode: str, controlplane_only: bool) -> Progress:
    state = "-"
    if sample.cluster is not None:
        state = sample.cluster.repave_state or sample.cluster.state or "-"
    if sample.error is not None:
        return Progress(False, f"could not look: {sample.error}", state)
    if mode == "repave":
        done, summary = _repave(before, sample, controlplane_only)
    else:
        done, summary = _in_place(before, sample)
    return Progress(done and not _busy(sample), summary, state)


def assess_upgrade(before: PlatformObservation, sample: Sample, mode: str, pack: str, version: str) -> Progress:
    """An upgrade renews as a whole renewal does, so it is done when that is; it is done too once the cluster,
    at rest, reports the new version (a platform that upgrades without renewing is then judged, not waited on)."""
    progress = assess(before, sample, mode, controlplane_only=False)
    if sample.error is not None:
        return progress
    reported = sample.cluster.pack_versions.get(pack) if sample.cluster is not None else None
    upgraded = reported == version and not _busy(sample)
    return Progress(progress.done or upgraded, f"{progress.summary}, {pack} {reported or '(not reported)'}",
                    progress.state)


def _busy(sample: Sample) -> bool:
    return any(m.transitional for m in sample.machines) or (
        sample.cluster is not None and sample.cluster.renewal_in_progress)


def _repave(before: PlatformObservation, sample: Sample, controlplane_only: bool) -> tuple[bool, str]:
    old_cp = {m.key for m in before.control_plane()}
    old_workers = {m.key for m in before.workers()}
    cp = [m for m in sample.machines if m.control_plane]
    workers = [m for m in sample.machines if not m.control_plane]
    new_cp = [m for m in cp if m.key not in old_cp and m.running]
    cp_done = not any(m.key in old_cp for m in cp) and len(new_cp) >= len(old_cp)
    summary = f"{len(new_cp)}/{len(old_cp)} control-plane machines new"
    if controlplane_only:
        return cp_done, summary
    new_workers = [m for m in workers if m.key not in old_workers and m.running]
    workers_done = not any(m.key in old_workers for m in workers) and len(new_workers) >= len(old_workers)
    return cp_done and workers_done, summary + f", {len(new_workers)}/{len(old_workers)} workers new"


def _in_place(before: PlatformObservation, sample: Sample) -> tuple[bool, str]:
    """A machine counts as renewed once any of its leaves reports another expiry than before."""
    renewed = 0
    for machine in before.certificates:
        now = next((m for m in sample.certificates if m.machine == machine.machine), None)
        if now is None:
            continue
        earlier = {(c.authority, c.reported_name): c.expiry for c in machine.leaves()}
        if any(earlier.get((c.authority, c.reported_name)) != c.expiry for c in now.leaves()):
            renewed += 1
    total = len(before.certificates)
    return renewed >= total > 0, f"{renewed}/{total} control-plane machines renewed"
