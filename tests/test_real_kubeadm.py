"""Verdicts on the shapes real kubeadm leaves on a node (FACTS.md, "Real kubeadm v1.28.7, observed"; v1.31's
dates from its source), made in code with explicit dates (kubeadm_shapes.py): every rule that applies is right
about them, and what each rule exists to catch still fails."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubecert import layout
from kubecert.reference.pki import KeyPool
from kubecert.reference.pki.kubelet import KubeletTree, signed_by_cluster
from kubecert.reference.pki.tree import PkiTree
from kubecert.rules import Status, Verdict

from kubeadm_shapes import (
    embed_in_kubelet_conf,
    first_control_plane,
    kubeadm_kubelet_certificate,
    store_as_kubelet,
    stored,
)
from support import judge, not_passing, result_for, run_check, statuses

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
BEFORE_ROTATION = NOW - dt.timedelta(days=30)  # init a month ago: the kubelet rotates at 70-90% of a year
LONG_AGO = NOW - dt.timedelta(days=300)  # init ten months ago, and the kubelet rotated 20 days ago
ROTATED_AT = NOW - dt.timedelta(days=20)
SHAPES = {  # name: (version, kubelet state, made)
    "v1.28-started": ("v1.28", "started", BEFORE_ROTATION),
    "v1.28-finalized": ("v1.28", "finalized", BEFORE_ROTATION),
    "v1.31-started": ("v1.31", "started", BEFORE_ROTATION),
    "v1.31-finalized": ("v1.31", "finalized", BEFORE_ROTATION),
    "v1.28-rotated": ("v1.28", "rotated", LONG_AGO),
}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("kubeadm-shapes")
    return {name: first_control_plane(base / name, key_pool, version=version, state=state,  # type: ignore[arg-type]
                                      made=made, rotated_at=ROTATED_AT)
            for name, (version, state, made) in SHAPES.items()}


def _copy(shapes: dict[str, Path], name: str, tmp_path: Path) -> Path:
    copy = tmp_path / name
    shutil.copytree(shapes[name], copy, symlinks=True, copy_function=shutil.copy2)
    return copy


def _client_lifetime(verdict: Verdict) -> dict[str, object]:
    """KC-KLT-02's finding on the kubelet's client certificate's lifetime (the one that says how it was judged)."""
    return next(dict(f.evidence) | {"status": f.status, "message": f.message} for f in verdict.findings
                if "judged_as" in f.evidence)


# ---------------------------------------------------------------- KC-KLT-02: whose certificate it is


def test_the_shapes_are_what_kubeadm_and_the_kubelet_write(shapes: dict[str, Path]) -> None:
    """The same certificate in kubelet.conf and in the kubelet's store, linked absolutely; kubeadm's dates."""
    root = shapes["v1.28-started"]
    tree, kubelet = PkiTree(root), KubeletTree(root)
    assert os.readlink(kubelet.current_path("client")).startswith(f"{layout.KUBELET_CERT_DIR}/kubelet-client-")
    kept, _ = stored(root)
    embedded, _ = tree.kubeconfig_client("kubelet.conf")
    ca = tree.cert("ca")
    assert kept.serial_number == embedded.serial_number
    assert kept.not_valid_before_utc == ca.not_valid_before_utc == BEFORE_ROTATION - dt.timedelta(minutes=5)
    lifetime = kept.not_valid_after_utc - kept.not_valid_before_utc
    assert lifetime == dt.timedelta(days=365, minutes=5, seconds=3)  # 365 d + the CA's backdate + CA to leaf
    assert not (root / "super-admin.conf").exists()
    v131 = PkiTree(shapes["v1.31-finalized"])
    assert "client-certificate" in v131.kubeconfig("kubelet.conf")["users"][0]["user"]
    v131_cert, _ = stored(shapes["v1.31-finalized"])
    assert v131_cert.not_valid_after_utc - v131_cert.not_valid_before_utc == dt.timedelta(days=365, minutes=5)


