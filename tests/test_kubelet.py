"""The kubelet's folder: how it is read (links, combined files, hostile config.yaml), and what KC-KLT-01..05
and the expiry gate make of it, on a control-plane node and a worker."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from cryptography import x509

from kubecert import layout
from kubecert.inventory import load_pki
from kubecert.inventory.facts import NodeFacts, go_duration
from kubecert.inventory.kubelet import default_kubelet_dir
from kubecert.reference.pki import InitOptions, InitResult, KeyPool, PkiTree, init_pki, renew
from kubecert.reference.pki.issue import cert_pem
from kubecert.reference.pki.kubelet import KubeletTree, self_signed_serving, signed_by_cluster
from kubecert.rules import Status

from support import judge, not_passing

DAY = dt.timedelta(days=1)


def _link(root: Path, kind: str = "client") -> Path:
    return KubeletTree(root).current_path(kind)


def _reissue_client(root: Path, issued: dt.datetime) -> None:
    """The kubelet's client certificate signed by the cluster CA as if issued at ``issued``."""
    kubelet, tree = KubeletTree(root), PkiTree(root)
    _, key = kubelet.current("client")
    cert = signed_by_cluster((tree.cert("ca"), tree.key("ca")), node=tree.node_name() or "", key=key, now=issued)
    os.unlink(_link(root).resolve())
    kubelet.write_dated("client", cert, key, at=issued)


def test_the_reference_node_and_worker_pass_every_rule(reference_tree: InitResult,
                                                       reference_worker: InitResult) -> None:
    node, worker = judge(reference_tree.root), judge(reference_worker.root)
    assert not_passing(node) == {}
    assert not_passing(worker) == {}
    for verdicts in (node, worker):
        assert all(verdicts[f"KC-KLT-0{n}"].status is Status.PASSED for n in range(1, 6)), verdicts
    assert "never rotated" in node["KC-KLT-03"].message  # kubeadm's default: a pass worth reading


def test_the_client_file_is_read_with_its_key_and_only_its_certificate_is_kept(reference_tree: InitResult) -> None:
    inventory = load_pki(reference_tree.pki_dir, kubelet_dir=reference_tree.root / "kubelet")
    folder = inventory.kubelet
    assert folder is not None and folder.client is not None and folder.client.key is not None
    assert folder.client.common_name == "system:node:cp-1"
    assert folder.client.key.pem_type == "EC PRIVATE KEY"
    assert folder.client.key.public.spki_sha256 == folder.client.public_key.spki_sha256
    assert b"PRIVATE KEY" not in folder.client.pem and b"PRIVATE KEY" in Path(folder.client.path).read_bytes()
    assert folder.client_link is not None and folder.client_link.target == Path(folder.client.path).name
    assert folder.serving is not None and folder.serving_self_signed and folder.serving.in_file == 2
    assert {c.name for c in inventory.all_certs()} >= {layout.KUBELET_CLIENT, layout.KUBELET_SERVING}
    assert inventory.location["kubelet"] == str(reference_tree.root / "kubelet")


def test_the_kubelets_absolute_link_is_read_in_the_copy_not_on_the_host(reference_copy: Path) -> None:
    link = _link(reference_copy)
    dated = os.readlink(link)
    link.unlink()
    link.symlink_to(f"{layout.KUBELET_CERT_DIR}/{dated}")  # as the kubelet writes it
    inventory = load_pki(reference_copy / "pki", kubelet_dir=reference_copy / "kubelet")
    assert inventory.kubelet is not None and inventory.kubelet.client is not None
    assert inventory.kubelet.client.path == str(reference_copy / "kubelet/pki" / dated)
    verdicts = judge(reference_copy)
    assert not_passing(verdicts) == {}
    assert f"links to the newest dated file, {dated}" in json.dumps([f.message for f in verdicts["KC-KLT-02"].findings])


