"""KC-KLT: the kubelet's own certificates on every node, control plane and workers (/var/lib/kubelet).

kubeadm manages none of them: the kubelet rotates its client certificate through the cluster CA's CSR
signer, and signs its serving certificate itself unless serverTLSBootstrap asks the cluster CA. Their
expiry counts in KC-VAL-04 and KC-EXP-01 like every other certificate's; kubelet.conf's pointer at the
rotating file is KC-KCFG-03's, its mode KC-FILE-01's, the client CA file's KC-FILE-02/03's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

from kubecert import layout
from kubecert.capabilities import NodeRole
from kubecert.inventory.facts import go_duration
from kubecert.inventory.kubelet import CLIENT_KEY, PKI_FOLDER, SERVING_KEY
from kubecert.inventory.model import CertRecord, KubeletFolder, ProblemKind
from kubecert.rules._common import expiry_problem, fmt_duration, fmt_time
from kubecert.rules.catalog import implements
from kubecert.rules.chains import refused
from kubecert.rules.context import RuleContext
from kubecert.rules.files import KUBEADM_CERT, PRIVATE, mode_finding, owner_finding, regular_files
from kubecert.rules.findings import Finding, error, failed, passed
from kubecert.rules.validity import leaf_lifetime
from kubecert.text import escaped

SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"  # the CSR signer of the kubelets' client certificates
ROTATES_BY = 0.9  # client-go's certificate manager rotates at 70-90% of a certificate's lifetime
_ROUNDING = dt.timedelta(seconds=1)


def _folder(ctx: RuleContext) -> KubeletFolder | None:
    return ctx.inventory.kubelet


def _node_user(ctx: RuleContext) -> str | None:
    node = ctx.inventory.facts.node_name
    return f"{layout.NODE_USER_PREFIX}{node}" if node else None


def _ca(ctx: RuleContext, owner: str) -> tuple[CertRecord | None, list[Finding]]:
    """The cluster CA the kubelet's certificates chain to, or why it cannot be had. On a worker no other
    rule reports ca.crt, so a missing one is this rule's finding; on a control plane it is KC-INV-01's."""
    ca = ctx.inventory.certificates.get("ca")
    if ca is not None:
        return ca, []
    if ctx.inventory.facts.role == NodeRole.WORKER:
        return None, list(ctx.reported("ca"))
    return None, list(ctx.unevaluated("ca", owner=owner))


def _chain(record: CertRecord, ca: CertRecord) -> list[str]:
    problems = [why for why in [record.signed_by(ca)] if why]
    aki, ski = record.authority_key_identifier, ca.subject_key_identifier
    if aki and ski and aki != ski:
        problems.append(f"AKI {aki} is not ca's SKI {ski}")
    return problems


def _self_signed_refused(serving: CertRecord, now: dt.datetime) -> str | None:
    """Why a client trusting the throw-away CA the kubelet wrote beside its serving certificate refuses it; a
    certificate that signed itself is its own trust anchor, which Go accepts as it is."""
    issuers = [cert for cert in serving.rest_of_file if cert.subject == serving.cert.issuer]
    return refused(serving, issuers, [layout.SERVER_AUTH], now) if issuers else None


def _identity(record: CertRecord, user: str | None) -> list[str]:
    """CN system:node:<node> and O system:nodes: what the Node authorizer and NodeRestriction grant by."""
    problems = []
    if user is not None and record.common_name != user:
        problems.append(f"CN {record.common_name!r}, expected {user!r}")
    elif user is None and not (record.common_name or "").startswith(layout.NODE_USER_PREFIX):
        problems.append(f"CN {record.common_name!r} is no system:node:<node> identity")
    if set(record.organizations) != {layout.NODES_GROUP}:
        problems.append(f"O {sorted(record.organizations) or 'none'}, expected {layout.NODES_GROUP}")
    return problems


def _reached_by(folder: KubeletFolder | None, *, serving: bool = False) -> dict[str, Any]:
    """Evidence of the link the certificate was read through (the path the kubelet and its kubeconfig name)."""
    link = None if folder is None else folder.serving_link if serving else folder.client_link
    return {"current": link.path} if link is not None and link.target is not None else {}


def _key_matches(record: CertRecord) -> str | None:
    key = record.key
    if key is None:
        return None  # an unreadable key is the reader's problem, reported with the file
    if key.public.spki_sha256 != record.public_key.spki_sha256:
        return f"the private key in {key.path} does not match the certificate's public key"
    return None


@implements("KC-KLT-01")
def kubelet_client_identity(ctx: RuleContext) -> Iterator[Finding]:
    """K8S: the API server knows a kubelet by its client certificate: the cluster CA's, system:node:<node>."""
    folder = _folder(ctx)
    yield from ctx.reported(layout.KUBELET_CLIENT, CLIENT_KEY)
    client = folder.client if folder is not None else None
    if client is None:
        return
    ca, unjudged = _ca(ctx, owner="KC-INV-01")
    yield from unjudged
    problems = _chain(client, ca) if ca is not None else []
    problems += _identity(client, _node_user(ctx))
    if client.extended_key_usage is None or layout.CLIENT_AUTH not in client.extended_key_usage:
        problems.append(f"extendedKeyUsage {list(client.extended_key_usage or []) or 'none'} lacks clientAuth")
    problems += [why for why in [_key_matches(client)] if why]
    refusal = refused(client, [ca.cert], [layout.CLIENT_AUTH], ctx.now) if ca is not None and not problems else None
    if refusal:
        problems.append(f"signed by ca, but the API server refuses its chain {refusal}")
    facts: dict[str, Any] = {"cn": client.common_name, "o": list(client.organizations),
                             "node_name_from": ctx.inventory.facts.source("node_name"), **_reached_by(folder)}
    if ca is not None:
        facts["ca_fingerprint_sha256"] = ca.fingerprint_sha256
    if problems:
        yield failed(client, "; ".join(problems), **facts)
    elif ca is not None:
        yield passed(client, f"signed by ca for {client.common_name} in {layout.NODES_GROUP}, clientAuth, its key "
                     "beside it", **facts)
    else:
        yield passed(client, f"{client.common_name} in {layout.NODES_GROUP}, clientAuth, its key beside it; its "
                     "signer is not judged without ca.crt (KC-INV-01)", notable=True, **facts)


