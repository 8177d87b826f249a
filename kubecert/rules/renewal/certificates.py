"""KC-REN: what renewing certificates must do, judged on the target before and after the renewal."""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kubecert import layout
from kubecert.inventory.model import CertRecord
from kubecert.rules._common import fmt_time
from kubecert.rules.catalog import implements
from kubecert.rules.findings import Finding, error, failed, not_applicable, passed
from kubecert.rules.renewal.context import ActionObservation, RenewalContext, renewal_window
from kubecert.timestamps import isoformat


def facts(record: CertRecord | None) -> dict[str, Any] | None:
    """What identifies one version of a certificate in the evidence; never key material."""
    if record is None:
        return None
    return {
        "fingerprint_sha256": record.fingerprint_sha256,
        "serial": format(record.serial, "x"),
        "not_before": isoformat(record.not_before),
        "not_after": isoformat(record.not_after),
        "public_key_sha256": record.public_key.spki_sha256,
        "issuer_dn": record.issuer,
    }


def before_after(obs: ActionObservation, name: str, **extra: Any) -> dict[str, Any]:
    old, new = obs.certificate(name, after=False), obs.certificate(name, after=True)
    record = new if new is not None else old
    return {"path": record.path if record is not None else None, "before": facts(old), "after": facts(new), **extra}


def action_findings(obs: ActionObservation) -> tuple[list[Finding], bool]:
    """The action as evidence, and whether its results can be judged at all."""
    problems = list(obs.unevaluable())
    return (problems or [obs.action_finding()]), not problems


def after_action(
    judge: Callable[[RenewalContext, ActionObservation], Iterator[Finding]],
) -> Callable[[RenewalContext], Iterator[Finding]]:
    """A rule that judges an action's outcome: the action comes first as evidence, and when it failed
    (non-zero exit, timeout, unreadable result) the rule reports that instead of judging its outcome."""

    @functools.wraps(judge)
    def rule(ctx: RenewalContext) -> Iterator[Finding]:
        findings, judgeable = action_findings(ctx.observation)
        yield from findings
        if judgeable:
            yield from judge(ctx, ctx.observation)

    return rule


def outside_renewal(obs: ActionObservation, name: str) -> Finding | None:
    ca = layout.issuer_of(name)
    if ca is not None and ca in obs.external_cas:
        return not_applicable(name, f"signed by {ca}, which is externally managed: outside renewal (KC-REN-07)")
    return None


@implements("KC-REN-01", context=RenewalContext)
@after_action
def cas_kept(ctx: RenewalContext, obs: ActionObservation) -> Iterator[Finding]:
    """KADM: renewal uses the CA certificate and key stored in /etc/kubernetes/pki; it never replaces them."""
    pki = Path(obs.before.location.get("pki", ""))
    for ca in obs.before.cas():
        after = obs.after.certificates.get(ca.name)
        key_path = str(pki / f"{layout.CERTS_BY_NAME[ca.name].path}.key")
        key_before, key_after = obs.files_before.get(key_path), obs.files_after.get(key_path)
        evidence = before_after(obs, ca.name, key_path=key_path,
                                key_file_changed=key_before != key_after)
        if after is None:
            yield failed(ca.name, "the CA certificate is gone after the renewal", **evidence)
        elif after.pem != ca.pem:
            yield failed(ca.name, f"the CA certificate changed: fingerprint {ca.fingerprint_sha256[:16]}... became "
                         f"{after.fingerprint_sha256[:16]}..., NotAfter {fmt_time(ca.not_after)} became "
                         f"{fmt_time(after.not_after)}", **evidence)
        elif key_before != key_after:
            change = "appeared" if key_before is None else "is gone" if key_after is None else "changed"
            yield failed(ca.name, f"the CA key {change}: {key_path}", **evidence)
        elif (unknown := obs.change_unknown(key_path)) is not None:
            yield error(ca.name, f"whether the renewal kept the CA key is unknown: {unknown}", **evidence)
        else:
            yield passed(ca.name, "certificate and key byte-identical", **evidence)


def _attributes(record: CertRecord) -> dict[str, tuple[str, ...]]:
    return {
        "CN": (record.common_name or "",),
        "O": tuple(sorted(record.organizations)),
        "DNS SANs": tuple(sorted(set(record.dns_sans))),
        "IP SANs": tuple(sorted({str(ipaddress.ip_address(ip)) for ip in record.ip_sans})),
        "extended key usage": tuple(sorted(record.extended_key_usage or ())),
    }