@pytest.mark.parametrize("target", ["/etc/kubernetes/pki/ca.key", "../../pki/ca.key", "/var/lib/kubelet/other/x.pem"])
def test_a_link_out_of_the_folder_is_not_followed(reference_copy: Path, target: str) -> None:
    link = _link(reference_copy)
    link.unlink()
    link.symlink_to(target)
    verdicts = judge(reference_copy)
    assert verdicts["KC-KLT-01"].status is Status.FAILED
    assert f"links to {target}, outside the kubelet's certificate folder: not followed" in verdicts["KC-KLT-01"].message
    assert verdicts["KC-KLT-02"].status is Status.FAILED
    assert verdicts["KC-EXP-01"].status is Status.ERROR  # the certificate could not be judged
    assert "PRIVATE KEY" not in json.dumps([v.evidence() for v in verdicts.values()])


def test_a_dated_file_that_resolves_out_of_the_folder_is_not_read(reference_copy: Path, tmp_path: Path) -> None:
    dated = _link(reference_copy).resolve()
    elsewhere = tmp_path / "host-kubelet.pem"
    dated.rename(elsewhere)
    dated.symlink_to(elsewhere)
    verdicts = judge(reference_copy)
    assert f"resolves to {elsewhere}, outside the kubelet folder: not read" in verdicts["KC-KLT-01"].message
    assert verdicts["KC-KLT-04"].status is Status.FAILED  # its protection depends on a folder not judged


def test_a_plain_file_where_the_link_should_be_fails_rotation_only(reference_copy: Path) -> None:
    link = _link(reference_copy)
    data = link.read_bytes()
    link.unlink()
    link.write_bytes(data)
    os.chmod(link, 0o600)
    failing = not_passing(judge(reference_copy))
    assert list(failing) == ["KC-KLT-02"]
    assert "plain file, not a symlink" in failing["KC-KLT-02"]


def test_a_dangling_link_is_named(reference_copy: Path) -> None:
    _link(reference_copy).resolve().unlink()
    verdicts = judge(reference_copy)
    assert "which is not in" in verdicts["KC-KLT-01"].message
    assert verdicts["KC-KLT-01"].status is Status.FAILED


def test_a_client_file_without_its_key_fails_the_identity_rule_and_the_certificate_is_still_judged(
        reference_copy: Path) -> None:
    dated = _link(reference_copy).resolve()
    cert = x509.load_pem_x509_certificate(dated.read_bytes())
    dated.write_bytes(cert_pem(cert))
    failing = not_passing(judge(reference_copy))
    assert list(failing) == ["KC-KLT-01"]
    assert "holds CERTIFICATE, expected PRIVATE KEY" in failing["KC-KLT-01"]


def test_a_kubelet_client_certificate_inside_the_horizon_fails_the_expiry_gate(reference_copy: Path) -> None:
    _reissue_client(reference_copy, dt.datetime.now(dt.UTC) - 355 * DAY)  # 10 days left
    verdicts = judge(reference_copy)
    gate = verdicts["KC-EXP-01"]
    assert gate.status is Status.FAILED
    assert [f.subject for f in gate.findings if f.status is Status.FAILED] == [layout.KUBELET_CLIENT]
    assert "within the 30d horizon" in gate.message
    # and its rotation has stalled (past 90% of its life), the one other rule it fails
    assert set(not_passing(verdicts)) == {"KC-EXP-01", "KC-KLT-02"}


def test_the_signing_duration_comes_from_the_controller_manager_manifest(reference_copy: Path) -> None:
    manifest = reference_copy / "manifests/kube-controller-manager.yaml"
    flag = "- --use-service-account-credentials=true"
    manifest.write_text(manifest.read_text().replace(flag, f"{flag}\n    - --cluster-signing-duration=720h"))
    verdicts = judge(reference_copy)
    assert list(not_passing(verdicts)) == ["KC-KLT-02"]
    message = verdicts["KC-KLT-02"].message
    assert "longer than the signing duration 30d (manifests/kube-controller-manager.yaml" in message


def test_a_worker_takes_the_signing_duration_the_user_declares(worker_copy: Path) -> None:
    declared = NodeFacts.declared({"cluster_signing_duration": "720h"}, where="test")
    verdicts = judge(worker_copy, facts=declared)
    assert list(not_passing(verdicts)) == ["KC-KLT-02"]
    assert "(declared by the user)" in verdicts["KC-KLT-02"].message
    assert not_passing(judge(worker_copy)) == {}  # the default 8760h