@implements("KC-KLT-02")
def kubelet_client_rotation(ctx: RuleContext) -> Iterator[Finding]:
    """K8S: with --rotate-certificates the kubelet requests a new certificate as the current one nears its
    expiry, from the signer that issues for --cluster-signing-duration."""
    folder = _folder(ctx)
    if folder is None:
        return
    yield from _rotation_switch(ctx, folder)
    yield from ctx.reported(PKI_FOLDER)  # the dated files the link is judged against are listed by the walk
    unjudged = list(ctx.unevaluated(layout.KUBELET_CLIENT, owner="KC-KLT-01"))
    yield from unjudged
    link = folder.client_link
    if link is None:
        if not unjudged:
            yield error(layout.KUBELET_CLIENT_CURRENT, f"not evaluated: there is no {layout.KUBELET_CLIENT_CURRENT} "
                        "(see KC-KLT-01)", path=str(PurePath(folder.folder) / "pki" / layout.KUBELET_CLIENT_CURRENT))
        return
    yield _current_link(folder)
    if folder.client is not None:
        yield from _client_lifetime(ctx, folder.client, _reached_by(folder))


def _rotation_switch(ctx: RuleContext, folder: KubeletFolder) -> Iterator[Finding]:
    config = folder.config
    if config is None:
        for problem in ctx.inventory.problems_for(layout.KUBELET_CONFIG):
            why = ("; without it rotateCertificates is false, the kubelet's default"
                   if problem.kind is ProblemKind.MISSING else "")
            status = error if problem.kind is ProblemKind.UNREADABLE else failed
            yield status(layout.KUBELET_CONFIG, f"{problem.describe()}{why}", path=problem.path)
        return
    facts: dict[str, Any] = {"path": config.path, "rotateCertificates": config.rotate_certificates}
    if config.rotate_certificates:
        yield passed(layout.KUBELET_CONFIG, "rotateCertificates: true", **facts)
    else:
        said = "false" if config.rotate_certificates is False else "not set (the kubelet's default is false)"
        yield failed(layout.KUBELET_CONFIG, f"rotateCertificates is {said}: the kubelet keeps its client "
                     "certificate until it expires and then can no longer reach the API server", **facts)