@pytest.mark.parametrize("shape", ["v1.28-started", "v1.31-started"])
def test_kubeadms_certificate_before_kubelet_finalize_passes_as_kubeadms_leaf(shapes: dict[str, Path],
                                                                               shape: str) -> None:
    """Before kubelet-finalize the kubelet's file holds kubelet.conf's own certificate: kubeadm's, not the
    signer's. Only KC-KCFG-03 fails (kubelet.conf still embeds it: what kubelet-finalize changes)."""
    verdicts = judge(shapes[shape], "kubeadm")
    assert sorted(not_passing(verdicts)) == ["KC-KCFG-03"], not_passing(verdicts)
    lifetime = _client_lifetime(verdicts["KC-KLT-02"])
    assert lifetime["status"] is Status.PASSED
    assert lifetime["judged_as"] == "kubeadm's leaf (kubeadm init signed it with the cluster CA)"
    assert "kubelet.conf embeds it, serial" in str(lifetime["recognised_by"])
    assert "kubeadm's initial certificate" in verdicts["KC-KLT-02"].message


@pytest.mark.parametrize(("shape", "why"), [
    ("v1.28-finalized", "its NotBefore is the cluster CA's"),
    ("v1.31-finalized", "kubeadm v1.31+'s leaf lifetime"),
])
def test_kubeadms_certificate_after_kubelet_finalize_passes_every_rule(shapes: dict[str, Path], shape: str,
                                                                       why: str) -> None:
    verdicts = judge(shapes[shape], "kubeadm")
    assert not_passing(verdicts) == {}
    lifetime = _client_lifetime(verdicts["KC-KLT-02"])
    assert str(lifetime["judged_as"]).startswith("kubeadm's leaf") and why in str(lifetime["recognised_by"])
    assert lifetime["signing_duration"] == "365d"  # said beside it: it bounds only what the signer signs


def test_a_rotated_certificate_is_judged_by_the_signing_duration(shapes: dict[str, Path]) -> None:
    verdicts = judge(shapes["v1.28-rotated"], "kubeadm")
    assert not_passing(verdicts) == {}
    lifetime = _client_lifetime(verdicts["KC-KLT-02"])
    assert lifetime["judged_as"] == "the controller-manager's CSR signer (kubernetes.io/kube-apiserver-client-kubelet)"
    assert lifetime["message"] == "valid 365d: the signing duration (kube-controller-manager default)"
    link = next(f for f in verdicts["KC-KLT-02"].findings if f.subject == layout.KUBELET_CLIENT_CURRENT)
    assert link.evidence["dated_files"] == 2  # kubeadm's first file stays beside the rotated one


def _four_hundred_days(root: Path, signer: str) -> None:
    """The kubelet's client certificate replaced by one valid 400 days, as ``signer`` would have dated it."""
    tree, kubelet = PkiTree(root), KubeletTree(root)
    _, key = stored(root)
    for path in kubelet.pki_dir.glob("kubelet-client-*"):
        path.unlink()
    days = dt.timedelta(days=400)
    if signer == "csr-signer":
        cert = signed_by_cluster((tree.cert("ca"), tree.key("ca")), node="cp-1", key=key, now=NOW, duration=days)
    else:
        version = "v1.28" if signer == "kubeadm-v1.28" else "v1.31"
        cert = kubeadm_kubelet_certificate(tree, key, "cp-1", version, BEFORE_ROTATION, days=days)  # type: ignore[arg-type]
        if signer == "kubeadm-v1.31-embedded":
            embed_in_kubelet_conf(tree, cert, key)
    store_as_kubelet(root, cert, key, NOW)


@pytest.mark.parametrize(("shape", "signer", "judged_as"), [
    ("v1.28-finalized", "kubeadm-v1.28", "kubeadm's leaf"),
    ("v1.31-started", "kubeadm-v1.31-embedded", "kubeadm's leaf"),
    ("v1.28-rotated", "csr-signer", "the controller-manager's CSR signer"),
])
def test_a_certificate_of_400_days_fails_whoever_signed_it(shapes: dict[str, Path], tmp_path: Path, shape: str,
                                                           signer: str, judged_as: str) -> None:
    root = _copy(shapes, shape, tmp_path)
    _four_hundred_days(root, signer)
    verdict = judge(root, "kubeadm")["KC-KLT-02"]
    assert verdict.status is Status.FAILED, verdict.message
    lifetime = _client_lifetime(verdict)
    assert lifetime["status"] is Status.FAILED and str(lifetime["judged_as"]).startswith(judged_as)
    assert "FAILED kubelet-client: " in verdict.message


# ---------------------------------------------------------------- KC-CSR-01/02: generate-csr's real layout

