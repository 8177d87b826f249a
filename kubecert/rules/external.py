"""KC-EXT: a CA without its key is externally managed; a CA key that is there must be the CA's."""

from __future__ import annotations

from collections.abc import Iterator

from kubecert import layout
from kubecert.inventory.model import ProblemKind
from kubecert.rules._common import is_external
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, error, failed, passed


@implements("KC-EXT-01")
def external_cas_recognized(ctx: RuleContext) -> Iterator[Finding]:
    """KADM: kubeadm cannot manage certificates signed by an external CA, and says which those are."""
    yield from ctx.unevaluated(*(s.name for s in layout.CAS), owner="KC-INV-01")
    for ca in ctx.inventory.cas():
        leaves = [s.name for s in layout.leaves_of(ca.name)]
        if ca.name == "ca":
            leaves += [k.name for k in layout.KUBECONFIGS if k.embeds_client_cert]
        key_problems = ctx.inventory.problems_for(f"{ca.name}.key")
        if any(p.kind is ProblemKind.UNREADABLE for p in key_problems):
            yield error(ca, f"could not tell whether {ca.name} is managed: {key_problems[0].describe()}")
        elif key_problems:
            why = key_problems[0].describe()
            yield failed(ca, f"CA key present but unusable ({why}): neither managed by the platform nor external",
                         externally_managed=False)
        elif is_external(ca, ctx.inventory):
            yield passed(ca, f"externally managed (no {ca.name}.key); outside renewal: {', '.join(leaves)}",
                         notable=True, externally_managed=True, outside_renewal=leaves)
        elif ca.key is not None and ca.key.public.spki_sha256 != ca.public_key.spki_sha256:
            yield failed(ca, f"{ca.key.path} is not {ca.name}'s key: renewal would sign with the wrong key "
                         "and the CA is not external either", externally_managed=False)
        else:
            yield passed(ca, "managed: the CA key is present and belongs to the CA", externally_managed=False)