def _current_link(folder: KubeletFolder) -> Finding:
    """kubelet-client-current.pem must lead to the newest dated file, as the certificate store leaves it."""
    link = folder.client_link
    assert link is not None
    name = layout.KUBELET_CLIENT_CURRENT
    clients = [dated for dated in folder.dated if dated.startswith("kubelet-client-")]
    newest = clients[-1] if clients else None  # the names sort by the time they carry
    facts: dict[str, Any] = {"path": link.path, "links_to": link.target, "newest_dated": newest,
                             "dated_files": len(clients)}
    if link.target is None:
        return failed(name, "is a plain file, not a symlink: the kubelet's certificate store refuses to rotate over "
                      "it (it expects a symlink to a dated kubelet-client-<time>.pem)", **facts)
    if link.reaches is None:
        return failed(name, f"links to {link.target}, out of the kubelet's certificate folder", **facts)
    reached = PurePath(link.reaches).name
    if not layout.DATED_PEM.fullmatch(reached) or not reached.startswith("kubelet-client-"):
        return failed(name, f"links to {reached}, not to a dated kubelet-client-<time>.pem the kubelet wrote", **facts)
    if newest is not None and reached != newest:
        return failed(name, f"links to {reached}, but {newest} is newer: the kubelet did not move the link to its "
                      "newest certificate", **facts)
    return passed(name, f"links to the newest dated file, {reached}", **facts)


def _kubeadm_issued(ctx: RuleContext, client: CertRecord) -> str | None:
    """Why ``client`` is the certificate ``kubeadm init`` signed for kubelet.conf on the first control-plane node
    (the kubelet keeps it until its first rotation), or None when nothing says so. kubeadm signs it with the
    cluster CA for its own leaf lifetime; the CSR signer's duration bounds only what the controller-manager signs,
    and the signer's certificates start 5 minutes before they are signed and last exactly that duration."""
    reasons = []
    kubelet_conf = ctx.inventory.kubeconfigs.get("kubelet.conf")
    embedded = kubelet_conf.client_cert if kubelet_conf is not None else None
    if embedded is not None and embedded.fingerprint_sha256 == client.fingerprint_sha256:
        reasons.append(f"kubelet.conf embeds it, serial {client.serial:x}, as before kubelet-finalize")
    backdate = dt.timedelta(seconds=ctx.profile.backdate_seconds)
    kubeadm_lifetime = dt.timedelta(days=ctx.profile.leaf_days) + backdate
    ca = ctx.inventory.certificates.get("ca")
    # Up to v1.30 every leaf gets its CA's NotBefore and ends leaf_days after it is signed, a moment after the
    # 5-minute-backdated CA; v1.31+ dates all of one init from the same start. Either way it lives at least
    # leaf_days + backdate: a certificate that starts with the CA but lives less is none of kubeadm's.
    if (ca is not None and client.not_before == ca.not_before and client.lifetime >= kubeadm_lifetime - _ROUNDING
            and client.signed_by(ca) is None):
        reasons.append("its NotBefore is the cluster CA's, as kubeadm init dates its leaves")
    if abs(client.lifetime - kubeadm_lifetime) <= _ROUNDING:
        reasons.append(f"it is valid leaf_days + the {fmt_duration(backdate)} backdate, kubeadm v1.31+'s leaf lifetime")
    return "; ".join(reasons) or None


def _client_lifetime(ctx: RuleContext, client: CertRecord, reached: dict[str, Any]) -> Iterator[Finding]:
    duration = ctx.inventory.facts.signing_duration or go_duration(layout.CLUSTER_SIGNING_DURATION)
    source = ctx.inventory.facts.source("cluster_signing_duration")
    facts: dict[str, Any] = {"lifetime": fmt_duration(client.lifetime), "signing_duration": fmt_duration(duration),
                             "signing_duration_from": source, **reached}
    from_kubeadm = _kubeadm_issued(ctx, client)
    if from_kubeadm is not None:
        yield _as_kubeadm_leaf(ctx, client, from_kubeadm, facts)
    else:
        yield _as_signed_by_controller_manager(client, duration, source, facts)
    yield _age(ctx, client, reached)