@implements("KC-REN-02", context=RenewalContext)
@after_action
def attributes_kept(ctx: RenewalContext, obs: ActionObservation) -> Iterator[Finding]:
    """KADM: renew uses the existing certificates as the authoritative source for attributes."""
    for name in obs.renewable():
        old, new = obs.certificate(name, after=False), obs.certificate(name, after=True)
        if old is None:
            continue
        if new is None:
            yield failed(name, "gone after the renewal", **before_after(obs, name))
            continue
        if not obs.renewed(name):
            yield not_applicable(name, "not renewed (KC-REN-03 judges that)")
            continue
        was, now = _attributes(old), _attributes(new)
        differs = {a: {"before": list(was[a]), "after": list(now[a])} for a in was if was[a] != now[a]}
        if differs:
            summary = "; ".join(f"{attr} {list(v['before'])} became {list(v['after'])}" for attr, v in differs.items())
            yield failed(name, f"attributes changed: {summary}", **before_after(obs, name, changed=differs))
        else:
            yield passed(name, "CN, O, DNS SANs, IP SANs and extended key usage kept",
                         **before_after(obs, name, attributes={k: list(v) for k, v in now.items()}))


@implements("KC-REN-03", context=RenewalContext)
@after_action
def renewed_for_leaf_days(ctx: RenewalContext, obs: ActionObservation) -> Iterator[Finding]:
    """PAL: after renewal each component's expiration date "will have a status of 365d"."""
    earliest, latest = renewal_window(obs.action, ctx.profile.leaf_days, ctx.profile.clock_skew_seconds)
    window = {"renewed_at": isoformat(obs.action.started_at), "expected_not_after_from": isoformat(earliest),
              "expected_not_after_to": isoformat(latest)}
    for name in obs.renewable():
        skip = outside_renewal(obs, name)
        if skip:
            yield skip
            continue
        old, new = obs.certificate(name, after=False), obs.certificate(name, after=True)
        evidence = before_after(obs, name, **window)
        if new is None:
            yield failed(name, "gone after the renewal", **evidence)
        elif old is not None and not obs.renewed(name):
            yield failed(name, f"not renewed: it still expires {fmt_time(new.not_after)}", **evidence)
        elif earliest <= new.not_after <= latest:
            yield passed(name, f"expires {fmt_time(new.not_after)}, {ctx.profile.leaf_days}d after the renewal",
                         **evidence)
        else:
            was = fmt_time(old.not_after) if old is not None else "unknown"
            yield failed(name, f"renewed at {fmt_time(obs.action.started_at)} but expires {fmt_time(new.not_after)}, "
                         f"not {ctx.profile.leaf_days}d later (between {fmt_time(earliest)} and {fmt_time(latest)}); "
                         f"before the renewal it expired {was}", **evidence)


@implements("KC-REN-04", context=RenewalContext)
@after_action
def new_serial_and_key(ctx: RenewalContext, obs: ActionObservation) -> Iterator[Finding]:
    """kubeadm's renewal makes a new private key and a new serial every time."""
    for name in obs.renewable():
        skip = outside_renewal(obs, name)
        if skip:
            yield skip
            continue
        old, new = obs.certificate(name, after=False), obs.certificate(name, after=True)
        if old is None or new is None or not obs.renewed(name):
            yield not_applicable(name, "not renewed (KC-REN-03 judges that)")
            continue
        same = [what for what, kept in (("serial", old.serial == new.serial),
                                        ("key pair", old.public_key.spki_sha256 == new.public_key.spki_sha256)) if kept]
        evidence = before_after(obs, name)
        if same:
            yield failed(name, f"renewed with the same {' and the same '.join(same)}: serial "
                         f"{format(new.serial, 'x')}, public key sha256 {new.public_key.spki_sha256[:16]}...",
                         **evidence)
        else:
            yield passed(name, "new serial and new key pair", **evidence)


def _files_of(obs: ActionObservation, name: str) -> set[str]:
    """The files renewing ``name`` may write: its certificate and key, or its kubeconfig."""
    if name in layout.KUBECONFIGS_BY_NAME:
        kubeconfigs = Path(obs.before.location.get("kubeconfigs", ""))
        return {str(kubeconfigs / name)}
    pki = Path(obs.before.location.get("pki", ""))
    path = layout.CERTS_BY_NAME[name].path
    return {str(pki / f"{path}.crt"), str(pki / f"{path}.key")}


