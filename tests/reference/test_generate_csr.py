"""``kubecert reference pki generate-csr --cert-dir D/pki --kubeconfig-dir D``: kubeadm certs generate-csr's own
layout, files, modes and requests, beside the seed's ``--csr-dir`` form (tests/reference/test_renew.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kubecert import cli as kubecert_cli
from kubecert.inventory.csrs import load_csr_dir
from kubecert.reference.pki import FreshKeys, InitResult, KeyPool, load_private_key, public_key_pem
from kubecert.reference.pki.kubeadm_csr import generate_kubeadm_csrs
from kubecert.reference.pki.kubeconfig import decode_data
from kubecert.rules import Status
from kubecert.targets.reference.actions import KUBEADM_CSRS, ReferenceActions

from nodes import checksums, judge_actions_with, make_node

Node = Callable[..., InitResult]
OPENSSL = shutil.which("openssl")
LEAVES = ["pki/apiserver", "pki/apiserver-kubelet-client", "pki/front-proxy-client", "pki/etcd/server",
          "pki/etcd/peer", "pki/etcd/healthcheck-client", "pki/apiserver-etcd-client"]
KUBECONFIGS = ["admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf"]


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _files(folder: Path) -> dict[str, int]:
    found = {}
    for path in sorted(folder.rglob("*")):
        found[path.relative_to(folder).as_posix()] = stat.S_IMODE(path.lstat().st_mode)
    return found


def _expected_files(kubeconfigs: list[str]) -> set[str]:
    files = {f"{leaf}{suffix}" for leaf in LEAVES for suffix in (".key", ".csr")}
    return files | set(kubeconfigs) | {f"{name}.csr" for name in kubeconfigs}


def _subject(request: x509.CertificateSigningRequest) -> tuple[str, tuple[str, ...]]:
    cn = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cn[0].value), tuple(str(a.value) for a in request.subject.get_attributes_for_oid(
        NameOID.ORGANIZATION_NAME))


def _request(folder: Path, name: str) -> x509.CertificateSigningRequest:
    return x509.load_pem_x509_csr((folder / f"{name}.csr").read_bytes())


def test_kubeadms_layout_files_and_modes_under_umask_022(reference_tree: InitResult, key_pool: KeyPool,
                                                         tmp_path: Path) -> None:
    before = checksums(reference_tree.root)
    out = tmp_path / "csr"
    with _umask(0o022):
        result = generate_kubeadm_csrs(reference_tree.root, out / "pki", out, keys=key_pool)
    files = _files(out)
    folders = {name for name, _ in files.items() if (out / name).is_dir()}
    assert folders == {"pki", "pki/etcd"}
    assert set(files) - folders == _expected_files(KUBECONFIGS)
    assert {mode for name, mode in files.items() if name not in folders} == {0o600}
    assert {files[name] for name in folders} == {0o755}
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # the key writer made it 0755 before the CSR writer's 0700
    assert checksums(reference_tree.root) == before  # nothing of the tree changed
    assert result.log == (f"generating keys and CSRs in {out / 'pki'}", *(f"  {leaf[4:]}" for leaf in LEAVES),
                          f"generating keys and CSRs in {out}", *(f"  {name}" for name in KUBECONFIGS))


def test_folder_modes_follow_the_umask(reference_tree: InitResult, key_pool: KeyPool, tmp_path: Path) -> None:
    out = tmp_path / "csr"
    with _umask(0o077):
        generate_kubeadm_csrs(reference_tree.root, out / "pki", out, keys=key_pool)
    modes = _files(out)
    assert modes["pki"] == modes["pki/etcd"] == stat.S_IMODE(out.stat().st_mode) == 0o700
    assert modes["admin.conf"] == modes["pki/apiserver.key"] == 0o600


def test_partial_kubeconfigs_hold_only_the_key(reference_tree: InitResult, key_pool: KeyPool, tmp_path: Path) -> None:
    out = tmp_path / "csr"
    generate_kubeadm_csrs(reference_tree.root, out / "pki", out, keys=key_pool)
    for name in KUBECONFIGS:
        document = yaml.safe_load((out / name).read_text())
        assert document["clusters"][0]["cluster"] == {"server": reference_tree.tree.kubeconfig(name)["clusters"][0][
            "cluster"]["server"]}
        [user] = document["users"]
        assert list(user["user"]) == ["client-key-data"]
        key = load_private_key(decode_data(user["user"]["client-key-data"]))
        request = _request(out, name)
        assert request.is_signature_valid and public_key_pem(key) == public_key_pem(request.public_key())
        assert _subject(request) == {
            "admin.conf": ("kubernetes-admin", ("kubeadm:cluster-admins",)),
            "super-admin.conf": ("kubernetes-super-admin", ("system:masters",)),
            "kubelet.conf": ("system:node:cp-1", ("system:nodes",)),
            "controller-manager.conf": ("system:kube-controller-manager", ()),
            "scheduler.conf": ("system:kube-scheduler", ()),
        }[name]


def test_requests_carry_subject_and_sans_and_no_usages(reference_tree: InitResult, key_pool: KeyPool,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "csr"
    generate_kubeadm_csrs(reference_tree.root, out / "pki", out, keys=key_pool)
    tree = reference_tree.tree
    for leaf, name in zip(LEAVES, ["apiserver", "apiserver-kubelet-client", "front-proxy-client", "etcd-server",
                                   "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client"], strict=True):
        request, cert = _request(out, leaf), tree.cert(name)
        assert request.subject == cert.subject, name
        extensions = [extension.value for extension in request.extensions]
        assert all(isinstance(value, x509.SubjectAlternativeName) for value in extensions), name  # no usages
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            sans = None
        assert (extensions[0] if extensions else None) == sans, name
        key = load_private_key((out / f"{leaf}.key").read_bytes())
        assert public_key_pem(key) == public_key_pem(request.public_key())
        assert isinstance(key, rsa.RSAPrivateKey)  # the cluster's key type


def test_v1_28_requests(reference_node: Node, key_pool: KeyPool, tmp_path: Path) -> None:
    """v1.28 has no super-admin.conf, puts admin.conf and the API server's clients in system:masters, and gives
    kubeconfigs RSA keys in an ECDSA cluster."""
    root = reference_node(kubernetes_version="v1.28.7", key_algorithm="ECDSA-P256").root
    out = tmp_path / "csr"
    generate_kubeadm_csrs(root, out / "pki", out, keys=key_pool)
    kubeconfigs = [name for name in KUBECONFIGS if name != "super-admin.conf"]
    assert {name for name in _files(out) if not (out / name).is_dir()} == _expected_files(kubeconfigs)
    assert _subject(_request(out, "admin.conf")) == ("kubernetes-admin", ("system:masters",))
    assert _subject(_request(out, "pki/etcd/healthcheck-client")) == ("kube-etcd-healthcheck-client",
                                                                      ("system:masters",))
    assert isinstance(_request(out, "admin.conf").public_key(), rsa.RSAPublicKey)
    assert isinstance(_request(out, "pki/apiserver").public_key(), ec.EllipticCurvePublicKey)


def test_nothing_is_written_over_what_is_there(reference_tree: InitResult, key_pool: KeyPool, tmp_path: Path) -> None:
    out = tmp_path / "csr"
    out.mkdir()
    (out / "scheduler.conf").write_text("mine")
    from kubecert.reference.pki import ReferenceUsageError

    with pytest.raises(ReferenceUsageError, match=r"scheduler\.conf: a kubeconfig, key or CSR is already there"):
        generate_kubeadm_csrs(reference_tree.root, out / "pki", out, keys=key_pool)
    assert sorted(p.name for p in out.iterdir()) == ["scheduler.conf"]


def test_kubecert_reads_the_layout_and_kc_csr_01_passes(tmp_path: Path) -> None:
    root = make_node(tmp_path / "k")
    with _umask(0o022):
        verdicts = judge_actions_with(ReferenceActions(root, csr_layout=KUBEADM_CSRS), root,
                                      ["KC-CSR-01", "KC-CSR-02"])
    assert verdicts["KC-CSR-01"].status is Status.PASSED, verdicts["KC-CSR-01"].message
    assert verdicts["KC-CSR-02"].status is Status.PASSED, verdicts["KC-CSR-02"].message  # 0755 folders: kubeadm's


def test_kc_csr_02_passes_kubeadms_own_folder_modes(tmp_path: Path) -> None:
    root = make_node(tmp_path / "k")
    with _umask(0o022):
        verdicts = judge_actions_with(ReferenceActions(root, csr_layout=KUBEADM_CSRS), root, ["KC-CSR-02"])
    assert verdicts["KC-CSR-02"].status is Status.PASSED, verdicts["KC-CSR-02"].message


def test_the_csr_folder_reader_names_every_request(reference_tree: InitResult, key_pool: KeyPool,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "csr"
    generate_kubeadm_csrs(reference_tree.root, out / "pki", out, keys=key_pool)
    folder = load_csr_dir(out)
    assert folder.problems == [] and folder.unnamed == []
    assert sorted(folder.csrs) == sorted(["apiserver", "apiserver-kubelet-client", "front-proxy-client", "etcd-server",
                                          "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client",
                                          *KUBECONFIGS])
    for record in folder.csrs.values():
        assert record.key is not None and record.key.public.spki_sha256 == record.public.spki_sha256


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = kubecert_cli.main(["reference", "pki", "generate-csr", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_has_both_forms(reference_tree: InitResult, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    root = str(reference_tree.root)
    out = tmp_path / "csr"
    code, text, err = _run(capsys, "--dir", root, "--cert-dir", str(out / "pki"), "--kubeconfig-dir", str(out))
    assert (code, err) == (0, "")
    assert text.splitlines()[0] == f"generating keys and CSRs in {out / 'pki'}"
    assert (out / "pki/etcd/server.csr").is_file() and (out / "kubelet.conf.csr").is_file()
    assert "PRIVATE KEY" not in text
    flat = tmp_path / "flat"
    assert _run(capsys, "--dir", root, "--csr-dir", str(flat))[0] == 0
    assert (flat / "etcd-server.csr").is_file() and (flat / "admin.conf.key").is_file()
    for argv in (["--csr-dir", str(tmp_path / "a"), "--cert-dir", str(tmp_path / "b")],
                 ["--cert-dir", str(tmp_path / "b")], []):
        code, text, err = _run(capsys, "--dir", root, *argv)
        assert (code, text) == (3, "")
        assert "give --csr-dir DIR (the seed's CSR-only form) or both --cert-dir and --kubeconfig-dir" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")
def test_openssl_verifies_every_request(reference_tree: InitResult, tmp_path: Path) -> None:
    out = tmp_path / "csr"
    generate_kubeadm_csrs(reference_tree.root, out / "pki", out, keys=FreshKeys())
    for path in sorted(out.rglob("*.csr")):
        done = subprocess.run([OPENSSL or "openssl", "req", "-in", str(path), "-noout", "-verify"],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0 and "verify OK" in done.stdout + done.stderr, (path, done.stderr)