@pytest.mark.parametrize(("text", "said"), [
    ("rotateCertificates: yes please\n", "rotateCertificates is 'yes please', not true or false"),
    ("kind: Pod\n", "kind is 'Pod', not KubeletConfiguration"),
    ("- a list\n", "not a KubeletConfiguration: the YAML is not a mapping"),
    ("rotateCertificates: [\n", "unusable kubelet configuration"),
    ("rotateCertificates: true\nnote: \"\\e[31mred\"\n", None),
    ("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n",
     "not set (the kubelet's default is false)"),
])
def test_config_yaml_is_judged_without_trusting_it(reference_copy: Path, text: str, said: str | None) -> None:
    (reference_copy / "kubelet/config.yaml").write_text(text)
    verdicts = judge(reference_copy)
    if said is None:
        assert not_passing(verdicts) == {}
        return
    assert verdicts["KC-KLT-02"].status is Status.FAILED
    assert said in verdicts["KC-KLT-02"].message
    assert "config.yaml" in verdicts["KC-KLT-02"].message


def test_a_missing_config_yaml_means_no_rotation(reference_copy: Path) -> None:
    (reference_copy / "kubelet/config.yaml").unlink()
    failing = not_passing(judge(reference_copy))
    assert list(failing) == ["KC-KLT-02"]
    assert "missing; without it rotateCertificates is false" in failing["KC-KLT-02"]


def test_control_characters_in_the_folder_are_escaped(reference_copy: Path) -> None:
    link = _link(reference_copy)
    link.unlink()
    link.symlink_to("evil\x1b[2J.pem")
    verdicts = judge(reference_copy)
    text = json.dumps([v.message for v in verdicts.values()] + [v.evidence() for v in verdicts.values()])
    assert "\x1b" not in text and "\\\\x1b" in text


def test_server_tls_bootstrap_serving_certificate_is_the_cluster_cas_for_the_node(tmp_path: Path,
                                                                                   key_pool: KeyPool) -> None:
    root = tmp_path / "kubernetes"
    init_pki(root, InitOptions(key_algorithm="ECDSA-P256", server_tls_bootstrap=True), keys=key_pool,
             now=dt.datetime.now(dt.UTC))
    verdicts = judge(root)
    assert not_passing(verdicts) == {}
    [serving] = verdicts["KC-KLT-03"].findings
    assert serving.message == "signed by ca through serverTLSBootstrap for cp-1, 10.0.0.10; the kubelet rotates it"
    _link(root, "server").unlink()  # the serving CSR never approved: nothing to serve with
    failing = not_passing(judge(root))
    assert list(failing) == ["KC-KLT-03"]
    assert "kubelet-server-current.pem: missing: serverTLSBootstrap is on and no serving certificate was issued" \
        in failing["KC-KLT-03"]


def test_a_serving_certificate_inside_the_horizon_fails(reference_copy: Path, key_pool: KeyPool) -> None:
    KubeletTree(reference_copy).write_serving(*self_signed_serving(
        "cp-1", keys=key_pool, now=dt.datetime.now(dt.UTC) - 350 * DAY))
    failing = not_passing(judge(reference_copy))
    assert set(failing) == {"KC-KLT-03", "KC-EXP-01"}
    assert "within the 30d horizon" in failing["KC-KLT-03"]


def test_a_tls_cert_file_in_the_folder_is_read_and_one_elsewhere_is_said_unread(reference_copy: Path) -> None:
    kubelet = KubeletTree(reference_copy)
    document = kubelet.config()
    document.update(tlsCertFile="/var/lib/kubelet/pki/kubelet.crt",
                    tlsPrivateKeyFile="/var/lib/kubelet/pki/kubelet.key")
    kubelet.write_config(document)
    assert not_passing(judge(reference_copy)) == {}
    document["tlsCertFile"] = "/etc/ssl/kubelet.crt"
    kubelet.write_config(document)
    verdicts = judge(reference_copy)
    assert verdicts["KC-KLT-03"].status is Status.ERROR
    assert "/etc/ssl/kubelet.crt is outside the kubelet folder kubecert reads" in verdicts["KC-KLT-03"].message


