"""``kubeconfig:PATH[?context=NAME]``: a live cluster as a kubeconfig reaches it (with ``nodes=pods``, its
nodes too: podtargets.py).

What it shows: the certificate the API server serves (a TLS handshake to the kubeconfig's server), the CA
the kubeconfig trusts and the CAs the cluster publishes (kube-root-ca.crt, cluster-info), kubeadm's
configuration (for the names the served certificate must carry), the Node objects, the SpectroCluster
object when the cluster has one, and the kubeconfig's own client certificate, which the expiry rules
judge like any other certificate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography import x509

from kubecert.inventory.cluster import ClusterInventory, ClusterObservation
from kubecert.inventory.components import ComponentsObservation, Missing
from kubecert.inventory.facts import NodeFacts
from kubecert.inventory.files import ReadFailure
from kubecert.inventory.kubeconfig import load_kubeconfig
from kubecert.inventory.model import CertRecord, KubeconfigRecord, Role
from kubecert.profiles import Profile
from kubecert.targets.base import Target, split_uri
from kubecert.targets.cluster.access import KubeconfigAccess, access_from_file
from kubecert.targets.cluster.client import ClusterClient, ReadProblem
from kubecert.targets.cluster.handshake import host_and_port, served_certificate
from kubecert.targets.cluster.trust import KubeconfigTrust
from kubecert.targets.errors import TargetError, TargetUnavailable
from kubecert.text import escaped
from kubecert.userfiles import what_is

SERVED = "served-apiserver"  # the served certificate's name in the inventory and the reports
_QUERY_KEYS = ("context",)


class KubeconfigTarget(Target):
    scheme = "kubeconfig"
    default_profile = "kubeadm"

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None = None) -> None:
        super().__init__(uri, profile, options, facts)
        path, query = split_uri(uri, self.scheme, _QUERY_KEYS)
        if not path:
            raise TargetError(f"{uri}: give the kubeconfig's path, e.g. kubeconfig:$HOME/.kube/config")
        self.kubeconfig = Path(path).expanduser()
        self.context = query.get("context") or None
        self.trust = KubeconfigTrust.given(options)  # the operator's own kubeconfig: their opt-ins apply
        self._client: ClusterClient | None = None

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"cluster_api", "certificates", "machines"})

    def capability_reasons(self) -> dict[str, str]:
        return {"renew": "a kubeconfig alone cannot renew a cluster's certificates: check it as kind:NAME, or "
                         "through its management API (palette:)",
                "node_files": "a kubeconfig alone cannot read the nodes' files: add ?nodes=pods to read each "
                              "control-plane node's through a short-lived pod (docs/node-reader-rbac.yaml)"}

    def location(self) -> dict[str, str]:
        found = {"kubeconfig": str(self.kubeconfig)}
        if self.context:
            found["context"] = self.context
        return found

    def access(self) -> KubeconfigAccess:
        """What the kubeconfig lets kubecert use; KubeconfigRefused names the field it will not."""
        return access_from_file(self.kubeconfig, self.context, self.trust)

    def client(self) -> ClusterClient:
        if self._client is None:
            self._client = ClusterClient(self.access())
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _read_kubeconfig(self) -> KubeconfigRecord:
        try:
            return load_kubeconfig(self.kubeconfig, context=self.context)
        except ReadFailure as failure:
            raise TargetUnavailable(f"{self.id}: {failure.problem.describe()}") from None

    def _observe(self, now: dt.datetime) -> ClusterInventory:
        unusable = what_is(self.kubeconfig)  # a FIFO or /dev/zero says what it is, not "does not exist"
        if unusable is not None:
            raise TargetUnavailable(f"{self.id}: the kubeconfig {escaped(str(self.kubeconfig))} {unusable}")
        try:
            access = self.access()  # first: nothing is read or dialled for a kubeconfig kubecert refuses
        except TargetUnavailable as exc:
            raise TargetUnavailable(f"{self.id}: {exc}") from None
        record = self._read_kubeconfig()
        host, _ = host_and_port(access.server)
        inventory = ClusterInventory(target=self.id, observed_at=now, location=self.location(), facts=self.declared)
        inventory.kubeconfigs[record.name] = record
        # With tls-server-name, that is the name the served certificate must carry, not the address dialled.
        observation = ClusterObservation(server=access.server, host=access.server_name or host,
                                         kubeconfig_ca=access.ca_certificate)
        try:
            served = x509.load_der_x509_certificate(served_certificate(access.server, server_name=access.server_name))
        except TargetUnavailable as exc:
            raise TargetUnavailable(f"{self.id}: the API server {access.server}: {exc}") from None
        observation.served = CertRecord(SERVED, Role.LEAF, access.server, served, b"")
        inventory.certificates[SERVED] = observation.served
        self._read_api(observation)
        inventory.cluster = observation
        # A kubeconfig reaches no node's files: what the components hold cannot be compared with them.
        inventory.components = ComponentsObservation(missing=(Missing.NODE_FILES,))
        return inventory

    def _read_api(self, observation: ClusterObservation) -> None:
        client = self.client()
        reads: dict[str, Any] = {
            "nodes": client.nodes, "kubeadm-config": client.kubeadm_config, "spectrocluster": client.spectrocluster,
        }
        for what, read in reads.items():
            try:
                value = read()
            except ReadProblem as exc:
                observation.problems[what] = str(exc)
                continue
            if what == "nodes":
                observation.nodes = value
            elif what == "kubeadm-config":
                observation.kubeadm = value
            elif value is not None:
                observation.annotations = value[3]
        observation.published.append(client.published_root_ca())
        info = client.published_cluster_info()
        if info is not None:
            observation.published.append(info)
