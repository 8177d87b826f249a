"""KC-RPV-10: a Kubernetes version upgrade through the API renews the certificates, judged on the recorded
upgrade: the looks from the profile update until the upgrade had finished, as a renewal's are recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubecert.inventory.platform import UpgradeRecord
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, error, passed
from kubecert.rules.repave.expiries import ca_expiries_unchanged, finished_sample, leaves_renewed
from kubecert.rules.repave.renew import timeline


@dataclass(frozen=True)
class ApiUpgradeContext(RuleContext):
    """One Kubernetes upgrade applied through the API and watched (catalog: ``action = "api-upgrade"``)."""

    upgrade: UpgradeRecord


@implements("KC-RPV-10", context=ApiUpgradeContext)
def upgrade_renews_certificates(ctx: ApiUpgradeContext) -> Iterator[Finding]:
    """PAL: "Upgrading a cluster's Kubernetes version ... results in renewed PKI certificates"; KADM: an
    upgrade renews with the cluster's CAs, which it keeps."""
    record = ctx.upgrade
    facts: dict[str, Any] = record.evidence()
    if record.answer is not None:
        facts["answer"] = record.answer.evidence()
    if record.error is not None:
        yield error("upgrade", record.error, **facts)
        return
    final = finished_sample(record)
    if final is None:
        yield error("upgrade", f"the upgrade to {record.pack} {record.version} did not finish within "
                    f"{record.deadline_s:g} s, so what it renewed cannot be judged", timeline=timeline(record),
                    looks=len(record.samples), **facts)
        return
    reported = final.cluster.pack_versions.get(record.pack) if final.cluster is not None else None
    yield passed("upgrade", f"{record.pack} {record.version_before or '(not reported)'} → {record.version}: "
                 f"finished in {record.elapsed(record.finished_at):.1f} s", version_after=reported,
                 timeline=timeline(record), **facts)
    yield from leaves_renewed(record, final, ctx.profile, noun="upgrade", before=record.before.certificates)
    yield from ca_expiries_unchanged(record.before.certificates, final.certificates, noun="upgrade")