@implements("KC-REN-05", context=RenewalContext)
@after_action
def renew_one_changes_only_it(ctx: RenewalContext, obs: ActionObservation) -> Iterator[Finding]:
    """KADM: it is possible to renew a single certificate instead of all."""
    asked = obs.subject or ""
    if obs.renewed(asked):
        yield passed(asked, "renewed, as asked", **before_after(obs, asked))
    else:
        yield failed(asked, "asked to be renewed, but unchanged", **before_after(obs, asked))
    others = [ca.name for ca in obs.before.cas()] + [n for n in obs.renewable() if n != asked]
    for name in others:
        if obs.renewed(name):
            yield failed(name, f"changed by renewing {asked}", **before_after(obs, name))
        else:
            yield passed(name, f"unchanged by renewing {asked}", **before_after(obs, name))
    allowed = _files_of(obs, asked)
    changes = obs.changes()
    yield from obs.uncompared(allowed)
    for path in changes.touched:
        if path not in allowed:
            what = "removed" if path in changes.removed else "changed"
            after = obs.files_after.get(path)
            yield failed(Path(path).name, f"{path} was {what} by renewing {asked}", path=path,
                         before=obs.files_before[path].describe(), after=after.describe() if after else None)


@implements("KC-REN-06", context=RenewalContext)
@after_action
def kubeconfigs_renewed_kubelet_left(ctx: RenewalContext, obs: ActionObservation) -> Iterator[Finding]:
    """KADM: kubeconfig client certificates are renewed; kubelet.conf is the kubelet's to rotate."""
    for spec in layout.KUBECONFIGS:
        if not (spec.embeds_client_cert and spec.renewed) or obs.certificate(spec.name, after=False) is None:
            continue
        skip = outside_renewal(obs, spec.name)
        if skip:
            yield skip
        elif obs.renewed(spec.name):
            yield passed(spec.name, "client certificate renewed", **before_after(obs, spec.name))
        else:
            yield failed(spec.name, "client certificate not renewed", **before_after(obs, spec.name))
    kubelet = obs.before.kubeconfigs.get("kubelet.conf")
    if kubelet is None:
        return
    was, now = obs.files_before.get(kubelet.path), obs.files_after.get(kubelet.path)
    evidence: dict[str, Any] = {"path": kubelet.path, "before": was.describe() if was else None,
                "after": now.describe() if now else None}
    after_record = obs.after.kubeconfigs.get("kubelet.conf")
    unknown = obs.change_unknown(kubelet.path)
    if unknown is not None:
        yield error("kubelet.conf", f"whether the renewal left it alone is unknown: {unknown}", **evidence)
    elif now is None:
        yield failed("kubelet.conf", f"{kubelet.path} is gone after the renewal", **evidence)
    elif was != now:
        embeds = after_record is not None and after_record.embeds_client_cert
        yield failed("kubelet.conf", f"{kubelet.path} was rewritten by the renewal"
                     + (" and now embeds a client certificate" if embeds else ""), **evidence)
    else:
        yield passed("kubelet.conf", "left alone: the kubelet rotates its own client certificate", **evidence)


def _refusal_line(output: str, name: str) -> str | None:
    """A line of the renewal's output saying ``name`` was not renewed because its CA is external."""
    word = re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])")
    long_name = layout.long_name_of(name)
    for line in output.splitlines():
        if "external" in line.lower() and (long_name in line or word.search(line)):
            return line.strip()
    return None


@implements("KC-REN-07", context=RenewalContext)
def external_ca_leaves_refused(ctx: RenewalContext) -> Iterator[Finding]:
    """KADM: kubeadm cannot manage certificates signed by an external CA; it says so and renews the rest."""
    obs = ctx.observation
    external = obs.external_cas
    if not external:
        yield not_applicable("renewal", "no CA is externally managed here: every CA key is present")
        return
    findings, judgeable = action_findings(obs)
    yield from findings
    if not judgeable:
        return
    for name in obs.renewable():
        ca = layout.issuer_of(name) or ""
        evidence = before_after(obs, name, ca=ca, ca_externally_managed=ca in external)
        if ca not in external:
            if obs.renewed(name):
                yield passed(name, f"renewed: its CA {ca} is managed", **evidence)
            else:
                yield failed(name, f"not renewed although its CA {ca} is managed", **evidence)
            continue
        line = _refusal_line(obs.action.output, name)
        if obs.renewed(name):
            new = obs.certificate(name, after=True)
            yield failed(name, f"renewed although {ca} is externally managed (no {ca} key): now issued by "
                         f"{new.issuer if new else '?'}", **evidence, refusal_line=line)
        elif line is None:
            yield failed(name, f"left alone, but the renewal did not say why: expected a refusal such as "
                         f"'Detected external {layout.CERTS_BY_NAME[ca].path}, {layout.long_name_of(name)} "
                         "can't be renewed'", **evidence)
        else:
            yield passed(name, f"refused: {line}", **evidence, refusal_line=line)
