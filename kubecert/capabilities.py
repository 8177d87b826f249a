"""The words targets and the rule catalog share: what a target can show or do, and what a rule needs from
it beyond the plain observation.

A rule in catalog.toml names the capabilities it needs (a target without one skips the rule, or makes
no check at all when its kind can never offer it), the node roles it concerns when it reads a node (a
rule about the control plane's CAs does not concern a worker) and at most one action or probe: what must
be done to or asked of the target for the rule to have something to judge. An unknown name is an error when the
catalog loads, never a rule that silently makes no check.
"""

from __future__ import annotations

import enum


class Capability(enum.StrEnum):
    CERTIFICATES = "certificates"  # whole certificates of any kind: what the expiry rules judge
    X509 = "x509"  # a kubeadm PKI's certificates, each in its place
    EXPIRY = "expiry"  # names and expiry dates only, as an API lists them
    FILES = "files"  # file modes
    OWNERS = "owners"  # file owners (a run that can see them)
    KUBECONFIGS = "kubeconfigs"
    RENEW = "renew"
    RENEW_ONE = "renew_one"
    CSR = "csr"
    MACHINES = "machines"  # the platform's machines or nodes, over time
    ANNOTATE = "annotate"  # the control-plane-only annotation
    UPGRADE = "upgrade"
    EXPIRATION_LISTING = "expiration_listing"
    API = "api"  # a Palette-like management API: its listing, access control and renew route
    CLUSTER_API = "cluster_api"  # a Kubernetes API server
    NODE_FILES = "node_files"  # the files of every control-plane node
    KUBELET = "kubelet"  # the kubelet's folder on a node (/var/lib/kubelet): its certificates and config.yaml


class Action(enum.StrEnum):
    """Something done to the target whose before and after a rule judges (always disruptive)."""

    RENEW_ALL = "renew-all"
    RENEW_ONE = "renew-one"
    GENERATE_CSR = "generate-csr"
    UPGRADE = "upgrade"
    API_RENEWAL = "api-renewal"
    API_RENEWAL_CONTROLPLANE_ONLY = "api-renewal-controlplane-only"
    UNAUTHENTICATED_RENEWAL = "unauthenticated-renewal"
    CLUSTER_RENEWAL = "cluster-renewal"  # every control-plane node renewed, each node read before and after
    CLUSTER_RENEWAL_CONTROLPLANE_ONLY = "cluster-renewal-controlplane-only"  # the Node objects before and after
    API_UPGRADE = "api-upgrade"  # a Kubernetes version upgrade through the management API
    API_LISTING_OVERWRITE = "api-listing-overwrite"  # the certificate listing sent back without the right to


class Probe(enum.StrEnum):
    """Something asked of the target, read-only, whose answers a rule judges."""

    ACCESS = "access"  # requests with missing, wrong or foreign credentials
    CHECK_EXPIRATION = "check-expiration"  # the platform's own expiration listing


class NodeRole(enum.StrEnum):
    """What a node is to the cluster: which of its files a rule may expect. A worker has only the cluster
    CA's certificate, kubelet.conf and the kubelet's folder; a control-plane node has the whole kubeadm PKI."""

    CONTROL_PLANE = "control-plane"
    WORKER = "worker"


CAPABILITIES = frozenset(Capability)
NODE_ROLES = frozenset(NodeRole)
