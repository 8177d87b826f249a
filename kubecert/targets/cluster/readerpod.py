"""The pod that reads one control-plane node's /etc/kubernetes and its kubelet's certificates and configuration
(/var/lib/kubelet's config.yaml and pki/), and what its status says when it does not.

The pod is pinned to its node by ``spec.nodeName``: the scheduler is bypassed, so the node's files are read
even when the scheduler's own certificate has expired, which is what kubecert may be about to find. It
mounts /etc/kubernetes and /var/lib/kubelet read-only and prints the first, then (after a line of its own)
the kubelet's config.yaml and pki/ — never the rest of /var/lib/kubelet, which holds other pods' volumes — as
tar streams in base64 (a pod's log is text), and nothing else: no service account token, no privilege, no
capability, a read-only root filesystem, small resource limits, and a deadline after which the kubelet stops
it even if kubecert is gone.
"""

from __future__ import annotations

from typing import Any

from kubecert.text import escaped

DEFAULT_IMAGE = "busybox:1.36"  # sh, tar and base64 in 2 MB; override with &image= where nodes cannot pull it
DEFAULT_NAMESPACE = "kubecert"
NODE_FOLDER = "/etc/kubernetes"
MOUNT = "/host/etc/kubernetes"
VOLUME = "etc-kubernetes"
KUBELET_FOLDER = "/var/lib/kubelet"
KUBELET_MOUNT = "/host/var/lib/kubelet"
KUBELET_VOLUME = "var-lib-kubelet"
KUBELET_FILES = ("config.yaml", "pki")
KUBELET_MARK = "kubecert-kubelet"  # no base64 line can be this: it parts the two streams in the log
CONTAINER = "reader"
COMMAND = ("sh", "-c", f"tar -C {MOUNT} -cf - . | base64; echo {KUBELET_MARK}; "
                       f"tar -C {KUBELET_MOUNT} -cf - {' '.join(KUBELET_FILES)} | base64")
CONTROL_PLANE_TAINTS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
LABELS = {"app.kubernetes.io/name": "kubecert", "app.kubernetes.io/component": "node-reader"}
RUN_LABEL = "app.kubernetes.io/instance"  # the run that made the pod: what to select leftovers by
RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"},
             "limits": {"cpu": "200m", "memory": "64Mi", "ephemeral-storage": "32Mi"}}
_SAID = 300  # how much of one message a target sends is repeated


def reader_pod(name: str, namespace: str, node: str, *, image: str, run: str, deadline_s: int) -> dict[str, Any]:
    """The pod manifest that reads ``node``'s /etc/kubernetes."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {**LABELS, RUN_LABEL: run}},
        "spec": {
            "nodeName": node,
            # With nodeName the kubelet admits the pod itself and refuses it only for an untolerated NoExecute
            # taint; a toleration without an effect covers every effect of the control-plane role's taints (some
            # distributions taint control-plane or etcd nodes NoExecute).
            "tolerations": [{"key": key, "operator": "Exists"} for key in CONTROL_PLANE_TAINTS],
            "restartPolicy": "Never",
            "activeDeadlineSeconds": deadline_s,
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            # uid 0 only because kubeadm writes the keys 0600 and owned by root: their owner reads them without any
            # capability, and every capability is dropped below.
            "securityContext": {"runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": CONTAINER, "image": image, "imagePullPolicy": "IfNotPresent", "command": list(COMMAND),
                "volumeMounts": [{"name": VOLUME, "mountPath": MOUNT, "readOnly": True},
                                 {"name": KUBELET_VOLUME, "mountPath": KUBELET_MOUNT, "readOnly": True}],
                "securityContext": {"privileged": False, "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
                "resources": RESOURCES,
            }],
            "volumes": [{"name": VOLUME, "hostPath": {"path": NODE_FOLDER, "type": "Directory"}},
                        {"name": KUBELET_VOLUME, "hostPath": {"path": KUBELET_FOLDER, "type": "Directory"}}],
        },
    }


def _at(document: Any, *keys: str) -> Any:
    """``document[k1][k2]...``, or None where the shape is not what Kubernetes sends."""
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _text(value: Any) -> str:
    text = str(value) if isinstance(value, str | int) else ""
    return escaped(text if len(text) <= _SAID else text[:_SAID] + "...")


def _said(reason: Any, message: Any) -> str:
    return ": ".join(part for part in (_text(reason), _text(message)) if part)


def phase(pod: Any) -> str:
    return _text(_at(pod, "status", "phase")) or "Pending"


def _containers(pod: Any) -> list[dict[str, Any]]:
    found = _at(pod, "status", "containerStatuses")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def waiting_reason(pod: Any) -> str:
    """Why a pod that has not finished is not running (the kubelet's or the scheduler's words), or ""."""
    for container in _containers(pod):
        waiting = _at(container, "state", "waiting")
        if isinstance(waiting, dict) and _text(waiting.get("reason")) not in ("", "ContainerCreating"):
            return _said(waiting.get("reason"), waiting.get("message"))
    conditions = _at(pod, "status", "conditions")
    for condition in conditions if isinstance(conditions, list) else ():
        scheduled = isinstance(condition, dict) and condition.get("type") == "PodScheduled"
        if scheduled and condition.get("status") == "False":
            return _said(condition.get("reason"), condition.get("message"))
    return ""


def failure_reason(pod: Any) -> str:
    """Why a pod failed: the kubelet's rejection or eviction, its deadline, or its container's end."""
    status = _said(_at(pod, "status", "reason"), _at(pod, "status", "message"))
    if status:
        return status
    for container in _containers(pod):
        ended = _at(container, "state", "terminated")
        if isinstance(ended, dict):
            code = ended.get("exitCode")
            return _said(ended.get("reason"), ended.get("message")) + (f" (exit {_text(code)})" if code else "")
    conditions = _at(pod, "status", "conditions")
    for condition in conditions if isinstance(conditions, list) else ():
        if isinstance(condition, dict) and condition.get("message"):
            return _said(condition.get("reason"), condition.get("message"))
    return "no reason given"


def warning_events(events: Any) -> str:
    """The newest warning among ``events`` (an EventList's items), or ""."""
    warnings = [e for e in events if isinstance(e, dict) and e.get("type") == "Warning"] \
        if isinstance(events, list) else []
    if not warnings:
        return ""
    newest = max(warnings, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    return _said(newest.get("reason"), newest.get("message"))
