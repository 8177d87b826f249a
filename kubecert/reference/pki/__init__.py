"""A kubeadm-exact PKI: ``init`` of a control-plane node's tree, ``check-expiration``, renewal (``renew``,
CSR-only ``generate_csr``, ``upgrade``), and named faults of trees and of renewers.

Everything takes the time (``now``) and the source of keys (a ``KeyFactory``) explicitly.
"""

from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki.csr import generate_csr
from kubecert.reference.pki.expiration import (
    ExpirationEntry,
    ExpirationInfo,
    check_expiration,
    human_duration,
    render,
    render_json,
    render_text,
    render_yaml,
)
from kubecert.reference.pki.faults import FAULTS, Fault, apply_fault, fault_names
from kubecert.reference.pki.init import InitResult, init_pki
from kubecert.reference.pki.issue import (
    BACKDATE,
    KUBEADM_CA_DAYS,
    LEAF_DAYS,
    CertTemplate,
    cert_pem,
    issue_ca,
    issue_leaf,
    sign,
    template_of,
)
from kubecert.reference.pki.keys import (
    DEFAULT_KEY_ALGORITHM,
    KEY_ALGORITHMS,
    FreshKeys,
    KeyFactory,
    KeyPool,
    PrivateKey,
    algorithm_of,
    generate_key,
    load_private_key,
    private_key_pem,
    public_key_pem,
)
from kubecert.reference.pki.options import PROFILE_CA_DAYS, InitOptions, ca_days_for_profile
from kubecert.reference.pki.renew import renew
from kubecert.reference.pki.renewal_faults import RENEWAL_FAULTS, RenewalFault
from kubecert.reference.pki.tree import PkiTree
from kubecert.reference.pki.upgrade import upgrade

__all__ = [
    "BACKDATE",
    "DEFAULT_KEY_ALGORITHM",
    "FAULTS",
    "KEY_ALGORITHMS",
    "KUBEADM_CA_DAYS",
    "LEAF_DAYS",
    "PROFILE_CA_DAYS",
    "RENEWAL_FAULTS",
    "CertTemplate",
    "ExpirationEntry",
    "ExpirationInfo",
    "Fault",
    "FreshKeys",
    "InitOptions",
    "InitResult",
    "KeyFactory",
    "KeyPool",
    "PkiTree",
    "PrivateKey",
    "ReferenceUsageError",
    "RenewalFault",
    "algorithm_of",
    "apply_fault",
    "ca_days_for_profile",
    "cert_pem",
    "check_expiration",
    "fault_names",
    "generate_csr",
    "generate_key",
    "human_duration",
    "init_pki",
    "issue_ca",
    "issue_leaf",
    "load_private_key",
    "private_key_pem",
    "public_key_pem",
    "render",
    "render_json",
    "render_text",
    "render_yaml",
    "renew",
    "sign",
    "template_of",
    "upgrade",
]
