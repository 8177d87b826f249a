"""``kubecert reference pki renew | generate-csr | upgrade``: kubeadm's renewal, its files and its words."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from kubecert import layout
from kubecert.cli import main as kubecert_main
from kubecert.reference.pki import FreshKeys, PkiTree
from kubecert.reference.pki.renew import DONE, renew
from kubecert.reference.pki.upgrade import upgrade

from nodes import checksums, make_node

LEAVES = [spec.name for spec in layout.LEAVES]
KUBECONFIGS = ["admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = kubecert_main(["reference", "pki", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _client(tree: PkiTree, name: str) -> x509.Certificate:
    return tree.kubeconfig_client(name)[0] if name in KUBECONFIGS else tree.cert(name)


def test_renew_all_keeps_the_cas_and_renews_everything_else(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = PkiTree(node)
    before = {name: _client(tree, name) for name in LEAVES + KUBECONFIGS}
    files = checksums(node)
    code, out, err = _run(capsys, "renew", "all", "--dir", str(node))
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"{layout.long_name_of(name)} renewed" for name in layout.RENEWED] + ["", DONE]
    assert "PRIVATE KEY" not in out
    after = checksums(node)
    for ca in layout.CAS:  # the CAs' certificates and keys, byte for byte
        for path in (tree.cert_path(ca.name), tree.key_path(ca.name)):
            assert after[str(path)] == files[str(path)]
    assert after[str(node / "kubelet.conf")] == files[str(node / "kubelet.conf")]
    now = dt.datetime.now(dt.UTC)
    for name, old in before.items():
        new = _client(tree, name)
        assert new.serial_number != old.serial_number, name
        assert new.public_key() != old.public_key(), name
        assert new.subject == old.subject and new.issuer == old.issuer, name
        for kind in (x509.SubjectAlternativeName, x509.ExtendedKeyUsage):
            with contextlib.suppress(x509.ExtensionNotFound):
                assert new.extensions.get_extension_for_class(kind) == old.extensions.get_extension_for_class(kind)
        usage = new.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
        assert abs(new.not_valid_after_utc - (now + dt.timedelta(days=365))) < dt.timedelta(minutes=1), name
        assert new.not_valid_before_utc < now - dt.timedelta(minutes=4)  # backdated 5 minutes, as kubeadm
    # The key on disk (or in the kubeconfig) is the new certificate's.
    _, key = tree.kubeconfig_client("admin.conf")
    assert key.public_key() == tree.kubeconfig_client("admin.conf")[0].public_key()
    assert tree.key("apiserver").public_key() == tree.cert("apiserver").public_key()


def test_renewed_chain_verifies_with_openssl(node: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    renew(node, "all", keys=FreshKeys(), now=dt.datetime.now(dt.UTC))
    pki = node / "pki"
    for leaf, ca in (("apiserver", "ca"), ("front-proxy-client", "front-proxy-ca"), ("etcd/server", "etcd/ca")):
        run = subprocess.run(["openssl", "verify", "-CAfile", str(pki / f"{ca}.crt"), str(pki / f"{leaf}.crt")],
                             capture_output=True, text=True, timeout=30, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_renew_one_changes_only_its_files(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = checksums(node)
    code, out, _ = _run(capsys, "renew", "etcd-peer", "--dir", str(node))
    assert code == 0
    assert out == "certificate for etcd nodes to communicate with each other renewed\n"
    after = checksums(node)
    changed = {path for path in files if files[path] != after[path]}
    assert changed == {str(node / "pki/etcd/peer.crt"), str(node / "pki/etcd/peer.key")}


def test_renewing_a_kubeconfig_keeps_the_rest_of_it(node: Path) -> None:
    tree = PkiTree(node)
    old = tree.kubeconfig("scheduler.conf")
    renew(node, "scheduler.conf", keys=FreshKeys(), now=dt.datetime.now(dt.UTC))
    new = tree.kubeconfig("scheduler.conf")
    assert new["users"][0]["user"]["client-certificate-data"] != old["users"][0]["user"]["client-certificate-data"]
    for document in (old, new):
        del document["users"][0]["user"]["client-certificate-data"], document["users"][0]["user"]["client-key-data"]
    assert new == old  # server, contexts, CA data (ca.crt, unchanged) all kept


def test_external_ca_leaves_are_refused_in_kubeadms_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_node(tmp_path / "k", external_ca=True)
    tree = PkiTree(root)
    apiserver = tree.cert("apiserver")
    code, out, _ = _run(capsys, "renew", "all", "--dir", str(root))
    assert code == 0
    lines = out.splitlines()
    assert "Detected external ca, certificate for serving the Kubernetes API can't be renewed" in lines
    assert ("Detected external ca, certificate embedded in the kubeconfig file for the admin to use and for kubeadm "
            "itself can't be renewed") in lines
    assert "MISSING! certificate embedded in the kubeconfig file for the super-admin" in lines  # a second node
    assert "certificate for serving etcd renewed" in lines and "certificate for the front proxy client renewed" in lines
    assert tree.cert("apiserver") == apiserver
    assert not tree.key_path("ca").exists()


def test_generate_csr_writes_private_files_and_changes_nothing(node: Path, capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    files = checksums(node)
    csr_dir = tmp_path / "csrs" / "out"
    code, out, _ = _run(capsys, "generate-csr", "--dir", str(node), "--csr-dir", str(csr_dir))
    assert code == 0
    assert out.splitlines()[0] == f"generating keys and CSRs in {csr_dir}"
    assert checksums(node) == files
    written = checksums(csr_dir)
    assert written[str(csr_dir)] == ("dir", 0o700)
    names = sorted(path.name for path in csr_dir.iterdir())
    assert names == sorted(f"{name}{suffix}" for name in layout.RENEWED for suffix in (".csr", ".key"))
    assert all(mode == 0o600 for path, (_, mode) in written.items() if path != str(csr_dir))
    tree = PkiTree(node)
    request = x509.load_pem_x509_csr((csr_dir / "apiserver.csr").read_bytes())
    cert = tree.cert("apiserver")
    assert request.is_signature_valid and request.subject == cert.subject
    assert (request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            == cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    with pytest.raises(x509.ExtensionNotFound):  # "it does not specify usages"
        request.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    # Again into the same folder: generate-csr never overwrites a key.
    code, _, err = _run(capsys, "generate-csr", "--dir", str(node), "--csr-dir", str(csr_dir))
    assert code == 3 and "a key or CSR is already there" in err and "Traceback" not in err


def test_upgrade_renews_per_component_and_nothing_when_told_not_to(node: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    files = checksums(node)
    code, out, _ = _run(capsys, "upgrade", "--dir", str(node), "--certificate-renewal=false")
    assert code == 0 and "Renewing" not in out
    assert checksums(node) == files
    tree = PkiTree(node)
    super_admin = tree.kubeconfig_client("super-admin.conf")[0]
    code, out, _ = _run(capsys, "upgrade", "--dir", str(node))
    assert code == 0
    renewing = [line.split()[2] for line in out.splitlines() if "Renewing" in line]
    assert renewing == ["etcd-server", "etcd-peer", "etcd-healthcheck-client", "apiserver",
                        "apiserver-kubelet-client", "front-proxy-client", "apiserver-etcd-client",
                        "controller-manager.conf", "scheduler.conf"]
    after = checksums(node)
    assert after[str(node / "admin.conf")] != files[str(node / "admin.conf")]  # renewed last, without a line
    assert tree.kubeconfig_client("super-admin.conf")[0] == super_admin  # an upgrade leaves it alone
    assert after[str(node / "kubelet.conf")] == files[str(node / "kubelet.conf")]


def test_upgrade_with_external_etcd_leaves_out_etcd(node: Path) -> None:
    (node / "manifests" / "etcd.yaml").unlink()  # kubeadm writes it only for local etcd
    result = upgrade(node, keys=FreshKeys(), now=dt.datetime.now(dt.UTC))
    assert "etcd-server" not in result.renewed and "apiserver-etcd-client" not in result.renewed
    assert not any('"etcd"' in line for line in result.log)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["renew", "kubelet.conf"], "unknown certificate 'kubelet.conf'; expected all or one of: admin.conf"),
        (["renew", "ca"], "unknown certificate 'ca'"),
        (["renew", "all", "--fault", "no-such-fault"], "unknown renew fault 'no-such-fault'; known: ca-rotated"),
        (["renew", "all", "--fault", "csr-for-ca"], "unknown renew fault 'csr-for-ca'"),
        (["upgrade", "--fault", "dropped-san"], "unknown upgrade fault 'dropped-san'; known: renewal-flag-ignored"),
        (["upgrade", "--certificate-renewal=maybe"], "'maybe' is not true or false"),
    ],
)
def test_user_errors_are_one_line_and_exit_3(node: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                             words: str) -> None:
    try:
        code = kubecert_main(["reference", "pki", *argv, "--dir", str(node)])
    except SystemExit as exit_:  # argparse's own errors leave through the usage exit
        code = exit_.code  # type: ignore[assignment]
    _, err = capsys.readouterr()
    assert code == 3
    assert words in err and "Traceback" not in err


def test_a_folder_without_a_pki_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "renew", "all", "--dir", str(tmp_path))
    assert code == 3 and err.strip() == f"kubecert: error: {tmp_path} holds no pki folder; give the folder that " \
                                        "contains pki/"


def test_renew_output_for_missing_files(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (node / "pki" / "front-proxy-client.crt").unlink()
    code, out, _ = _run(capsys, "renew", "front-proxy-client", "--dir", str(node))
    assert (code, out) == (0, "MISSING! certificate for the front proxy client\n")


def test_faults_change_what_they_say(node: Path) -> None:
    tree = PkiTree(node)
    ca = tree.cert("front-proxy-ca")
    renew(node, "all", keys=FreshKeys(), now=dt.datetime.now(dt.UTC), fault="ca-rotated")
    assert tree.cert("front-proxy-ca") != ca
    assert tree.cert("front-proxy-client").issuer == tree.cert("front-proxy-ca").subject
    eku = tree.cert("apiserver").extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]


@pytest.mark.parametrize(("path", "content"), [("admin.conf", b"apiVersion: v1\nusers: [\n"),
                                               ("pki/apiserver.crt", b"not a certificate\n")])
def test_an_unreadable_certificate_is_one_line_naming_the_file(node: Path, capsys: pytest.CaptureFixture[str],
                                                               path: str, content: bytes) -> None:
    (node / path).write_bytes(content)
    code, _, err = _run(capsys, "renew", "all", "--dir", str(node))
    assert code == 3 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"cannot renew {Path(path).name.removesuffix('.crt')}: {node / path} cannot be read" in err
