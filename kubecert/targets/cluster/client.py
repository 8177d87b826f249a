"""Reading a cluster through its Kubernetes API with the official ``kubernetes`` client: the Node objects,
the CA the cluster publishes, kubeadm's configuration and the SpectroCluster object.

Every call has a connect and read timeout and a wall-clock deadline (a server that answers a byte at a
time is cut off). A read that fails becomes a problem that names what was read and why: the permission
that was missing (403), the credentials refused (401), TLS that did not verify; never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509

from kubecert.inventory.cluster import KubeadmConfig, NodeObject, PublishedCa
from kubecert.inventory.safe_yaml import YamlError, load_bounded
from kubecert.targets.cluster import permissions as rbac
from kubecert.targets.cluster.access import KubeconfigAccess
from kubecert.targets.cluster.execcred import ExecCredential, run_plugin
from kubecert.targets.cluster.permissions import Permission
from kubecert.targets.deadline import Deadline, SocketWatch
from kubecert.targets.errors import TargetUnavailable

SPC_GROUP = rbac.SPC_GROUP
SPC_VERSIONS = ("v1", "v1alpha1")
CONTROL_PLANE_ROLES = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
_DIALLED_ADDRESS_TYPES = ("InternalIP", "ExternalIP")  # kubeadm's --kubelet-preferred-address-types, less Hostname
TIMEOUT = (5.0, 20.0)  # connect, read
DEADLINE_S = 30.0
MAX_DATA_BYTES = 1 << 20
T = TypeVar("T")


class ReadProblem(TargetUnavailable):
    """One read could not be done; the message says what and why, for the rules that needed it."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the API's HTTP status, when it answered


class NoAnswer(ReadProblem):
    """The API did not answer within a read's deadline: a caller with more reads of the kind asks no more."""


