"""Named renewal faults: ways a renewer can misbehave, each off unless asked for with ``--fault``.

These differ from the tree faults in faults.py: a tree fault is planted in a tree before anything is
checked; a renewal fault is how ``renew``, ``generate-csr`` or ``upgrade`` go wrong while they act,
so only a check that runs the action and compares before with after can see it. Each fault names
the rule it must fail, the action a check observes it through, and the certificate or file the
evidence must name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from kubecert.reference.errors import ReferenceUsageError

# The actions a check observes (kubecert.fixtures.renewal runs each once per target).
RENEW_ALL = "renew-all"
RENEW_ONE = "renew-one"
CSR = "generate-csr"
UPGRADE = "upgrade"

CA_ROTATED = "ca-rotated"
SAN_DROPPED = "san-dropped"
OLD_EXPIRY_KEPT = "old-expiry-kept"
KEY_REUSED = "key-reused"
OTHER_CERT_TOUCHED = "other-cert-touched"
KUBELET_CONF_REWRITTEN = "kubelet-conf-rewritten"
EXTERNAL_LEAVES_RENEWED = "external-ca-leaves-renewed"
CSR_FOR_CA = "csr-for-ca"
CSR_LOOSE_MODES = "csr-loose-modes"
RENEWAL_FLAG_IGNORED = "renewal-flag-ignored"


@dataclass(frozen=True)
class RenewalFault:
    name: str
    verb: str  # the reference verb that misbehaves: renew, generate-csr, upgrade
    action: str  # the action a check observes it through
    rule: str  # the rule it must make fail
    subject: str  # the certificate or file the failing evidence names
    description: str
    needs_external_ca: bool = False  # only shows on a node whose CA key is absent


_ALL = (
    RenewalFault(CA_ROTATED, "renew", RENEW_ALL, "KC-REN-01", "front-proxy-ca",
                 "front-proxy-ca is replaced by a new CA (same name, new key) that signs the renewed "
                 "front-proxy-client"),
    RenewalFault(SAN_DROPPED, "renew", RENEW_ALL, "KC-REN-02", "apiserver",
                 "the renewed apiserver certificate lacks the DNS SAN kubernetes.default"),
    RenewalFault(OLD_EXPIRY_KEPT, "renew", RENEW_ALL, "KC-REN-03", "apiserver-kubelet-client",
                 "the renewed apiserver-kubelet-client keeps its old NotAfter instead of getting leaf_days"),
    RenewalFault(KEY_REUSED, "renew", RENEW_ALL, "KC-REN-04", "etcd-server",
                 "etcd-server is re-signed for its old key instead of a new one"),
    RenewalFault(OTHER_CERT_TOUCHED, "renew", RENEW_ONE, "KC-REN-05", "front-proxy-client",
                 "renewing one certificate renews front-proxy-client too (apiserver when front-proxy-client "
                 "is asked for)"),
    RenewalFault(KUBELET_CONF_REWRITTEN, "renew", RENEW_ALL, "KC-REN-06", "kubelet.conf",
                 "kubelet.conf is rewritten with an embedded client certificate instead of being left alone"),
    RenewalFault(EXTERNAL_LEAVES_RENEWED, "renew", RENEW_ALL, "KC-REN-07", "apiserver",
                 "leaves of an externally managed CA are re-signed anyway, by a stand-in CA of the same name",
                 needs_external_ca=True),
    RenewalFault(CSR_FOR_CA, "generate-csr", CSR, "KC-CSR-01", "ca",
                 "generate-csr also writes a CSR and key for the CA itself (ca.csr, ca.key)"),
    RenewalFault(CSR_LOOSE_MODES, "generate-csr", CSR, "KC-CSR-02", "apiserver.key",
                 "CSRs and keys are written 0644 in a 0755 folder"),
    RenewalFault(RENEWAL_FLAG_IGNORED, "upgrade", UPGRADE, "KC-UPG-01", "apiserver",
                 "upgrade renews certificates even with --certificate-renewal=false"),
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