def _as_kubeadm_leaf(ctx: RuleContext, client: CertRecord, why: str, facts: dict[str, Any]) -> Finding:
    """kubeadm's initial certificate, judged by kubeadm's leaf lifetime as KC-VAL-01 judges a leaf."""
    judged = leaf_lifetime(ctx, client, ctx.inventory.certificates.get("ca"))
    said = f"kubeadm's initial certificate, not the CSR signer's ({why}); as a kubeadm leaf: {judged.message}"
    evidence = {**facts, **judged.evidence, "judged_as": "kubeadm's leaf (kubeadm init signed it with the cluster CA)",
                "recognised_by": why}
    return dataclasses.replace(judged, message=escaped(said), evidence=evidence, notable=True)


def _as_signed_by_controller_manager(client: CertRecord, duration: dt.timedelta, source: str,
                                     facts: dict[str, Any]) -> Finding:
    facts = {**facts, "judged_as": f"the controller-manager's CSR signer ({SIGNER})",
             "recognised_by": "not kubeadm's initial certificate: kubelet.conf does not embed it, and its dates are "
                              "not kubeadm's leaf dates"}
    if client.lifetime > duration + _ROUNDING:
        return failed(client, f"valid {fmt_duration(client.lifetime)}, longer than the signing duration "
                      f"{fmt_duration(duration)} ({source}): not what the cluster's signer issues", **facts)
    if client.lifetime < duration - _ROUNDING:
        return passed(client, f"valid {fmt_duration(client.lifetime)}, less than the signing duration "
                      f"{fmt_duration(duration)} (cut at the CA's expiry, or a shorter lifetime was asked for)",
                      notable=True, **facts)
    return passed(client, f"valid {fmt_duration(client.lifetime)}: the signing duration ({source})", **facts)


def _age(ctx: RuleContext, client: CertRecord, reached: dict[str, Any]) -> Finding:
    """Past 90% of its lifetime the kubelet would have rotated it, whoever signed it (client-go reads the
    certificate's own dates)."""
    elapsed = max(ctx.now - client.not_before, dt.timedelta(0))  # not yet valid is KC-VAL-04's
    share = elapsed / client.lifetime if client.lifetime > dt.timedelta(0) else 1.0
    due = client.not_before + client.lifetime * ROTATES_BY
    age: dict[str, Any] = {"lifetime_passed": f"{min(share, 9.99):.1%}", "rotation_due_by": fmt_time(due), **reached}
    if share > ROTATES_BY:
        return failed(client, f"{min(share, 9.99):.1%} of its lifetime has passed (issued "
                      f"{fmt_time(client.not_before)}): the kubelet rotates by {ROTATES_BY:.0%}, so its rotation is "
                      "not working", **age)
    return passed(client, f"{share:.0%} of its lifetime has passed; rotation is due by {fmt_time(due)}", **age)


@implements("KC-KLT-03")
def kubelet_serving_certificate(ctx: RuleContext) -> Iterator[Finding]:
    """K8S: the kubelet serves its API (logs, exec, metrics) with this certificate; self-signed, it is never
    renewed, and with serverTLSBootstrap it must be the cluster CA's for the node's names."""
    folder = _folder(ctx)
    yield from ctx.reported(layout.KUBELET_SERVING, SERVING_KEY)
    yield from ctx.unevaluated(layout.KUBELET_CONFIG, owner="KC-KLT-02")
    serving = folder.serving if folder is not None else None
    if folder is None or serving is None:
        return
    bootstrap = folder.config is not None and bool(folder.config.server_tls_bootstrap)
    facts: dict[str, Any] = {"issuer": serving.issuer, "serverTLSBootstrap": bootstrap,
                             "remaining": fmt_duration(serving.not_after - ctx.now),
                             **_reached_by(folder, serving=True)}
    problems = _window(ctx, serving) + [why for why in [_key_matches(serving)] if why]
    if serving.extended_key_usage is None or layout.SERVER_AUTH not in serving.extended_key_usage:
        problems.append(f"extendedKeyUsage {list(serving.extended_key_usage or []) or 'none'} lacks serverAuth")
    if bootstrap:
        yield from _bootstrapped(ctx, serving, folder, problems, facts)
        return
    refusal = _self_signed_refused(serving, ctx.now) if folder.serving_self_signed and not problems else None
    if refusal:
        problems.append(f"a TLS client trusting the CA in its file refuses it {refusal}")
    if problems:
        yield failed(serving, "; ".join(problems), **facts)
    elif folder.serving_self_signed:
        yield passed(serving, f"self-signed by the kubelet (kubeadm's default) and never rotated: it expires "
                     f"{fmt_time(serving.not_after)}, in {fmt_duration(serving.not_after - ctx.now)}; remove "
                     "kubelet.crt and kubelet.key and restart the kubelet before then, or set serverTLSBootstrap",
                     notable=True, **facts)
    else:
        yield passed(serving, f"issued by {serving.issuer}, outside the kubelet's rotation: whoever issued it renews "
                     f"it before {fmt_time(serving.not_after)}", notable=True, **facts)