class ClusterClient:
    """One cluster's API as a kubeconfig reaches it, built from what access.py took from the kubeconfig: the
    kubernetes client never sees the file, so it runs nothing and reads nothing the kubeconfig names."""

    def __init__(self, access: KubeconfigAccess) -> None:
        from kubernetes import client

        self.access = access
        self.server = access.server
        self._credential: ExecCredential | None = None
        # TLS loads a client certificate and key from files only: they go in a folder of kubecert's own
        # (0700, the files 0600), removed when the client closes.
        self._folder = Path(tempfile.mkdtemp(prefix="kubecert-kubeconfig-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)
        configuration = client.Configuration()
        configuration.host = access.server
        configuration.verify_ssl = True  # always: access.py refuses insecure-skip-tls-verify
        if access.ca_pem:
            configuration.ca_cert_data = access.ca_pem.decode()
        if access.server_name:
            configuration.tls_server_name = access.server_name
        try:
            self._credentials(configuration)
        except BaseException:
            self._cleanup()
            raise
        self.api: Any = client.ApiClient(configuration)
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.watch = SocketWatch()
        self.watch.install(self.api.rest_client.pool_manager)

    def _credentials(self, configuration: Any) -> None:
        access, plugin = self.access, self.access.exec_plugin
        cert, key, token = access.client_cert_pem, access.client_key_pem, access.token
        if plugin is not None:  # access.py let it through: the operator allowed it, for a kubeconfig they gave
            self._credential = run_plugin(access, plugin)
            cert, key, token = (self._credential.client_cert_pem, self._credential.client_key_pem,
                                self._credential.token)
            if self._credential.expires is not None:
                configuration.refresh_api_key_hook = self._refresh
        if cert is not None and key is not None:
            configuration.cert_file = self._private("client.crt", cert)
            configuration.key_file = self._private("client.key", key)
        if token is not None:
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}

    def _refresh(self, configuration: Any) -> None:
        """Before each request: an exec plugin's token that has expired is asked for again."""
        plugin = self.access.exec_plugin
        if plugin is None or self._credential is None or not self._credential.expired():
            return
        self._credential = run_plugin(self.access, plugin)
        if self._credential.token is not None:
            configuration.api_key = {"BearerToken": self._credential.token}

    def _private(self, name: str, data: bytes) -> str:
        path = self._folder / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        return str(path)

    def close(self) -> None:
        try:
            self.api.close()
        finally:
            self._cleanup()

    def call(self, what: str, permission: Permission, call: Callable[[], T], *, missing_ok: bool = False,
             deadline_s: float = DEADLINE_S) -> T | None:
        """``call()`` within a wall-clock deadline; a refusal or a transport failure as a ReadProblem saying
        ``what`` was being done and, on a 403, the ``permission`` it needs."""
        from kubernetes.client.exceptions import ApiException

        deadline = Deadline(self.watch, deadline_s)
        try:
            with deadline.running():
                return call()
        except ApiException as exc:
            if deadline.expired:  # an answer to a retry after the cut: the deadline passed all the same
                raise NoAnswer(f"{what}: no complete answer from {self.server} within {deadline_s:g} s") from None
            if exc.status == 404 and missing_ok:
                return None
            raise ReadProblem(self._refusal(what, permission, exc), exc.status) from None
        except ReadProblem:
            raise  # already says what and why (an answer past its bound)
        except Exception as exc:  # urllib3's transport errors: TLS, refused, reset, cut by the deadline
            if deadline.expired:
                raise NoAnswer(f"{what}: no complete answer from {self.server} within {deadline_s:g} s") from None
            raise ReadProblem(f"{what}: {self._transport(exc)}") from None

    def _refusal(self, what: str, permission: Permission, exc: Any) -> str:
        said = _status_message(exc.body) or str(exc.reason or "")
        if exc.status == 401:
            return (f"{what}: 401 Unauthorized: the API server does not accept the kubeconfig's credentials (an "
                    "expired or revoked client certificate, or a wrong token)")
        if exc.status == 403:
            return f"{what}: 403 Forbidden ({said}): kubecert needs {permission}"
        return f"{what}: {exc.status} {said}".rstrip()

    def _transport(self, exc: Exception) -> str:
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return (f"TLS verification of {self.server} failed: its certificate does not chain to the kubeconfig's "
                    "CA (or does not name the address dialled)")
        if "Connection refused" in text:
            return f"cannot connect to {self.server} (connection refused)"
        return f"cannot talk to {self.server} ({type(exc).__name__})"

    # --- the reads

    def version(self) -> str:
        """The server's version (GET /version): what answers once an API server serves again."""
        from kubernetes import client

        found = self.call("reading /version", rbac.GET_VERSION,
                          lambda: client.VersionApi(self.api).get_code(_request_timeout=TIMEOUT))
        return str(getattr(found, "git_version", "") or "")

    def nodes(self) -> tuple[NodeObject, ...]:
        found = self.call("listing Node objects", rbac.LIST_NODES,
                          lambda: self.core.list_node(_request_timeout=TIMEOUT))
        return tuple(_node(item) for item in getattr(found, "items", None) or ())

    def published_root_ca(self) -> PublishedCa:
        where = "kube-public/kube-root-ca.crt"
        try:
            found = self.call(f"reading {where}", rbac.GET_PUBLIC_ROOT_CA,
                              lambda: self.core.read_namespaced_config_map("kube-root-ca.crt", "kube-public",
                                                                           _request_timeout=TIMEOUT))
        except ReadProblem as exc:
            return PublishedCa(where, problem=str(exc))
        data = (getattr(found, "data", None) or {}).get("ca.crt")
        return _published(where, data.encode() if isinstance(data, str) else None, "has no ca.crt")

    def published_cluster_info(self) -> PublishedCa | None:
        """kube-public/cluster-info's kubeconfig CA; None when the cluster has no cluster-info."""
        where = "kube-public/cluster-info"
        try:
            found = self.call(f"reading {where}", rbac.GET_CLUSTER_INFO,
                              lambda: self.core.read_namespaced_config_map("cluster-info", "kube-public",
                                                                           _request_timeout=TIMEOUT), missing_ok=True)
        except ReadProblem as exc:
            return PublishedCa(where, problem=str(exc))
        if found is None:
            return None
        text = (getattr(found, "data", None) or {}).get("kubeconfig")
        try:
            document = load_bounded(text or "", max_bytes=MAX_DATA_BYTES)
            cluster = document["clusters"][0]["cluster"]
            pem = base64.b64decode(cluster["certificate-authority-data"], validate=True)
        except (YamlError, KeyError, IndexError, TypeError, binascii.Error, ValueError):
            return PublishedCa(where, problem=f"{where}: its kubeconfig names no certificate-authority-data")
        return _published(where, pem, "holds no certificate")

    def kubeadm_config(self) -> KubeadmConfig | None:
        found = self.call("reading kube-system/kubeadm-config", rbac.GET_KUBEADM_CONFIG,
                          lambda: self.core.read_namespaced_config_map("kubeadm-config", "kube-system",
                                                                       _request_timeout=TIMEOUT), missing_ok=True)
        if found is None:
            return None
        text = (getattr(found, "data", None) or {}).get("ClusterConfiguration") or ""
        try:
            document = load_bounded(text, max_bytes=MAX_DATA_BYTES)
        except YamlError as exc:
            raise ReadProblem(f"kube-system/kubeadm-config: ClusterConfiguration is not usable YAML: {exc}") from None
        return _kubeadm(document if isinstance(document, dict) else {})

    def spectrocluster(self) -> tuple[str, str, str, dict[str, str]] | None:
        """(version, namespace, name, annotations) of the cluster's one SpectroCluster object; None when the
        API has no such resource or no such object."""
        for version in SPC_VERSIONS:
            found = self.call("listing SpectroCluster objects", rbac.LIST_SPECTROCLUSTERS,
                              lambda v=version: self.custom.list_cluster_custom_object(  # type: ignore[misc]
                                  SPC_GROUP, v, "spectroclusters", _request_timeout=TIMEOUT), missing_ok=True)
            items = found.get("items") if isinstance(found, dict) else None
            if isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict):
                metadata = items[0].get("metadata") or {}
                annotations = metadata.get("annotations") or {}
                return (version, str(metadata.get("namespace")), str(metadata.get("name")),
                        {str(k): str(v) for k, v in annotations.items()})
        return None

    def annotate(self, version: str, namespace: str, name: str, key: str, value: str | None) -> None:
        body = {"metadata": {"annotations": {key: value}}}
        self.call(f"annotating {namespace}/{name}", rbac.PATCH_SPECTROCLUSTERS,
                  lambda: self.custom.patch_namespaced_custom_object(
                      SPC_GROUP, version, namespace, "spectroclusters", name, body, _request_timeout=TIMEOUT))


