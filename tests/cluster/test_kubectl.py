"""The real kubectl against the reference cluster, before and after a renewal."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.reference.pki.kubeconfig import current_user, parse_kubeconfig

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
NODE_IDS = "jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.metadata.creationTimestamp}{\"\\n\"}{end}"


def _kubectl_sees_the_cluster(kubectl: Kubectl, kubeconfig: Path, cluster: ReferenceCluster) -> None:
    rows = [line.split() for line in kubectl(kubeconfig, "get", "nodes").stdout.splitlines()]
    assert rows[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [(r[0], r[1], r[2], r[4]) for r in rows[1:]] == [
        ("cp-1", "Ready", "control-plane", "v1.31.0"), ("cp-2", "Ready", "control-plane", "v1.31.0"),
        ("cp-3", "Ready", "control-plane", "v1.31.0"), ("worker-1", "Ready", "<none>", "v1.31.0"),
        ("worker-2", "Ready", "<none>", "v1.31.0")]
    version = json.loads(kubectl(kubeconfig, "get", "--raw", "/version").stdout)
    assert (version["gitVersion"], version["major"], version["minor"]) == ("v1.31.0", "1", "31")
    configmap = yaml.safe_load(kubectl(kubeconfig, "get", "configmap", "kube-root-ca.crt", "-n", "kube-public",
                                       "-o", "yaml").stdout)
    assert configmap["data"]["ca.crt"].encode() == cluster.ca_pem()
    short = kubectl(kubeconfig, "get", "spc", "-n", cluster.namespace).stdout.split()
    assert short == ["NAME", "AGE", cluster.info.name, "30d"]
    full = json.loads(kubectl(kubeconfig, "get", "spectroclusters.cluster.spectrocloud.com", cluster.info.name,
                              "-n", cluster.namespace, "-o", "json").stdout)
    assert (full["kind"], full["apiVersion"]) == ("SpectroCluster", "cluster.spectrocloud.com/v1")


def _client_certificate(kubeconfig: Path) -> str:
    return str(current_user(parse_kubeconfig(kubeconfig.read_bytes()))["client-certificate-data"])


def test_kubectl_works_before_and_after_a_renewal(kubectl: Kubectl, served: ClusterServer,
                                                   cluster: ReferenceCluster) -> None:
    _kubectl_sees_the_cluster(kubectl, served.admin_kubeconfig, cluster)
    before = _client_certificate(served.admin_kubeconfig)
    cluster.renew()
    assert _client_certificate(served.admin_kubeconfig) != before  # kubeadm renewed admin.conf
    _kubectl_sees_the_cluster(kubectl, served.admin_kubeconfig, cluster)


def test_kubectl_annotation_makes_the_renewal_keep_the_workers(kubectl: Kubectl, served: ClusterServer,
                                                                cluster: ReferenceCluster) -> None:
    annotated = kubectl(served.admin_kubeconfig, "annotate", "spc", cluster.info.name, "-n", cluster.namespace,
                        "spectrocloud.com/cert-renew-controlplane-only=true")
    assert "annotated" in annotated.stdout
    before = kubectl(served.admin_kubeconfig, "get", "nodes", "-o", NODE_IDS).stdout
    assert not cluster.renew().workers_replaced
    assert kubectl(served.admin_kubeconfig, "get", "nodes", "-o", NODE_IDS).stdout == before


def test_kubectl_refuses_a_server_its_kubeconfig_ca_did_not_sign(kubectl: Kubectl,
                                                                 make_cluster: Callable[..., ReferenceCluster],
                                                                 serve: Callable[[ReferenceCluster], ClusterServer],
                                                                 ) -> None:
    server = serve(make_cluster(faults=("kubeconfig-other-ca",)))
    refused = kubectl(server.admin_kubeconfig, "get", "nodes", check=False)
    assert refused.returncode != 0
    assert "certificate signed by unknown authority" in refused.stderr
