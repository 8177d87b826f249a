"""Named renewal faults: ways a renewer can misbehave, each off unless asked for with ``--fault``.

These differ from the tree faults in faults.py: a tree fault is planted in a tree before anything is
checked; a renewal fault is how ``renew``, ``generate-csr``, ``upgrade`` or ``check-expiration`` go wrong
while they act, so only a check that runs the action (and compares before with after) can see it. Each fault names
the rule it must fail, the action a check observes it through, and the certificate or file the
evidence must name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from kubecert.capabilities import Action, Probe
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.faults import Fault, Layer

# The actions a check observes these through (kubecert.contexts.node runs each once per target).
RENEW_ALL, RENEW_ONE, CSR, UPGRADE = Action.RENEW_ALL, Action.RENEW_ONE, Action.GENERATE_CSR, Action.UPGRADE
LISTING = Probe.CHECK_EXPIRATION

CA_ROTATED = "ca-rotated"
SAN_DROPPED = "dropped-san"
OLD_EXPIRY_KEPT = "old-expiry-kept"
KEY_REUSED = "key-reused"
OTHER_CERT_TOUCHED = "other-cert-touched"
KUBELET_CONF_REWRITTEN = "kubelet-conf-rewritten"
EXTERNAL_LEAVES_RENEWED = "external-ca-leaves-renewed"
CSR_FOR_CA = "csr-for-ca"
CSR_LOOSE_MODES = "csr-loose-modes"
RENEWAL_FLAG_IGNORED = "renewal-flag-ignored"
LISTING_STALE = "listing-stale-expiry"


@dataclass(frozen=True)
class RenewalFault(Fault):
    """A renewer that misbehaves; ``offender`` is the certificate or file the failing evidence names."""

    verb: str = ""  # the reference verb that misbehaves: renew, generate-csr, upgrade, check-expiration
    step: Action | Probe = Action.RENEW_ALL  # the action or probe a check observes it through

    @property
    def needs_external_ca(self) -> bool:  # only shows on a node whose CA key is absent
        return "external-ca" in self.requires


def _renewer(name: str, verb: str, step: Action | Probe, rule: str, offender: str,  # noqa: PLR0917 - a table row
             description: str, *, needs_external_ca: bool = False, also_fails: tuple[str, ...] = (),
             **more: Any) -> RenewalFault:
    return RenewalFault(name=name, layer=Layer.RENEWER, fails=(rule, *also_fails), description=description,
                        offender=offender, verb=verb, step=step,
                        requires=frozenset({"external-ca"} if needs_external_ca else ()), **more)


_ALL = (
    _renewer(CA_ROTATED, "renew", RENEW_ALL, "KC-REN-01", "front-proxy-ca",
             "front-proxy-ca is replaced by a new CA (same name, new key) that signs the renewed front-proxy-client"),
    _renewer(SAN_DROPPED, "renew", RENEW_ALL, "KC-REN-02", "apiserver",
             "the renewed apiserver certificate lacks the DNS SAN kubernetes.default"),
    _renewer(OLD_EXPIRY_KEPT, "renew", RENEW_ALL, "KC-REN-03", "apiserver-kubelet-client",
             "the renewed apiserver-kubelet-client keeps its old NotAfter instead of getting leaf_days"),
    _renewer(KEY_REUSED, "renew", RENEW_ALL, "KC-REN-04", "etcd-server",
             "etcd-server is re-signed for its old key instead of a new one"),
    _renewer(OTHER_CERT_TOUCHED, "renew", RENEW_ONE, "KC-REN-05", "front-proxy-client",
             "renewing one certificate renews front-proxy-client too (apiserver when front-proxy-client is asked for)"),
    _renewer(KUBELET_CONF_REWRITTEN, "renew", RENEW_ALL, "KC-REN-06", "kubelet.conf",
             "kubelet.conf is rewritten with an embedded client certificate instead of being left alone"),
    _renewer(EXTERNAL_LEAVES_RENEWED, "renew", RENEW_ALL, "KC-REN-07", "apiserver",
             "leaves of an externally managed CA are re-signed anyway, by a stand-in CA of the same name",
             needs_external_ca=True),
    _renewer(CSR_FOR_CA, "generate-csr", CSR, "KC-CSR-01", "ca",
             "generate-csr also writes a CSR and key for the CA itself (ca.csr, ca.key)"),
    _renewer(CSR_LOOSE_MODES, "generate-csr", CSR, "KC-CSR-02", "apiserver.key",
             "CSRs and keys are written 0644, readable by every user (their folder 0755, as kubeadm's own)"),
    _renewer(RENEWAL_FLAG_IGNORED, "upgrade", UPGRADE, "KC-UPG-01", "apiserver",
             "upgrade renews certificates even with --certificate-renewal=false"),
    _renewer(LISTING_STALE, "check-expiration", LISTING, "KC-CHK-01", "apiserver",
             "check-expiration lists apiserver's expiry a year later than its certificate says"),
)

RENEWAL_FAULTS: Mapping[str, RenewalFault] = MappingProxyType({fault.name: fault for fault in _ALL})


def renewal_fault_names(verb: str | None = None) -> tuple[str, ...]:
    return tuple(sorted(name for name, fault in RENEWAL_FAULTS.items() if verb is None or fault.verb == verb))


def check_renewal_fault(name: str | None, verb: str) -> str | None:
    """``name`` if it is a fault of ``verb``; a usage error naming the faults ``verb`` knows otherwise."""
    if name is None:
        return None
    fault = RENEWAL_FAULTS.get(name)
    if fault is None or fault.verb != verb:
        known = ", ".join(renewal_fault_names(verb)) or "none"
        raise ReferenceUsageError(f"unknown {verb} fault {name!r}; known: {known}")
    return name
