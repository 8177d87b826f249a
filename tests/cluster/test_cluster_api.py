"""The reference cluster's API over mutual TLS: who may ask what, the shapes it answers with, and the
official ``kubernetes`` client reading it."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from kubecert.reference.kube import ClusterServer, ReferenceCluster

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
                "reason": "Unauthorized", "code": 401}
AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
TABLE = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
         "application/json")


# Every test here but the one that writes reads a single cluster served for the module.
@pytest.fixture(scope="module")
def cluster(shared_cluster: ReferenceCluster) -> ReferenceCluster:
    return shared_cluster


@pytest.fixture(scope="module")
def served(shared_served: ClusterServer) -> ClusterServer:
    return shared_served


@pytest.fixture(scope="module")
def https(shared_https):
    return shared_https


@pytest.mark.parametrize("path", ["/api/v1/nodes", "/version", "/apis"])
def test_no_client_certificate_is_401_unauthorized(served: ClusterServer, https, path: str) -> None:
    reply = https.call(served.url, path)
    assert reply.status == 401
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == UNAUTHORIZED


def test_a_client_certificate_of_another_ca_is_refused(served: ClusterServer, https) -> None:
    stranger = https.identity("kubernetes-admin", ("kubeadm:cluster-admins",), foreign_ca=True)
    try:
        outcome = f"HTTP {https.call(served.url, '/api/v1/nodes', client=stranger).status}"
    except ssl.SSLError as refused:  # refused in the handshake, as kube-apiserver does
        outcome = f"TLS {refused.reason or type(refused).__name__}"
    except ConnectionError:
        outcome = "closed"
    # The alert, or the closed connection when the client writes before the alert arrives (TLS 1.3).
    assert outcome in ("TLS TLSV1_ALERT_UNKNOWN_CA", "TLS SSLEOFError", "closed", "HTTP 401")


def test_an_identity_without_rights_is_403_naming_the_resource(served: ClusterServer, https,
                                                               cluster: ReferenceCluster) -> None:
    jane = https.identity("jane", ("developers",))
    nodes = https.call(served.url, "/api/v1/nodes", client=jane)
    assert nodes.status == 403
    assert nodes.json()["reason"] == "Forbidden"
    assert nodes.json()["message"] == ('nodes is forbidden: User "jane" cannot list resource "nodes" in API group "" '
                                       "at the cluster scope")
    configmap = https.call(served.url, "/api/v1/namespaces/kube-public/configmaps/kube-root-ca.crt", client=jane)
    assert configmap.json()["message"] == ('configmaps "kube-root-ca.crt" is forbidden: User "jane" cannot get '
                                           'resource "configmaps" in API group "" in the namespace "kube-public"')
    assert configmap.json()["details"] == {"name": "kube-root-ca.crt", "kind": "configmaps"}
    spc = f"/apis/cluster.spectrocloud.com/v1/namespaces/{cluster.namespace}/spectroclusters/{cluster.info.name}"
    assert "cannot get resource \"spectroclusters\" in API group \"cluster.spectrocloud.com\"" in \
        https.call(served.url, spc, client=jane).json()["message"]
    assert https.call(served.url, "/version", client=jane).status == 200  # discovery is every user's


def test_nodes_may_read_nodes_and_configmaps_only(served: ClusterServer, https, cluster: ReferenceCluster) -> None:
    kubelet = https.identity("system:node:worker-1", ("system:nodes",))
    assert https.call(served.url, "/api/v1/nodes", client=kubelet).status == 200
    assert https.call(served.url, "/api/v1/namespaces/kube-system/configmaps/kubeadm-config", client=kubelet
                      ).status == 200
    assert https.call(served.url, "/api/v1/namespaces", client=kubelet).status == 403
    spc = f"/apis/cluster.spectrocloud.com/v1/namespaces/{cluster.namespace}/spectroclusters/{cluster.info.name}"
    patch = https.call(served.url, spc, client=kubelet, method="PATCH", body=b'{"metadata":{"annotations":{}}}',
                       headers={"Content-Type": "application/merge-patch+json"})
    assert patch.status == 403
    assert "cannot patch resource" in patch.json()["message"]


def test_the_kubernetes_client_lists_nodes_reads_configmaps_and_patches(
        make_cluster: Callable[..., ReferenceCluster], serve: Callable[[ReferenceCluster], ClusterServer],
        tmp_path: Path) -> None:
    cluster = make_cluster()
    served = serve(cluster)
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(str(served.admin_kubeconfig), client_configuration=configuration,
                                temp_file_path=str(tmp_path / "kube-tmp"))
    with k8s.ApiClient(configuration) as api_client:
        core = k8s.CoreV1Api(api_client)
        nodes = core.list_node(_request_timeout=5).items
        assert [n.metadata.name for n in nodes] == ["cp-1", "cp-2", "cp-3", "worker-1", "worker-2"]
        roles = {n.metadata.name: "node-role.kubernetes.io/control-plane" in n.metadata.labels for n in nodes}
        assert roles == {"cp-1": True, "cp-2": True, "cp-3": True, "worker-1": False, "worker-2": False}
        # A served control-plane node is reached on loopback, its kubelet on a port of its own; a worker is not
        # served, and keeps its address.
        assert {a.type: a.address for a in nodes[1].status.addresses} == {"InternalIP": "127.0.0.1",
                                                                         "Hostname": "cp-2"}
        assert nodes[1].status.daemon_endpoints.kubelet_endpoint.port == served.static_pods.kubelet_port("cp-2")
        assert {a.type: a.address for a in nodes[3].status.addresses} == {"InternalIP": "10.0.1.10",
                                                                         "Hostname": "worker-1"}
        assert nodes[3].status.daemon_endpoints.kubelet_endpoint.port == 10250
        assert nodes[3].status.node_info.kubelet_version == "v1.31.0"
        assert [c.status for c in nodes[0].status.conditions if c.type == "Ready"] == ["True"]
        root_ca = core.read_namespaced_config_map("kube-root-ca.crt", "kube-public", _request_timeout=5)
        assert root_ca.data["ca.crt"].encode() == cluster.ca_pem()
        kubeadm = core.read_namespaced_config_map("kubeadm-config", "kube-system", _request_timeout=5)
        configuration_doc = yaml.safe_load(kubeadm.data["ClusterConfiguration"])
        assert configuration_doc["apiVersion"] == "kubeadm.k8s.io/v1beta4"
        assert configuration_doc["kind"] == "ClusterConfiguration"
        assert configuration_doc["controlPlaneEndpoint"] == "127.0.0.1:6443"
        assert configuration_doc["networking"] == {"dnsDomain": "cluster.local", "serviceSubnet": "10.96.0.0/12"}
        assert configuration_doc["apiServer"]["certSANs"] == ["localhost"]
        namespaces = {ns.metadata.name for ns in core.list_namespace(_request_timeout=5).items}
        assert namespaces == {"default", "kube-node-lease", "kube-public", "kube-system", cluster.namespace}
        custom = k8s.CustomObjectsApi(api_client)
        key = "spectrocloud.com/cert-renew-controlplane-only"
        patched = custom.patch_namespaced_custom_object(
            "cluster.spectrocloud.com", "v1alpha1", cluster.namespace, "spectroclusters", cluster.info.name,
            {"metadata": {"annotations": {key: "true"}}}, _request_timeout=5)
        assert patched["metadata"]["annotations"] == {key: "true"}
        assert patched["apiVersion"] == "cluster.spectrocloud.com/v1alpha1"
    assert ReferenceCluster(cluster.folder).store.spectrocluster().annotations == {key: "true"}  # kept on disk


def test_cluster_info_publishes_the_ca_and_the_served_endpoint(served: ClusterServer, https,
                                                               cluster: ReferenceCluster) -> None:
    reply = https.call(served.url, "/api/v1/namespaces/kube-public/configmaps/cluster-info", client=https.admin())
    kubeconfig = yaml.safe_load(reply.json()["data"]["kubeconfig"])
    entry = kubeconfig["clusters"][0]["cluster"]
    assert entry["server"] == served.url
    assert base64.b64decode(entry["certificate-authority-data"]) == cluster.ca_pem()


def test_discovery_is_legacy_json_whatever_kubectl_asks(served: ClusterServer, https) -> None:
    admin = https.admin()
    headers = {"Accept": AGGREGATED}
    api = https.call(served.url, "/api", client=admin, headers=headers)
    assert api.headers["content-type"] == "application/json"
    assert api.json()["kind"] == "APIVersions" and api.json()["versions"] == ["v1"]
    groups = https.call(served.url, "/apis", client=admin, headers=headers).json()
    assert groups["kind"] == "APIGroupList"
    versions = {group["name"]: [v["version"] for v in group["versions"]] for group in groups["groups"]}
    assert versions == {"rbac.authorization.k8s.io": ["v1"], "cluster.spectrocloud.com": ["v1", "v1alpha1"]}
    for version in ("v1", "v1alpha1"):
        listing = https.call(served.url, f"/apis/cluster.spectrocloud.com/{version}", client=admin).json()
        assert listing["resources"][0] | {"verbs": []} == {
            "name": "spectroclusters", "singularName": "spectrocluster", "namespaced": True, "kind": "SpectroCluster",
            "verbs": [], "shortNames": ["spc"]}
    core = https.call(served.url, "/api/v1", client=admin).json()
    assert {r["name"] for r in core["resources"]} == {"nodes", "namespaces", "configmaps", "pods", "pods/log",
                                                      "events", "serviceaccounts"}
    protobuf = https.call(served.url, "/api/v1/nodes", client=admin,
                          headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert protobuf.status == 406


def test_nodes_come_as_a_table_when_asked(served: ClusterServer, https) -> None:
    reply = https.call(served.url, "/api/v1/nodes", client=https.admin(), headers={"Accept": TABLE})
    assert reply.headers["content-type"] == "application/json;as=Table;v=v1;g=meta.k8s.io"
    table = reply.json()
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name", "Status", "Roles", "Age", "Version"]
    assert table["rows"][0]["cells"][:3] == ["cp-1", "Ready", "control-plane"]
    assert table["rows"][0]["cells"][3] == "30d"
    assert table["rows"][4]["cells"][2] == "<none>"
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_errors_are_kubernetes_status_documents(served: ClusterServer, https, cluster: ReferenceCluster) -> None:
    admin = https.admin()
    missing = https.call(served.url, "/api/v1/nodes/nope", client=admin).json()
    assert (missing["code"], missing["reason"], missing["message"]) == (404, "NotFound", 'nodes "nope" not found')
    assert https.call(served.url, "/api/v1/secrets", client=admin).json()["reason"] == "NotFound"
    assert https.call(served.url, "/api/v1/nodes", client=admin, method="POST", body=b"{}").status == 405
    spc = f"/apis/cluster.spectrocloud.com/v1/namespaces/{cluster.namespace}/spectroclusters/{cluster.info.name}"
    large = https.call(served.url, spc, client=admin, method="PATCH", body=b" " * (1024 * 1024 + 1),
                       headers={"Content-Type": "application/merge-patch+json"})
    assert (large.status, large.json()["reason"]) == (413, "RequestEntityTooLarge")
    wrong_type = https.call(served.url, spc, client=admin, method="PATCH", body=b"{}",
                            headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert wrong_type.status == 415
    spec_change = https.call(served.url, spc, client=admin, method="PATCH", body=b'{"spec":{"clusterUid":"x"}}',
                             headers={"Content-Type": "application/merge-patch+json"})
    assert spec_change.status == 422
    long_name = "x" * 5000
    echoed = https.call(served.url, f"/api/v1/nodes/{long_name}", client=admin).json()["message"]
    assert len(echoed) < 200


def test_each_control_plane_node_serves_its_own_apiserver_certificate(served: ClusterServer, https) -> None:
    assert list(served.node_urls) == ["cp-1", "cp-2", "cp-3"]
    assert served.node_urls["cp-1"] == served.url
    ca = x509.load_pem_x509_certificate(https.ca_file.read_bytes())
    for node, url in served.node_urls.items():
        cert = https.served_certificate(url)
        cert.verify_directly_issued_by(ca)
        dns = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert node in dns.get_values_for_type(x509.DNSName)
        assert https.call(url, "/readyz", client=https.admin()).body == b"ok"  # verified as 127.0.0.1


def test_the_admin_kubeconfig_is_private_and_names_the_served_url(served: ClusterServer) -> None:
    assert served.admin_kubeconfig.stat().st_mode & 0o777 == 0o600
    document = yaml.safe_load(served.admin_kubeconfig.read_text())
    assert document["clusters"][0]["cluster"]["server"] == served.url
    assert json.dumps(document).count("client-key-data") == 1


def test_watch_is_refused_rather_than_answered_with_a_list(served: ClusterServer, https) -> None:
    reply = https.call(served.url, "/api/v1/nodes?watch=true", client=https.admin())
    assert (reply.status, reply.json()["reason"]) == (405, "MethodNotAllowed")


def test_forbidden_messages_repeat_a_long_name_only_in_part(served: ClusterServer, https) -> None:
    jane = https.identity("jane")
    message = https.call(served.url, "/api/v1/nodes/" + "n" * 10000, client=jane).json()["message"]
    assert message.startswith('nodes "nnn') and len(message) < 400
