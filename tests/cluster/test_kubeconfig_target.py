"""``kubeconfig:PATH`` against the served reference cluster, through the command as a user runs it: the
cluster rules it can judge pass, and each way a kubeconfig can go wrong is an ``error`` that says why
(or the failure of the rule that exists for it), never a traceback."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.reference.pki import KeyPool, cert_pem, issue_ca, issue_leaf, private_key_pem
from kubecert.reference.pki.kubeconfig import encode_data, parse_kubeconfig, render_kubeconfig
from kubecert.reference.pki.tree import PkiTree

from support import run_check, statuses

API_RULES = ("KC-CL-01", "KC-CL-02")  # what a kubeconfig alone judges, besides the expiry rules


def _check(tmp_path: Path, *targets: str, rules: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess[str],
                                                                                dict[str, Any]]:
    args = [word for target in targets for word in ("--target", target)]
    args += [word for rule in rules for word in ("--rule", rule)]
    return run_check(tmp_path, "--profile", "palette", *args, timeout=120)


def _kubeconfig(served: ClusterServer, path: Path, *, cert: bytes | None = None, key: bytes | None = None,
                server: str | None = None, ca: bytes | None = None, context: str | None = None) -> Path:
    """The admin kubeconfig the server wrote, with the parts given replaced."""
    document = parse_kubeconfig(served.admin_kubeconfig.read_bytes())
    user, cluster = document["users"][0]["user"], document["clusters"][0]["cluster"]
    if cert is not None and key is not None:
        user["client-certificate-data"], user["client-key-data"] = encode_data(cert), encode_data(key)
    if server is not None:
        cluster["server"] = server
    if ca is not None:
        cluster["certificate-authority-data"] = encode_data(ca)
    if context is not None:
        document["contexts"][0]["name"] = context
        document["current-context"] = "nowhere"
    path.write_bytes(render_kubeconfig(document))
    path.chmod(0o600)
    return path


def _client(cluster: ReferenceCluster, key_pool: KeyPool, *, cn: str, orgs: tuple[str, ...], days: int,
            issued: dt.datetime) -> tuple[bytes, bytes]:
    tree = PkiTree(cluster.node_trees()["cp-1"])
    key = key_pool.new_key("ECDSA-P256")
    cert = issue_leaf(tree.cert("ca"), tree.key("ca"), cn=cn, orgs=orgs, eku=("clientAuth",), key=key, now=issued,
                      leaf_days=days)
    return cert_pem(cert), private_key_pem(key)


def test_a_good_kubeconfig_passes_what_it_can_judge_and_says_what_it_cannot(
        tmp_path: Path, served: ClusterServer) -> None:
    run, report = _check(tmp_path, f"kubeconfig:{served.admin_kubeconfig}")
    assert run.returncode == 0, run.stdout + run.stderr
    found = statuses(report)
    assert {rule for rule, status in found.items() if status == "passed"} >= {*API_RULES, "KC-EXP-01", "KC-VAL-04"}
    assert set(found.values()) == {"passed", "skipped", "not_applicable"}, found
    # What the components hold is compared with the nodes' files, which a kubeconfig alone does not reach.
    for rule in ("KC-CL-05", "KC-CL-06"):
        result = next(r for r in report["results"] if r["rule"] == rule)
        assert result["status"] == "not_applicable"
        assert "needs the control-plane nodes' files" in result["message"] and "?nodes=pods" in result["message"]
        assert result["evidence"][0]["missing"] == ["node_files"]
    skipped = {r["rule"]: r["message"] for r in report["results"] if r["status"] == "skipped"}
    assert "a kubeconfig alone cannot read the nodes' files" in skipped["KC-CL-03"]
    assert "kind:NAME" in skipped["KC-CL-04"]  # renewal: where it could be had
    served_evidence = json.dumps(next(r for r in report["results"] if r["rule"] == "KC-CL-01")["evidence"])
    assert "served-apiserver" in served_evidence and "kubernetes.default.svc.cluster.local" in served_evidence
    assert "client-key-data" not in (tmp_path / "r.json").read_text()


def test_a_context_is_chosen_by_name_and_an_unknown_one_is_named(tmp_path: Path, served: ClusterServer) -> None:
    path = _kubeconfig(served, tmp_path / "ctx.conf", context="audit")
    run, report = _check(tmp_path, f"kubeconfig:{path}?context=audit", rules=API_RULES)
    assert run.returncode == 0 and set(statuses(report).values()) == {"passed"}, run.stdout
    run, report = _check(tmp_path, f"kubeconfig:{path}?context=nope", rules=API_RULES)
    assert run.returncode == 2
    assert {r["status"] for r in report["results"]} == {"error"}
    assert "nope" in report["results"][0]["message"]


def test_an_unreachable_server_is_an_error_quickly(tmp_path: Path, served: ClusterServer) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = _kubeconfig(served, tmp_path / "down.conf", server=f"https://127.0.0.1:{port}")
    run, report = _check(tmp_path, f"kubeconfig:{path}", rules=API_RULES)
    assert run.returncode == 2
    for result in report["results"]:
        assert result["status"] == "error" and f"127.0.0.1:{port}" in result["message"], result
        assert "refused" in result["message"].lower(), result["message"]


def test_a_kubeconfig_trusting_another_ca_fails_kc_cl_01_and_cannot_read_the_api(
        tmp_path: Path, served: ClusterServer, key_pool: KeyPool) -> None:
    other = issue_ca(cn="kubernetes", key=key_pool.new_key("ECDSA-P256"), now=dt.datetime.now(dt.UTC))
    path = _kubeconfig(served, tmp_path / "other-ca.conf", ca=cert_pem(other))
    run, report = _check(tmp_path, f"kubeconfig:{path}", rules=API_RULES)
    assert run.returncode == 1  # KC-CL-01 exists for this: a served certificate the kubeconfig cannot verify
    found = {r["rule"]: r for r in report["results"]}
    assert found["KC-CL-01"]["status"] == "failed"
    assert "does not chain to the kubeconfig's CA" in found["KC-CL-01"]["message"]
    assert found["KC-CL-02"]["status"] == "error"
    assert "TLS verification of https://127.0.0.1:" in json.dumps(found["KC-CL-02"]["evidence"])


def test_an_expired_client_certificate_is_refused_401_and_fails_the_expiry_rule(
        tmp_path: Path, served: ClusterServer, cluster: ReferenceCluster, key_pool: KeyPool) -> None:
    cert, key = _client(cluster, key_pool, cn="kubernetes-admin", orgs=("kubeadm:cluster-admins",), days=10,
                        issued=dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    path = _kubeconfig(served, tmp_path / "expired.conf", cert=cert, key=key)
    run, report = _check(tmp_path, f"kubeconfig:{path}", rules=(*API_RULES, "KC-EXP-01"))
    assert run.returncode == 1
    found = {r["rule"]: r for r in report["results"]}
    assert found["KC-EXP-01"]["status"] == "failed" and "expired" in found["KC-EXP-01"]["message"]
    assert found["KC-CL-02"]["status"] == "error"
    assert "401 Unauthorized" in json.dumps(found["KC-CL-02"]["evidence"])
    assert "expired or revoked client certificate" in json.dumps(found["KC-CL-02"]["evidence"])


def test_a_client_certificate_expiring_within_the_horizon_fails_the_gate(
        tmp_path: Path, served: ClusterServer, cluster: ReferenceCluster, key_pool: KeyPool) -> None:
    cert, key = _client(cluster, key_pool, cn="kubernetes-admin", orgs=("kubeadm:cluster-admins",), days=20,
                        issued=dt.datetime.now(dt.UTC))
    path = _kubeconfig(served, tmp_path / "short.conf", cert=cert, key=key)
    run, report = _check(tmp_path, f"kubeconfig:{path}", rules=(*API_RULES, "KC-EXP-01"))
    assert run.returncode == 1
    assert statuses(report) == {"KC-CL-01": "passed", "KC-CL-02": "passed", "KC-EXP-01": "failed"}
    expiry = json.dumps(next(r for r in report["results"] if r["rule"] == "KC-EXP-01")["evidence"])
    assert "kubernetes-admin" in expiry or "admin" in expiry


def test_a_user_without_permission_is_told_which_one(tmp_path: Path, served: ClusterServer,
                                                     cluster: ReferenceCluster, key_pool: KeyPool) -> None:
    cert, key = _client(cluster, key_pool, cn="auditor", orgs=("auditors",), days=365,
                        issued=dt.datetime.now(dt.UTC))
    path = _kubeconfig(served, tmp_path / "auditor.conf", cert=cert, key=key)
    run, report = _check(tmp_path, f"kubeconfig:{path}", rules=API_RULES)
    assert run.returncode == 2
    found = {r["rule"]: r for r in report["results"]}
    assert found["KC-CL-01"]["status"] == "passed"  # the handshake needs no permission
    evidence = json.dumps(found["KC-CL-02"]["evidence"])
    assert found["KC-CL-02"]["status"] == "error"
    assert "403 Forbidden" in evidence and 'User \\"auditor\\" cannot get resource \\"configmaps\\"' in evidence
    assert "kubecert needs get on configmaps" in evidence


@pytest.mark.parametrize(("content", "words"), [
    (None, "does not exist"),
    (b"{not: [yaml", "kubeconfig"),
    (b"apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n", "kubeconfig"),
])
def test_a_kubeconfig_that_cannot_be_used_is_named(tmp_path: Path, content: bytes | None, words: str) -> None:
    path = tmp_path / "bad.conf"
    if content is not None:
        path.write_bytes(content)
    run, report = _check(tmp_path, f"kubeconfig:{path}", rules=API_RULES)
    assert run.returncode == 2
    for result in report["results"]:
        assert result["status"] == "error" and words in result["message"] and str(path) in result["message"]
