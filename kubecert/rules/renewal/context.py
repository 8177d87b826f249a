"""What renewal rules judge: the target before and after one action, and the record of the action."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from kubecert import layout
from kubecert.inventory.action import ActionRecord
from kubecert.inventory.csrs import CsrFolder
from kubecert.inventory.files import MAX_FILE_BYTES
from kubecert.inventory.keymaterial import KeyTraces
from kubecert.inventory.model import CertRecord, Inventory
from kubecert.inventory.snapshot import Changes, Snapshot, compare
from kubecert.rules._common import is_external
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, error, passed


@dataclass(frozen=True)
class ActionObservation:
    """One action and the target on either side of it."""

    action: ActionRecord
    before: Inventory
    after: Inventory
    files_before: Snapshot
    files_after: Snapshot
    subject: str | None = None  # the certificate a renew-one action was asked to renew
    csr_dir: Path | None = None  # where a generate-csr action was asked to write
    csrs: CsrFolder | None = None  # what it wrote there, read after it

    def changes(self) -> Changes:
        return compare(self.files_before, self.files_after)

    @cached_property
    def key_traces(self) -> KeyTraces:
        """The keys read before and after the action, and those it wrote as CSRs."""
        written = [record.key.traces for record in (self.csrs.csrs.values() if self.csrs else ()) if record.key]
        return KeyTraces.union([self.before.key_traces, self.after.key_traces, *written])

    def certificate(self, name: str, *, after: bool) -> CertRecord | None:
        """A CA, leaf or kubeconfig client certificate by kubeadm name, as it was before or after."""
        inventory = self.after if after else self.before
        if name in inventory.certificates:
            return inventory.certificates[name]
        kubeconfig = inventory.kubeconfigs.get(name)
        return kubeconfig.client_cert if kubeconfig is not None else None

    @cached_property
    def external_cas(self) -> frozenset[str]:
        """CAs whose key was absent before the action: kubeadm's external-CA mode."""
        return frozenset(ca.name for ca in self.before.cas() if is_external(ca, self.before))

    def renewable(self) -> list[str]:
        """Every certificate present before that renewal should renew: leaves and kubeconfig clients."""
        return [name for name in layout.RENEWED if self.certificate(name, after=False) is not None]

    def renewed(self, name: str) -> bool:
        old, new = self.certificate(name, after=False), self.certificate(name, after=True)
        return old is not None and new is not None and old.fingerprint_sha256 != new.fingerprint_sha256

    def unevaluable(self) -> Iterator[Finding]:
        """An error when the action did not run to a successful end: its results cannot be judged."""
        why = self.action.failure()
        if why is not None:
            yield error(f"action: {self.action.action}", why, **self.action.evidence())

    def change_unknown(self, path: str) -> str | None:
        """Why whether the action changed ``path`` is unknown, or None when the snapshots tell."""
        if path in self.changes().unknown:
            return (f"{path} was not read before or after the action (over kubecert's {MAX_FILE_BYTES}-byte "
                    "bound, or unreadable)")
        return next((snapshot.unread for snapshot in (self.files_before, self.files_after)
                     if path not in snapshot and snapshot.unread), None)

    def uncompared(self, allowed: Collection[str] = ()) -> Iterator[Finding]:
        """Errors for the files, but ``allowed``, whose change by the action is unknown: one not read before or
        after (over the size bound, unreadable), and any beyond a folder too large to compare whole."""
        changes = self.changes()
        for path in changes.unknown:
            if path not in allowed:
                yield error(path.rsplit("/", 1)[-1], f"whether the action changed it is unknown: {path} was not read "
                            f"(over kubecert's {MAX_FILE_BYTES}-byte bound, or unreadable)", path=path)
        for why in changes.unread:
            yield error("files", why)

    def action_finding(self) -> Finding:
        """The action itself, as evidence: when it ran, what ran, what it printed."""
        return passed(f"action: {self.action.action}", f"ran {self.action.command!r}", **self.action.evidence())


@dataclass(frozen=True)
class RenewalContext(RuleContext):
    """``inventory`` is the target after the action, ``observation`` holds before, after and the action."""

    observation: ActionObservation

    def known_keys(self) -> KeyTraces:
        return self.observation.key_traces


@dataclass(frozen=True)
class UpgradeContext(RuleContext):
    """Two upgrades of one target: with certificate renewal, then once more with it switched off."""

    without_renewal: ActionObservation
    with_renewal: ActionObservation

    def known_keys(self) -> KeyTraces:
        return KeyTraces.union([self.without_renewal.key_traces, self.with_renewal.key_traces])


@dataclass(frozen=True)
class ListingContext(RuleContext):
    """An expiration listing the target printed, and the target observed right after it."""

    action: ActionRecord


def renewal_window(action: ActionRecord, leaf_days: int, skew_seconds: int) -> tuple[dt.datetime, dt.datetime]:
    """The NotAfter a certificate renewed by ``action`` may have: leaf_days after the action ran.

    X.509 times have whole seconds and the target's clock may differ from kubecert's by the skew.
    """
    period = dt.timedelta(days=leaf_days)
    skew = dt.timedelta(seconds=skew_seconds)
    start = action.started_at.replace(microsecond=0)
    return start + period - skew, action.finished_at + period + skew
