"""KC-KCFG: the kubeconfigs kubeadm writes trust the cluster CA and carry the right identities."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubecert import layout
from kubecert.rules.catalog import implements
from kubecert.rules.chains import refused
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, failed, passed

_KUBECONFIG_NAMES = tuple(k.name for k in layout.KUBECONFIGS)


@implements("KC-KCFG-01")
def kubeconfigs_chain_to_cluster_ca(ctx: RuleContext) -> Iterator[Finding]:
    """A client signed by another CA is refused by the API server; a wrong CA makes the client refuse it."""
    yield from ctx.unevaluated(*_KUBECONFIG_NAMES, "ca", owner="KC-INV-01/KC-INV-03")
    ca = ctx.inventory.certificates.get("ca")
    if ca is None:
        return
    for kubeconfig in ctx.inventory.kubeconfigs.values():
        problems = []
        if kubeconfig.ca_pem is None:
            problems.append("no certificate-authority-data")
        elif kubeconfig.ca_fingerprint_sha256 != ca.fingerprint_sha256:
            problems.append(f"certificate-authority-data (SHA-256 {kubeconfig.ca_fingerprint_sha256}) is not "
                            f"ca.crt ({ca.fingerprint_sha256})")
        client = kubeconfig.client_cert
        if client is not None:
            why = client.signed_by(ca)
            refusal = None if why else refused(client, [ca.cert], [layout.CLIENT_AUTH], ctx.now)
            if why:
                problems.append(f"client certificate not signed by ca: {why}")
            elif refusal:
                problems.append(f"client certificate signed by ca, but the API server refuses its chain {refusal}")
        facts: dict[str, Any] = {
            "ca_data_sha256": kubeconfig.ca_fingerprint_sha256, "ca_fingerprint_sha256": ca.fingerprint_sha256,
        }
        subject = client if client is not None else kubeconfig.name
        if client is None:  # the client certificate's evidence names its kubeconfig's path
            facts = {"path": kubeconfig.path, **facts}
        if problems:
            yield failed(subject, "; ".join(problems), **facts)
        else:
            what = "client certificate signed by ca, " if client is not None else ""
            yield passed(subject, f"{what}certificate-authority-data is ca.crt", **facts)


@implements("KC-KCFG-02")
def kubeconfig_identities(ctx: RuleContext) -> Iterator[Finding]:
    """RBAC grants by CN and O: admin, super-admin, controller manager and scheduler each need theirs."""
    yield from ctx.unevaluated(*_KUBECONFIG_NAMES, owner="KC-INV-03")
    for spec in layout.KUBECONFIGS:
        kubeconfig = ctx.inventory.kubeconfigs.get(spec.name)
        if not spec.embeds_client_cert or kubeconfig is None or kubeconfig.client_cert is None:
            continue
        client = kubeconfig.client_cert
        orgs = set(client.organizations)
        facts: dict[str, Any] = {"cn": client.common_name, "o": sorted(orgs)}
        problems = []
        if client.common_name != spec.cn:
            problems.append(f"CN {client.common_name!r}, expected {spec.cn!r}")
        legacy = bool(spec.legacy_orgs) and orgs == set(spec.legacy_orgs)
        if orgs != set(spec.orgs) and not legacy:
            problems.append(f"O {sorted(orgs) or 'none'}, expected {', '.join(spec.orgs) or 'none'}")
        if problems:
            yield failed(client, "; ".join(problems), **facts)
        elif legacy:
            yield passed(client, f"O {', '.join(orgs)}: accepted for clusters made before kubeadm v1.29",
                         notable=True, **facts)
        else:
            yield passed(client, f"CN {spec.cn}" + (f", O {', '.join(spec.orgs)}" if spec.orgs else ""), **facts)


@implements("KC-KCFG-03")
def kubelet_uses_rotating_cert(ctx: RuleContext) -> Iterator[Finding]:
    """KADM: an embedded kubelet client certificate is never rotated and expires with the year."""
    name = "kubelet.conf"
    kubeconfig = ctx.inventory.kubeconfigs.get(name)
    if kubeconfig is None:
        yield from ctx.reported(name)
        return
    wanted = layout.KUBELET_ROTATED_CLIENT
    facts: dict[str, Any] = {
        "client_certificate": kubeconfig.client_cert_path, "client_key": kubeconfig.client_key_path,
    }
    if kubeconfig.embeds_client_cert or kubeconfig.embedded_key is not None:
        yield failed(name, f"embeds client-certificate-data/client-key-data; expected client-certificate and "
                     f"client-key: {wanted}", path=kubeconfig.path, **facts)
    elif not kubeconfig.client_cert_path or not kubeconfig.client_key_path:
        yield failed(name, f"names no client-certificate/client-key file; expected {wanted}",
                     path=kubeconfig.path, **facts)
    elif kubeconfig.client_cert_path == wanted and kubeconfig.client_key_path == wanted:
        yield passed(name, f"points at {wanted}", path=kubeconfig.path, **facts)
    elif all(p.endswith("/kubelet-client-current.pem") for p in (kubeconfig.client_cert_path,
                                                                    kubeconfig.client_key_path)):
        yield passed(name, f"points at {kubeconfig.client_cert_path} (a kubelet --cert-dir other than the default)",
                     notable=True, path=kubeconfig.path, **facts)
    else:
        yield failed(name, f"points at {kubeconfig.client_cert_path}, not the kubelet's rotating "
                     f"kubelet-client-current.pem", path=kubeconfig.path, **facts)