def _window(ctx: RuleContext, record: CertRecord) -> list[str]:
    """Why ``record`` cannot serve now, or soon: expired, not yet valid, or inside the expiry horizon."""
    skew = dt.timedelta(seconds=ctx.profile.clock_skew_seconds)
    if ctx.now < min(record.not_before - skew, record.not_after):  # not yet valid (an expired one says expired)
        return [f"not valid before {fmt_time(record.not_before)}"]
    problem = expiry_problem(record.not_after, ctx.now, ctx.profile.min_remaining_days)
    return [problem] if problem else []


def _bootstrapped(ctx: RuleContext, serving: CertRecord, folder: KubeletFolder, problems: list[str],
                  facts: dict[str, Any]) -> Iterator[Finding]:
    """serverTLSBootstrap: signed by the cluster CA (signer kubelet-serving) for the node's name and address."""
    ca, unjudged = _ca(ctx, owner="KC-INV-01")
    yield from unjudged
    if folder.serving_self_signed:
        problems.append("serverTLSBootstrap is set but the certificate is self-signed")
    elif ca is not None:
        problems += _chain(serving, ca)
    problems += _identity(serving, _node_user(ctx))
    node, address = ctx.inventory.facts.node_name, ctx.inventory.facts.advertise_address
    if node and node not in serving.dns_sans:
        problems.append(f"DNS SANs {list(serving.dns_sans) or 'none'} lack the node's name {node}")
    if address and not serving.has_ip_san(address):
        problems.append(f"IP SANs {list(serving.ip_sans) or 'none'} lack the node's address {address}")
    facts.update(dns_sans=list(serving.dns_sans), ip_sans=list(serving.ip_sans))
    refusal = refused(serving, [ca.cert], [layout.SERVER_AUTH], ctx.now) if ca is not None and not problems else None
    if refusal:
        problems.append(f"signed by ca, but a TLS client refuses its chain {refusal}")
    if problems:
        yield failed(serving, "; ".join(problems), **facts)
    else:
        names = ", ".join(name for name in (node, address) if name)
        yield passed(serving, f"signed by ca through serverTLSBootstrap for {names or serving.common_name}; the "
                     "kubelet rotates it", **facts)


@implements("KC-KLT-04")
def kubelet_files_mode(ctx: RuleContext) -> Iterator[Finding]:
    """CIS 4.1.9: config.yaml 600 or stricter; the kubelet's keys readable by their owner only."""
    folder = _folder(ctx)
    if folder is None:
        return
    yield from ctx.reported(PKI_FOLDER)
    config_limit = PRIVATE if ctx.profile.file_modes == "cis" else KUBEADM_CERT
    for entry in regular_files(folder.files):
        name = PurePath(entry.path).name
        if entry.path == str(PurePath(folder.folder) / layout.KUBELET_CONFIG):
            yield mode_finding(entry, config_limit, "kubelet configuration")
        elif name.endswith(".key") or layout.DATED_PEM.fullmatch(name):
            yield mode_finding(entry, PRIVATE, "private key")
        elif name.endswith(".crt"):
            yield mode_finding(entry, KUBEADM_CERT, "certificate")


@implements("KC-KLT-05")
def kubelet_files_owned_by_root(ctx: RuleContext) -> Iterator[Finding]:
    """CIS 4.1.6 and 4.1.10: kubelet.conf and config.yaml are owned by root:root, and so is what holds the
    kubelet's keys."""
    folder = _folder(ctx)
    if folder is None:
        return
    yield from ctx.reported(PKI_FOLDER)
    kubelet_conf = str(PurePath(ctx.inventory.location.get("kubeconfigs", "")) / "kubelet.conf")
    for entry in [*folder.files, *(entry for entry in ctx.inventory.files if entry.path == kubelet_conf)]:
        if entry.kind != "dangling":
            yield owner_finding(entry)