GENERATE_CSR = Path(__file__).resolve().parent / "kubeadm_generate_csr.py"


def _generate_csr(root: Path, tmp_path: Path, *extra: str) -> tuple[dict[str, Any], Path]:
    """KC-CSR-01/02 judged through ``kubecert check`` on the node at ``root``, its --csr-command the stand-in for
    kubeadm v1.28.7's generate-csr: the report, and a copy of what the command wrote (kubecert removes its folder)."""
    copy = tmp_path / "written"
    command = (f"{sys.executable} {GENERATE_CSR} --node {{kubeconfig_dir}} --cert-dir {{csr_dir}}/pki "
               f"--kubeconfig-dir {{csr_dir}} --copy-to {copy} {' '.join(extra)}")
    _, report = run_check(tmp_path, "--target", f"pki:{root / 'pki'}", "--allow-disruptive", "--csr-command", command,
                          "--rule", "KC-CSR-*")
    return report, copy


def _key_bodies(folder: Path) -> list[str]:
    """The base64 of every private key written below ``folder``: the .key files and the key-only kubeconfigs."""
    pems = [path.read_text() for path in folder.rglob("*.key")]
    for path in folder.glob("*.conf"):
        document = yaml.safe_load(path.read_text())
        pems.append(base64.b64decode(document["users"][0]["user"]["client-key-data"]).decode())
    return ["".join(line for line in pem.splitlines() if not line.startswith("-----")) for pem in pems]


def test_generate_csrs_real_layout_passes_and_its_keys_never_reach_the_report(shapes: dict[str, Path],
                                                                               tmp_path: Path) -> None:
    root = _copy(shapes, "v1.28-finalized", tmp_path)
    report, written = _generate_csr(root, tmp_path)
    assert statuses(report) == {"KC-CSR-01": "passed", "KC-CSR-02": "passed"}, report["results"]
    assert sorted(p.relative_to(written).as_posix() for p in written.rglob("*") if p.is_file()) == sorted(
        [f"pki/{stem}.{suffix}" for stem in ("apiserver", "apiserver-kubelet-client", "apiserver-etcd-client",
                                             "front-proxy-client", "etcd/server", "etcd/peer",
                                             "etcd/healthcheck-client") for suffix in ("csr", "key")]
        + [f"{name}.conf{suffix}" for name in ("admin", "controller-manager", "scheduler", "kubelet")
           for suffix in ("", ".csr")])
    csrs = {e["subject"]: e for e in result_for(report, "KC-CSR-01")["evidence"] if "csr_path" in e}
    assert sorted(csrs) == sorted(name for name in layout.RENEWED if name != "super-admin.conf")
    assert csrs["admin.conf"]["key_path"].endswith("/admin.conf")  # the key-only kubeconfig holds its key
    assert csrs["etcd-server"]["csr_path"].endswith("/pki/etcd/server.csr")
    evidence = result_for(report, "KC-CSR-02")["evidence"]
    modes = {e["path"].rsplit("/", 1)[-1]: e["mode"] for e in evidence if "mode" in e}
    assert modes["csr"] == modes["pki"] == modes["etcd"] == "0755"  # 0755 less umask 022, as kubeadm leaves them
    assert modes["admin.conf"] == modes["apiserver.key"] == modes["apiserver.csr"] == "0600"
    text = json.dumps(report)
    assert "PRIVATE KEY" not in text
    bodies = _key_bodies(written)
    assert len(bodies) == 11
    assert not any(body[i:i + 40] in text for body in bodies for i in range(0, len(body) - 40, 40))


def test_a_csr_folder_writable_by_its_group_fails(shapes: dict[str, Path], tmp_path: Path) -> None:
    """kubeadm's folders are never writable by others (0755 less the umask); a renewer's that are fail."""
    root = _copy(shapes, "v1.28-finalized", tmp_path)
    report, _ = _generate_csr(root, tmp_path, "--umask", "002", "--folder-mode", "775")
    assert statuses(report) == {"KC-CSR-01": "passed", "KC-CSR-02": "failed"}
    failed = {e["path"].rsplit("/", 1)[-1]: e for e in result_for(report, "KC-CSR-02")["evidence"]
              if e["status"] == "failed"}
    assert sorted(failed) == ["csr", "etcd", "pki"]
    assert "is mode 0775, expected 0755 or stricter: writable by group or others" in failed["pki"]["detail"]