def test_reference_renewal_leaves_the_kubelets_files(reference_copy: Path, key_pool: KeyPool) -> None:
    kubelet = reference_copy / "kubelet"
    before = {p: (p.read_bytes(), os.readlink(p) if p.is_symlink() else None) for p in kubelet.rglob("*")
              if p.is_file()}
    renew(reference_copy, "all", keys=key_pool, now=dt.datetime.now(dt.UTC) + DAY)
    after = {p: (p.read_bytes(), os.readlink(p) if p.is_symlink() else None) for p in kubelet.rglob("*")
             if p.is_file()}
    assert after == before
    assert not_passing(judge(reference_copy, at=dt.datetime.now(dt.UTC) + DAY)) == {}


def test_the_host_kubelet_is_read_only_for_the_host_pki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host_pki, host_kubelet = tmp_path / "etc/kubernetes/pki", tmp_path / "var/lib/kubelet"
    host_pki.mkdir(parents=True)
    monkeypatch.setattr(layout, "NODE_PKI_DIR", str(host_pki))
    monkeypatch.setattr(layout, "KUBELET_DIR", str(host_kubelet))
    assert default_kubelet_dir(host_pki, host_pki.parent) == host_kubelet
    copy = tmp_path / "copy"
    (copy / "pki").mkdir(parents=True)
    assert default_kubelet_dir(copy / "pki", copy) is None  # never the host's, for a copy
    (copy / "kubelet").mkdir()
    assert default_kubelet_dir(copy / "pki", copy) == copy / "kubelet"


def test_go_durations() -> None:
    assert go_duration("8760h") == go_duration("8760h0m0s") == dt.timedelta(days=365)
    assert go_duration("1h30m") == go_duration("1.5h") == dt.timedelta(minutes=90)
    for text in ("", "8760", "-1h", "0s", "1e3h", "h", "9" * 30 + "h", "1h" * 40):
        with pytest.raises(ValueError, match="duration"):
            go_duration(text)


def test_the_reference_kubelet_is_kubeadms_and_the_kubelets(reference_tree: InitResult) -> None:
    kubelet = KubeletTree(reference_tree.root)
    config = kubelet.config()
    assert config["rotateCertificates"] is True and "serverTLSBootstrap" not in config
    assert config["authentication"]["x509"]["clientCAFile"] == "/etc/kubernetes/pki/ca.crt"
    client, _ = kubelet.current("client")
    assert client.not_valid_after_utc - client.not_valid_before_utc == 365 * DAY
    assert client.subject.rfc4514_string() == "CN=system:node:cp-1,O=system:nodes"
    client.verify_directly_issued_by(reference_tree.tree.cert("ca"))
    leaf, signer = x509.load_pem_x509_certificates(kubelet.serving_cert_path.read_bytes())
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == 365 * DAY
    assert leaf.issuer == signer.subject and signer.subject.rfc4514_string().startswith("CN=cp-1-ca@")
    leaf.verify_directly_issued_by(signer)


def test_without_ca_crt_a_control_plane_judges_the_kubelet_identity_and_leaves_the_chain_to_the_inventory(
        reference_copy: Path, worker_copy: Path) -> None:
    (reference_copy / "pki/ca.crt").unlink()
    verdicts = judge(reference_copy)
    assert verdicts["KC-INV-01"].status is Status.FAILED
    assert verdicts["KC-KLT-01"].status is Status.PASSED
    assert "signer is not judged without ca.crt (KC-INV-01)" in verdicts["KC-KLT-01"].message
    (worker_copy / "pki/ca.crt").unlink()  # no inventory rule concerns a worker: the kubelet's rule says it
    worker = judge(worker_copy)
    assert worker["KC-KLT-01"].status is Status.FAILED
    assert f"{worker_copy / 'pki/ca.crt'}: missing" in worker["KC-KLT-01"].message
