"""KC-INV: the certificates, kubeconfigs and keys kubeadm writes are all there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubecert import layout
from kubecert.inventory.model import ProblemKind
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, failed, not_applicable, passed


def _present(ctx: RuleContext, specs: tuple[layout.CertSpec, ...]) -> Iterator[Finding]:
    external_etcd = ctx.inventory.facts.external_etcd
    for spec in specs:
        if spec.etcd and external_etcd:
            yield not_applicable(spec.name, "external etcd declared: not expected on this node")
            continue
        record = ctx.inventory.certificates.get(spec.name)
        if record is not None and record.in_file > 1:
            yield passed(record, f"present; its file holds {record.in_file} certificates, and the first (this one) is "
                         "the one kubeadm and the components use", notable=True)
        elif record is not None:
            signer = f", issued under {spec.ca}" if spec.ca else ""
            yield passed(record, f"present{signer}")
        else:
            yield from ctx.reported(spec.name)


@implements("KC-INV-01")
def cas_exist(ctx: RuleContext) -> Iterator[Finding]:
    """PAL's sample lists the three CAs on every control-plane machine."""
    return _present(ctx, layout.CAS)


@implements("KC-INV-02")
def leaves_exist(ctx: RuleContext) -> Iterator[Finding]:
    """PAL's sample lists every CA's leaves; a missing one breaks the component that uses it."""
    return _present(ctx, layout.LEAVES)


@implements("KC-INV-03")
def kubeconfig_clients_exist(ctx: RuleContext) -> Iterator[Finding]:
    """KADM: check-expiration covers the client certificates embedded in kubeadm's kubeconfigs."""
    for spec in layout.KUBECONFIGS:
        if not spec.embeds_client_cert:
            continue
        kubeconfig = ctx.inventory.kubeconfigs.get(spec.name)
        problems = ctx.inventory.problems_for(spec.name)
        if kubeconfig is None and not spec.required and all(p.kind is ProblemKind.MISSING for p in problems):
            yield passed(spec.name, "absent (optional: only the first control-plane node has it)", notable=True)
        elif kubeconfig is None:
            yield from ctx.reported(spec.name)
        elif kubeconfig.client_cert is None:
            yield failed(spec.name, "embeds no client certificate (client-certificate-data)", path=kubeconfig.path)
        else:
            yield passed(kubeconfig.client_cert, "present with an embedded client certificate")


@implements("KC-INV-04")
def service_account_pair(ctx: RuleContext) -> Iterator[Finding]:
    """K8S: the controller manager signs tokens with sa.key, the API server verifies them with sa.pub."""
    keys = ctx.inventory.service_account
    problems = list(ctx.reported(layout.SA_KEY, layout.SA_PUB))
    if problems or keys is None or keys.private is None or keys.public is None:
        yield from problems
        return
    facts: dict[str, Any] = {
        "sa_key_path": keys.private_path, "sa_pub_path": keys.public_path,
        "sa_key_public_sha256": keys.private.public.spki_sha256, "sa_pub_sha256": keys.public.spki_sha256,
    }
    if keys.private.public.spki_sha256 == keys.public.spki_sha256:
        yield passed("sa.key/sa.pub", "present and one key pair", **facts)
    else:
        yield failed("sa.key/sa.pub", "sa.pub is not the public half of sa.key", **facts)
