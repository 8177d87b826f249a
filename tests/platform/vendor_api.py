"""Another implementation of the Palette routes, for the palette target's tests: its own ways everywhere."""

from __future__ import annotations

import json
from typing import Any

from http_servers import Answer, Seen

KEY = "kc-target-test-key-0123456789"


def vendor_api(cluster: str, project: str, key: str = KEY) -> Any:
    """Another implementation of the documented routes: extra fields everywhere, optional fields left out,
    dates without fractions or with nanoseconds and offsets, machines one per page, node names that are
    not the machine names."""
    cas = [
        {"name": "ca", "expiry": "2035-01-10T08:00:00Z", "serial": "x", "certificates": [
            {"name": "kube-apiserver", "expiry": "2026-12-20T08:00:00.123456789Z", "issuer": "ca"},
            {"name": "kube-apiserver-kubelet-client", "expiry": "2026-12-20T09:00:00+01:00"}]},
        {"name": "front-proxy-ca", "expiry": "2035-01-10T08:00:00.5Z", "certificates": [
            {"name": "front-proxy-client", "expiry": "2026-12-20T08:00:00Z"}]},
        {"name": "etcd-ca", "expiry": "2035-01-10T08:00:00Z", "certificates": [
            {"name": n, "expiry": "2026-12-20T08:00:00Z"} for n in
            ("kube-apiserver-etcd-client", "kube-etcd-healthcheck-client", "kube-etcd-peer", "kube-etcd-server")]},
    ]
    certificates = {"machineCertificates": [{"name": f"ip-10-0-0-{i}.ec2.internal", "certificateAuthorities": cas,
                                             "vendorExtra": {"a": 1}} for i in (1, 2)], "total": 2}
    machines = [{"metadata": {"name": f"cp-{i}", "uid": f"m-{i}", "creationTimestamp": "2025-01-10T08:10:00Z"},
                 "status": {"instanceState": "Running", "addresses": [
                     {"type": "Hostname", "address": f"ip-10-0-0-{i}.ec2.internal"}]}} for i in (1, 2)]

    def respond(seen: Seen) -> Answer:
        def ok(document: Any) -> Answer:
            return Answer(200, json.dumps(document).encode(), {"Content-Type": "application/json; charset=utf-8"})

        def error(status: int, code: str) -> Answer:
            return Answer(status, json.dumps({"code": code, "message": code.lower()}).encode(),
                          {"Content-Type": "application/json"})

        if seen.headers.get("ApiKey") != key:
            return error(401, "Unauthorized")
        if seen.headers.get("ProjectUid") not in (None, project):
            return error(403, "ResourceAccessDenied")
        path, _, query = seen.path.partition("?")
        index = 1 if "continue=second" in query else 0
        documents = {
            f"/v1/spectroclusters/{cluster}/k8certificates": certificates,
            f"/v1/spectroclusters/{cluster}": {
                "metadata": {"uid": cluster, "name": "vendor", "creationTimestamp": "2025-01-10T07:58:00Z", "x": 1},
                "spec": {"cloudType": "aws", "cloudConfigRef": {"uid": "cfg"}}},
            "/v1/cloudconfigs/aws/cfg": {"spec": {"machinePoolConfig": [
                {"name": "cp", "isControlPlane": True, "size": 2}, {"name": "w", "size": 0}]}},
            "/v1/cloudconfigs/aws/cfg/machinePools/w/machines": {"items": []},
            "/v1/cloudconfigs/aws/cfg/machinePools/cp/machines": {
                "items": [machines[index]], "listmeta": {"continue": "" if index else "second", "count": 2}},
        }
        return ok(documents[path]) if path in documents else error(404, "ResourceNotFound")

    return respond
