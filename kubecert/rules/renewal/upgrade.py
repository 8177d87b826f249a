"""KC-UPG: a control-plane upgrade renews the certificates, unless renewal is switched off for it."""

from __future__ import annotations

from collections.abc import Iterator

from kubecert import layout
from kubecert.rules._common import fmt_time
from kubecert.rules.catalog import implements
from kubecert.rules.findings import Finding, failed, passed
from kubecert.rules.renewal.certificates import action_findings, before_after, outside_renewal
from kubecert.rules.renewal.context import ActionObservation, UpgradeContext, renewal_window
from kubecert.timestamps import isoformat

OFF = "[certificate-renewal=false]"
ON = "[certificate-renewal=true]"


def _everything(obs: ActionObservation) -> list[str]:
    return [ca.name for ca in obs.before.cas()] + obs.renewable()


@implements("KC-UPG-01", context=UpgradeContext)
def upgrade_renews(ctx: UpgradeContext) -> Iterator[Finding]:
    """KADM: kubeadm renews all certificates during a control-plane upgrade; --certificate-renewal=false opts out."""
    off, on = ctx.without_renewal, ctx.with_renewal
    for obs in (off, on):
        findings, judgeable = action_findings(obs)
        yield from findings
        if not judgeable:
            return
    for name in _everything(off):
        if off.renewed(name):
            yield failed(f"{name} {OFF}", "renewed by an upgrade with certificate renewal switched off",
                         **before_after(off, name))
        else:
            yield passed(f"{name} {OFF}", "left alone with certificate renewal switched off", **before_after(off, name))
    external_etcd = on.certificate("etcd-server", after=False) is None
    expected = [n for n in layout.upgrade_renews(external_etcd) if on.certificate(n, after=False) is not None]
    earliest, latest = renewal_window(on.action, ctx.profile.leaf_days, ctx.profile.clock_skew_seconds)
    window = {"upgraded_at": isoformat(on.action.started_at), "expected_not_after_from": isoformat(earliest),
              "expected_not_after_to": isoformat(latest)}
    for name in expected:
        skip = outside_renewal(on, name)
        new = on.certificate(name, after=True)
        if skip:
            yield skip
        elif new is None or not on.renewed(name):
            yield failed(f"{name} {ON}", "not renewed by the upgrade", **before_after(on, name, **window))
        elif not earliest <= new.not_after <= latest:
            yield failed(f"{name} {ON}", f"renewed, but expires {fmt_time(new.not_after)}, not "
                         f"{ctx.profile.leaf_days}d after the upgrade", **before_after(on, name, **window))
        else:
            yield passed(f"{name} {ON}", f"renewed, expires {fmt_time(new.not_after)}",
                         **before_after(on, name, **window))
    for ca in on.before.cas():
        if on.renewed(ca.name):
            yield failed(f"{ca.name} {ON}", "the upgrade replaced a CA", **before_after(on, ca.name))
