"""KC-EXT: a CA without its key is externally managed; a CA key that is there must be the CA's."""

from __future__ import annotations

from collections.abc import Iterator

from kubecert import layout
from kubecert.inventory.model import ProblemKind
from kubecert.rules._common import is_external
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, error, failed, passed


def _signed_by(ctx: RuleContext, ca: str) -> list[str]:
    """What the node holds of the certificates kubeadm signs with ``ca``: a node without super-admin.conf (before
    v1.29, or not the first control-plane node) has no such certificate to leave outside renewal."""
    leaves = [s.name for s in layout.leaves_of(ca) if s.name in ctx.inventory.certificates]
    if ca == "ca":
        leaves += [k.name for k in layout.KUBECONFIGS if k.renewed and k.name in ctx.inventory.kubeconfigs
                   and ctx.inventory.kubeconfigs[k.name].embeds_client_cert]
    return leaves


@implements("KC-EXT-01")
def external_cas_recognized(ctx: RuleContext) -> Iterator[Finding]:
    """KADM: kubeadm cannot manage certificates signed by an external CA, and says which those are."""
    yield from ctx.unevaluated(*(s.name for s in layout.CAS), owner="KC-INV-01")
    for ca in ctx.inventory.cas():
        leaves = _signed_by(ctx, ca.name)
        key_problems = ctx.inventory.problems_for(f"{ca.name}.key")
        if any(p.kind is ProblemKind.UNREADABLE for p in key_problems):
            yield error(ca, f"could not tell whether {ca.name} is managed: {key_problems[0].describe()}")
        elif key_problems:
            why = key_problems[0].describe()
            yield failed(ca, f"CA key present but unusable ({why}): neither managed by the platform nor external",
                         externally_managed=False)
        elif is_external(ca, ctx.inventory):
            yield passed(ca, f"externally managed (no {ca.name}.key); outside renewal: "
                         f"{', '.join(leaves) or 'none of its certificates is on this node'}",
                         notable=True, externally_managed=True, outside_renewal=leaves)
        elif ca.key is not None and ca.key.public.spki_sha256 != ca.public_key.spki_sha256:
            yield failed(ca, f"{ca.key.path} is not {ca.name}'s key: renewal would sign with the wrong key "
                         "and the CA is not external either", externally_managed=False)
        else:
            yield passed(ca, "managed: the CA key is present and belongs to the CA", externally_managed=False)