def _status_message(body: Any) -> str | None:
    import json

    try:
        document = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        return None
    message = document.get("message") if isinstance(document, dict) else None
    return str(message)[:300] if message else None


def _node(item: Any) -> NodeObject:
    metadata = getattr(item, "metadata", None)
    labels = getattr(metadata, "labels", None) or {}
    status = getattr(item, "status", None)
    addresses = getattr(status, "addresses", None) or ()
    taints = getattr(getattr(item, "spec", None), "taints", None) or ()
    created = getattr(metadata, "creation_timestamp", None)
    port = getattr(getattr(getattr(status, "daemon_endpoints", None), "kubelet_endpoint", None), "port", None)
    return NodeObject(
        name=str(getattr(metadata, "name", "") or ""), uid=getattr(metadata, "uid", None),
        created=created.astimezone(dt.UTC) if isinstance(created, dt.datetime) else None,
        control_plane=any(role in labels for role in CONTROL_PLANE_ROLES),
        addresses=tuple(str(a.address) for a in addresses if getattr(a, "address", None)),
        taints=tuple(_taint(t) for t in taints if getattr(t, "key", None)),
        ips=tuple(str(a.address) for kind in _DIALLED_ADDRESS_TYPES for a in addresses
                  if getattr(a, "type", None) == kind and _is_ip(a.address)),
        kubelet_port=port if isinstance(port, int) and 0 < port < 65536 else None,
    )


def _is_ip(value: Any) -> bool:
    """An IP literal: kubecert dials no name a cluster gives it, so it looks nothing up."""
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


def _taint(taint: Any) -> str:
    value = getattr(taint, "value", None)
    return f"{taint.key}{f'={value}' if value else ''}:{getattr(taint, 'effect', None) or ''}"


def _published(where: str, pem: bytes | None, absent: str) -> PublishedCa:
    if not pem:
        return PublishedCa(where, problem=f"{where} {absent}")
    try:
        return PublishedCa(where, tuple(x509.load_pem_x509_certificates(pem)))
    except ValueError:
        return PublishedCa(where, problem=f"{where}: not a PEM certificate bundle")


def _kubeadm(document: dict[str, Any]) -> KubeadmConfig:
    networking: dict[str, Any] = document.get("networking") or {}
    api_server: dict[str, Any] = document.get("apiServer") or {}
    networking = networking if isinstance(networking, dict) else {}
    api_server = api_server if isinstance(api_server, dict) else {}
    sans: list[Any] = api_server.get("certSANs") or []
    sans = sans if isinstance(sans, list) else []

    def text(value: Any) -> str | None:
        return str(value) if isinstance(value, str | int) and str(value) else None

    return KubeadmConfig(
        cert_sans=tuple(str(s) for s in sans if isinstance(s, str)), dns_domain=text(networking.get("dnsDomain")),
        service_subnet=text(networking.get("serviceSubnet")),
        control_plane_endpoint=text(document.get("controlPlaneEndpoint")),
        kubernetes_version=text(document.get("kubernetesVersion")),
    )
