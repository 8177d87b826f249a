"""Minimal static pod manifests as kubeadm writes them beside the PKI (/etc/kubernetes/manifests).

Only what the PKI's consumers read: the flags naming the certificate files, the addresses and service
range the certificates were made for, and the image tag that gives the Kubernetes version. Paths are
the node's (/etc/kubernetes/pki/...), whatever folder the tree was written to. kubeadm sorts flags.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import yaml

NODE_PKI = "/etc/kubernetes/pki"
ETCD_IMAGE = "registry.k8s.io/etcd:3.5.15-0"  # the etcd kubeadm v1.31 deploys
APISERVER_PORT = 6443


def url(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port`` with an IPv6 host in brackets."""
    try:
        literal = f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        literal = host
    return f"{scheme}://{literal}:{port}"


def apiserver_manifest(
    *, advertise_address: str, service_cidr: str, dns_domain: str, kubernetes_version: str, external_etcd: bool
) -> dict[str, Any]:
    flags = {
        "advertise-address": advertise_address,
        "allow-privileged": "true",
        "authorization-mode": "Node,RBAC",
        "client-ca-file": f"{NODE_PKI}/ca.crt",
        "enable-admission-plugins": "NodeRestriction",
        "enable-bootstrap-token-auth": "true",
        "kubelet-client-certificate": f"{NODE_PKI}/apiserver-kubelet-client.crt",
        "kubelet-client-key": f"{NODE_PKI}/apiserver-kubelet-client.key",
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": f"{NODE_PKI}/front-proxy-client.crt",
        "proxy-client-key-file": f"{NODE_PKI}/front-proxy-client.key",
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-client-ca-file": f"{NODE_PKI}/front-proxy-ca.crt",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "secure-port": str(APISERVER_PORT),
        "service-account-issuer": f"https://kubernetes.default.svc.{dns_domain}",
        "service-account-key-file": f"{NODE_PKI}/sa.pub",
        "service-account-signing-key-file": f"{NODE_PKI}/sa.key",
        "service-cluster-ip-range": service_cidr,
        "tls-cert-file": f"{NODE_PKI}/apiserver.crt",
        "tls-private-key-file": f"{NODE_PKI}/apiserver.key",
    }
    if external_etcd:
        # The user's etcd: kubeadm takes its endpoints and client files from ClusterConfiguration.
        flags["etcd-servers"] = "https://etcd.invalid:2379"
    else:
        flags.update({
            "etcd-cafile": f"{NODE_PKI}/etcd/ca.crt",
            "etcd-certfile": f"{NODE_PKI}/apiserver-etcd-client.crt",
            "etcd-keyfile": f"{NODE_PKI}/apiserver-etcd-client.key",
            "etcd-servers": "https://127.0.0.1:2379",
        })
    annotation = {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint":
                  url("https", advertise_address, APISERVER_PORT).removeprefix("https://")}
    return _static_pod(
        "kube-apiserver", f"registry.k8s.io/kube-apiserver:{kubernetes_version}", flags, annotation,
        [("ca-certs", "/etc/ssl/certs"), ("k8s-certs", NODE_PKI)],
    )


def controller_manager_manifest(*, service_cidr: str, kubernetes_version: str) -> dict[str, Any]:
    """kube-controller-manager with kubeadm's flags: it signs the kubelets' CSRs with the cluster CA
    (--cluster-signing-duration left at its default, 8760h)."""
    flags = {
        "allocate-node-cidrs": "true",
        "authentication-kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "authorization-kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "bind-address": "127.0.0.1",
        "client-ca-file": f"{NODE_PKI}/ca.crt",
        "cluster-name": "kubernetes",
        "cluster-signing-cert-file": f"{NODE_PKI}/ca.crt",
        "cluster-signing-key-file": f"{NODE_PKI}/ca.key",
        "controllers": "*,bootstrapsigner,tokencleaner",
        "kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "leader-elect": "true",
        "requestheader-client-ca-file": f"{NODE_PKI}/front-proxy-ca.crt",
        "root-ca-file": f"{NODE_PKI}/ca.crt",
        "service-account-private-key-file": f"{NODE_PKI}/sa.key",
        "service-cluster-ip-range": service_cidr,
        "use-service-account-credentials": "true",
    }
    return _static_pod(
        "kube-controller-manager", f"registry.k8s.io/kube-controller-manager:{kubernetes_version}", flags, {},
        [("ca-certs", "/etc/ssl/certs"), ("k8s-certs", NODE_PKI),
         ("kubeconfig", "/etc/kubernetes/controller-manager.conf")],
    )


def scheduler_manifest(*, kubernetes_version: str) -> dict[str, Any]:
    """kube-scheduler: it reaches the API server with scheduler.conf's client certificate."""
    kubeconfig = "/etc/kubernetes/scheduler.conf"
    flags = {
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": "127.0.0.1",
        "kubeconfig": kubeconfig,
        "leader-elect": "true",
    }
    return _static_pod("kube-scheduler", f"registry.k8s.io/kube-scheduler:{kubernetes_version}", flags, {},
                       [("kubeconfig", kubeconfig)])


def etcd_manifest(*, node_name: str, advertise_address: str) -> dict[str, Any]:
    client_url = url("https", advertise_address, 2379)
    peer_url = url("https", advertise_address, 2380)
    flags = {
        "advertise-client-urls": client_url,
        "cert-file": f"{NODE_PKI}/etcd/server.crt",
        "client-cert-auth": "true",
        "data-dir": "/var/lib/etcd",
        "initial-advertise-peer-urls": peer_url,
        "initial-cluster": f"{node_name}={peer_url}",
        "key-file": f"{NODE_PKI}/etcd/server.key",
        "listen-client-urls": f"https://127.0.0.1:2379,{client_url}",
        "listen-metrics-urls": "http://127.0.0.1:2381",
        "listen-peer-urls": peer_url,
        "name": node_name,
        "peer-cert-file": f"{NODE_PKI}/etcd/peer.crt",
        "peer-client-cert-auth": "true",
        "peer-key-file": f"{NODE_PKI}/etcd/peer.key",
        "peer-trusted-ca-file": f"{NODE_PKI}/etcd/ca.crt",
        "snapshot-count": "10000",
        "trusted-ca-file": f"{NODE_PKI}/etcd/ca.crt",
    }
    annotation = {"kubeadm.kubernetes.io/etcd.advertise-client-urls": client_url}
    return _static_pod(
        "etcd", ETCD_IMAGE, flags, annotation, [("etcd-certs", f"{NODE_PKI}/etcd"), ("etcd-data", "/var/lib/etcd")]
    )


def _static_pod(
    component: str, image: str, flags: dict[str, str], annotations: dict[str, str], mounts: list[tuple[str, str]]
) -> dict[str, Any]:
    command = [component, *(f"--{name}={value}" for name, value in sorted(flags.items()))]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "annotations": annotations,
            "labels": {"component": component, "tier": "control-plane"},
            "name": component,
            "namespace": "kube-system",
        },
        "spec": {
            "containers": [{
                "command": command,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "name": component,
                "volumeMounts": [{"mountPath": path, "name": name} for name, path in mounts],
            }],
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "volumes": [
                {"hostPath": {"path": path, "type": "DirectoryOrCreate"}, "name": name} for name, path in mounts
            ],
        },
        "status": {},
    }


def render_manifest(document: dict[str, Any]) -> bytes:
    return yaml.safe_dump(document, default_flow_style=False, sort_keys=False).encode()
