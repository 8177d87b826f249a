"""Each named fault changes exactly what it says, and makes its rule fail (and no rule it does not declare)."""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubecert.reference.pki import (
    FAULTS,
    InitOptions,
    InitResult,
    KeyPool,
    PkiTree,
    ReferenceUsageError,
    apply_fault,
    fault_names,
    init_pki,
    load_private_key,
    public_key_pem,
)
from kubecert.reference.pki.faults import FOREIGN_NAMES_ONLY, UNKNOWN_CRITICAL_OID
from kubecert.reference.pki.issue import cert_pem
from kubecert.reference.pki.kubeconfig import current_cluster, encode_data
from kubecert.reference.pki.kubelet import KubeletTree

from support import judge, not_passing

DAY = dt.timedelta(days=1)
BACKDATE = dt.timedelta(minutes=5)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file():
            info = path.stat()
            found[str(path.relative_to(root))] = (path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_uid)
    return found


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType:
    return cert.extensions.get_extension_for_class(kind).value


def _dns(cert: x509.Certificate) -> list[str]:
    return _ext(cert, x509.SubjectAlternativeName).get_values_for_type(x509.DNSName)  # type: ignore[attr-defined]


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _same_key(cert: x509.Certificate, before: x509.Certificate) -> bool:
    return public_key_pem(cert.public_key()) == public_key_pem(before.public_key())  # type: ignore[arg-type]


# What each fault must have done, read back with cryptography: (tree after, tree before, now).
Check = Callable[[PkiTree, PkiTree, dt.datetime], None]


def _leaf_400_days(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("apiserver")
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == 400 * DAY + BACKDATE
    assert _same_key(cert, before.cert("apiserver"))
    cert.verify_directly_issued_by(after.cert("ca"))


def _ca_20_years(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    ca = after.cert("front-proxy-ca")
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == 7300 * DAY + BACKDATE
    assert ca.subject == before.cert("front-proxy-ca").subject
    after.cert("front-proxy-client").verify_directly_issued_by(ca)  # same key: the leaf still verifies


def _leaf_outlives_ca(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    ca = after.cert("etcd-ca")
    old = before.cert("etcd-ca")
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == old.not_valid_after_utc - old.not_valid_before_utc
    assert ca.not_valid_before_utc <= now < ca.not_valid_after_utc  # still valid
    for name in ("etcd-server", "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client"):
        leaf = after.cert(name)
        assert leaf.not_valid_after_utc > ca.not_valid_after_utc
        leaf.verify_directly_issued_by(ca)


def _expired_leaf(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("front-proxy-client")
    assert cert.not_valid_after_utc < now
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == 365 * DAY + BACKDATE


def _not_yet_valid(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("etcd-healthcheck-client")
    assert cert.not_valid_before_utc > now
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == 365 * DAY + BACKDATE


def _expiring_soon(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("apiserver-kubelet-client")
    assert 9 * DAY < cert.not_valid_after_utc - now <= 10 * DAY


def _missing(*paths: str) -> Check:
    def check(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
        for path in paths:
            assert not (after.root / path).exists()
            assert (before.root / path).exists()

    return check


def _sa_key_mismatch(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    sa_key = load_private_key(after.sa_key_path.read_bytes())
    assert after.sa_pub_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert after.sa_pub_path.read_bytes() != public_key_pem(sa_key)
    assert stat.S_IMODE(after.sa_pub_path.stat().st_mode) == 0o600


def _wrong_issuer(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert, wrong = after.cert("apiserver"), after.cert("front-proxy-ca")
    assert cert.issuer == wrong.subject
    cert.verify_directly_issued_by(wrong)
    assert _ext(cert, x509.AuthorityKeyIdentifier).key_identifier == _ext(  # type: ignore[attr-defined]
        wrong, x509.SubjectKeyIdentifier).digest  # type: ignore[attr-defined]
    assert _dns(cert) == _dns(before.cert("apiserver"))


def _ca_not_ca(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    ca = after.cert("etcd-ca")
    assert not _ext(ca, x509.BasicConstraints).ca  # type: ignore[attr-defined]
    assert _ext(ca, x509.SubjectKeyIdentifier) == _ext(before.cert("etcd-ca"), x509.SubjectKeyIdentifier)
    after.cert("etcd-server").verify_directly_issued_by(ca)


def _ca_without_certsign(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    ca = after.cert("etcd-ca")
    assert _ext(ca, x509.BasicConstraints).ca  # type: ignore[attr-defined]
    assert not _ext(ca, x509.KeyUsage).key_cert_sign  # type: ignore[attr-defined]


def _leaf_is_ca(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert _ext(after.cert("apiserver"), x509.BasicConstraints).ca  # type: ignore[attr-defined]


def _wrong_eku(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert list(_ext(after.cert("apiserver"), x509.ExtendedKeyUsage)) == [  # type: ignore[call-overload]
        ExtendedKeyUsageOID.CLIENT_AUTH]


def _leaf_unknown_critical_extension(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert, was = after.cert("apiserver"), before.cert("apiserver")
    unknown = cert.extensions.get_extension_for_oid(UNKNOWN_CRITICAL_OID)
    assert unknown.critical and isinstance(unknown.value, x509.UnrecognizedExtension)
    cert.verify_directly_issued_by(after.cert("ca"))
    assert _dns(cert) == _dns(was) and _ext(cert, x509.ExtendedKeyUsage) == _ext(was, x509.ExtendedKeyUsage)
    assert len(cert.extensions) == len(was.extensions) + 1


def _ca_name_constraints(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    ca, was = after.cert("ca"), before.cert("ca")
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical and constraints.value == FOREIGN_NAMES_ONLY
    assert ca.subject.public_bytes() == was.subject.public_bytes()  # the leaves' issuer, byte for byte
    assert public_key_pem(ca.public_key()) == public_key_pem(was.public_key())  # type: ignore[arg-type]
    assert (ca.not_valid_before_utc, ca.not_valid_after_utc) == (was.not_valid_before_utc, was.not_valid_after_utc)
    after.cert("apiserver").verify_directly_issued_by(ca)  # its leaves still verify by signature
    for name in ("admin.conf", "controller-manager.conf", "kubelet.conf", "scheduler.conf", "super-admin.conf"):
        data = current_cluster(after.kubeconfig(name))["certificate-authority-data"]
        assert data == encode_data(cert_pem(ca)), name


def _mismatched_key(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert public_key_pem(after.key("apiserver")) != public_key_pem(after.cert("apiserver").public_key())  # type: ignore[arg-type]
    assert after.cert("apiserver") == before.cert("apiserver")


def _weak_key(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("front-proxy-client")
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 1024
    assert public_key_pem(after.key("front-proxy-client")) == public_key_pem(public)


def _sha1_signature(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert isinstance(after.cert("apiserver-etcd-client").signature_hash_algorithm, hashes.SHA1)


def _wrong_cn(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("apiserver-kubelet-client")
    assert _cn(cert) == "kubelet-client"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "kubeadm:cluster-admins"


def _dropped_san(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert _dns(after.cert("apiserver")) == [n for n in _dns(before.cert("apiserver")) if n != "kubernetes.default"]


def _endpoint_san_missing(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    for name in ("admin.conf", "super-admin.conf", "kubelet.conf"):
        assert current_cluster(after.kubeconfig(name))["server"] == "https://k8s-api.example.internal:6443"
    for name in ("controller-manager.conf", "scheduler.conf"):  # the node's own address, as kubeadm writes them
        assert current_cluster(after.kubeconfig(name))["server"] == "https://10.0.0.10:6443"
    assert _dns(after.cert("apiserver")) == _dns(before.cert("apiserver"))  # the endpoint's host is not there
    assert "k8s-api.example.internal" not in _dns(after.cert("apiserver"))
    assert after.cert("apiserver").serial_number != before.cert("apiserver").serial_number


def _etcd_san_missing(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    san = _ext(after.cert("etcd-server"), x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.DNSName) == ["cp-1"]  # type: ignore[attr-defined]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.10", "::1"]  # type: ignore[attr-defined]


def _mode(path: str, mode: int) -> Check:
    def check(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
        assert stat.S_IMODE((after.root / path).stat().st_mode) == mode

    return check


def _foreign_owner(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    info = after.cert_path("apiserver").stat()
    assert (info.st_uid, info.st_gid) == (65534, 65534)


def _kubeconfig_foreign_ca(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert, key = after.kubeconfig_client("admin.conf")
    ca = after.cert("ca")
    assert cert.issuer == ca.subject  # same name, other key
    with pytest.raises(Exception):  # noqa: B017, PT011 - cryptography's InvalidSignature
        cert.verify_directly_issued_by(ca)
    assert public_key_pem(key) == public_key_pem(cert.public_key())  # type: ignore[arg-type]
    assert after.kubeconfig_ca("admin.conf") == ca


def _kubeconfig_wrong_ca_data(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    data = after.kubeconfig_ca("controller-manager.conf")
    assert data != after.cert("ca")
    assert _cn(data) == "kubernetes"
    after.kubeconfig_client("controller-manager.conf")[0].verify_directly_issued_by(after.cert("ca"))


def _kubeconfig_wrong_identity(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert, _ = after.kubeconfig_client("scheduler.conf")
    assert _cn(cert) == "system:kube-controller-manager"
    cert.verify_directly_issued_by(after.cert("ca"))


def _kubelet_conf_embedded(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert, _ = after.kubeconfig_client("kubelet.conf")
    assert _cn(cert) == "system:node:cp-1"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    cert.verify_directly_issued_by(after.cert("ca"))
    user = after.kubeconfig("kubelet.conf")["users"][0]["user"]
    assert set(user) == {"client-certificate-data", "client-key-data"}


def _ca_key_mismatch(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert public_key_pem(after.key("front-proxy-ca")) != public_key_pem(after.cert("front-proxy-ca").public_key())  # type: ignore[arg-type]


def _kubelet_client(tree: PkiTree) -> x509.Certificate:
    return KubeletTree(tree.root).current("client")[0]


def _client_issued(days_ago: int, *, lifetime_days: int = 365) -> Check:
    """The kubelet's client certificate signed by ca for this node as the CSR signer would, ``days_ago``."""
    def check(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
        cert = _kubelet_client(after)
        issued = now.replace(microsecond=0) - days_ago * DAY
        assert cert.not_valid_before_utc == issued - BACKDATE
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == lifetime_days * DAY
        assert _cn(cert) == "system:node:cp-1"
        cert.verify_directly_issued_by(after.cert("ca"))
        assert _same_key(cert, _kubelet_client(before))

    return check


def _kubelet_current_not_newest(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    kubelet = KubeletTree(after.root)
    dated = sorted(path.name for path in kubelet.pki_dir.glob("kubelet-client-2*.pem"))
    assert len(dated) == 2
    assert os.readlink(kubelet.current_path("client")) == dated[0]  # the older
    _client_issued(200)(after, before, now)


def _kubelet_client_wrong_node(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = _kubelet_client(after)
    assert _cn(cert) == "system:node:cp-9"
    cert.verify_directly_issued_by(after.cert("ca"))
    assert _same_key(cert, _kubelet_client(before))


def _kubelet_rotation(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert KubeletTree(after.root).config()["rotateCertificates"] is False
    assert KubeletTree(before.root).config()["rotateCertificates"] is True


def _kubelet_serving_expired(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    kubelet = KubeletTree(after.root)
    leaf, signer = x509.load_pem_x509_certificates(kubelet.serving_cert_path.read_bytes())
    assert leaf.not_valid_after_utc < now
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == 365 * DAY
    leaf.verify_directly_issued_by(signer)  # the kubelet's throw-away CA, in the same file
    assert public_key_pem(load_private_key(kubelet.serving_key_path.read_bytes())) == public_key_pem(leaf.public_key())  # type: ignore[arg-type]


def _kubelet_serving_other_node(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    kubelet = KubeletTree(after.root)
    assert kubelet.config()["serverTLSBootstrap"] is True
    cert, key = kubelet.current("server")
    assert _cn(cert) == "system:node:cp-9"
    assert _dns(cert) == ["cp-9"]
    cert.verify_directly_issued_by(after.cert("ca"))
    assert public_key_pem(key) == public_key_pem(cert.public_key())  # type: ignore[arg-type]


def _kubelet_config_owner(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    info = KubeletTree(after.root).config_path.stat()
    assert (info.st_uid, info.st_gid) == (65534, 65534)


CHECKS: dict[str, Check] = {
    "leaf-400-days": _leaf_400_days,
    "ca-20-years": _ca_20_years,
    "leaf-outlives-ca": _leaf_outlives_ca,
    "expired-leaf": _expired_leaf,
    "not-yet-valid": _not_yet_valid,
    "expiring-soon": _expiring_soon,
    "missing-ca": _missing("pki/front-proxy-ca.crt"),
    "missing-leaf": _missing("pki/front-proxy-client.crt", "pki/front-proxy-client.key"),
    "missing-kubeconfig": _missing("scheduler.conf"),
    "sa-key-mismatch": _sa_key_mismatch,
    "wrong-issuer": _wrong_issuer,
    "ca-not-ca": _ca_not_ca,
    "ca-without-certsign": _ca_without_certsign,
    "leaf-is-ca": _leaf_is_ca,
    "wrong-eku": _wrong_eku,
    "leaf-unknown-critical-extension": _leaf_unknown_critical_extension,
    "ca-name-constraints": _ca_name_constraints,
    "mismatched-key": _mismatched_key,
    "weak-key": _weak_key,
    "sha1-signature": _sha1_signature,
    "wrong-cn": _wrong_cn,
    "dropped-san": _dropped_san,
    "endpoint-san-missing": _endpoint_san_missing,
    "etcd-san-missing": _etcd_san_missing,
    "loose-key-mode": _mode("pki/apiserver.key", 0o644),
    "loose-cert-mode": _mode("pki/ca.crt", 0o666),
    "foreign-owner": _foreign_owner,
    "kubeconfig-foreign-ca": _kubeconfig_foreign_ca,
    "kubeconfig-wrong-ca-data": _kubeconfig_wrong_ca_data,
    "kubeconfig-wrong-identity": _kubeconfig_wrong_identity,
    "kubelet-conf-embedded": _kubelet_conf_embedded,
    "ca-key-mismatch": _ca_key_mismatch,
    "kubelet-rotation-off": _kubelet_rotation,
    "kubelet-current-not-newest": _kubelet_current_not_newest,
    "kubelet-client-wrong-node": _kubelet_client_wrong_node,
    "kubelet-client-not-rotated": _client_issued(330),
    "kubelet-client-outlives-signing": _client_issued(0, lifetime_days=400),
    "kubelet-serving-expired": _kubelet_serving_expired,
    "kubelet-serving-other-node": _kubelet_serving_other_node,
    "kubelet-key-group-readable": _mode("kubelet/pki/kubelet.key", 0o640),
    "kubelet-config-foreign-owner": _kubelet_config_owner,
}


def _changed_as_declared(changed: Iterable[str], declared: Iterable[str]) -> bool:
    """Every changed file is one the fault declares, and every declared file changed; a declared name may be
    a pattern, for the kubelet's files named after the time they were written."""
    changed, declared = set(changed), set(declared)
    return (all(any(fnmatch.fnmatchcase(path, name) for name in declared) for path in changed)
            and all(any(fnmatch.fnmatchcase(path, name) for path in changed) for name in declared))

ROOT = os.geteuid() == 0


def test_every_fault_is_checked_here_and_described() -> None:
    assert set(CHECKS) == set(FAULTS)
    assert fault_names() == tuple(sorted(FAULTS))
    for name, fault in FAULTS.items():
        assert fault.name == name
        for rule in (fault.rule, *fault.also_fails, *fault.may_also_fail):
            assert re.fullmatch(r"KC-[A-Z0-9]+-\d{2}", rule), (name, rule)
        assert fault.offender in fault.files
        assert fault.description
        assert bool(fault.note) == bool(fault.also_fails or fault.may_also_fail), name


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_changes_what_it_says_and_nothing_else(
    reference_copy: Path, reference_tree: InitResult, key_pool: KeyPool, name: str
) -> None:
    fault = FAULTS[name]
    if fault.needs_root and not ROOT:
        pytest.skip("changing a file's owner needs root")
    now = dt.datetime.now(dt.UTC)
    before = _snapshot(reference_copy)
    assert apply_fault(reference_copy, name, keys=key_pool, now=now) is fault
    after = _snapshot(reference_copy)
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    assert _changed_as_declared(changed, fault.files), (sorted(changed), fault.files)
    CHECKS[name](PkiTree(reference_copy), PkiTree(reference_tree.root), now)


@pytest.fixture(scope="module")
def ecdsa_tree(tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool) -> InitResult:
    """The reference tree with P-256 keys: the inventory loader reads it 15 times faster than RSA (whose
    private keys it validates), and no rule's verdict depends on the key type except for weak keys."""
    root = tmp_path_factory.mktemp("judged") / "kubernetes"
    return init_pki(root, InitOptions(key_algorithm="ECDSA-P256"), keys=key_pool, now=dt.datetime.now(dt.UTC))


@pytest.fixture
def ecdsa_copy(ecdsa_tree: InitResult, tmp_path: Path) -> Path:
    copy = tmp_path / "kubernetes"
    shutil.copytree(ecdsa_tree.root, copy, symlinks=True)  # the kubelet's current links stay links
    return copy


def test_the_reference_passes_every_rule(reference_tree: InitResult, ecdsa_tree: InitResult) -> None:
    assert not_passing(judge(reference_tree.root)) == {}
    assert not_passing(judge(ecdsa_tree.root)) == {}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_fails_its_rule_and_only_the_rules_it_declares(ecdsa_copy: Path, key_pool: KeyPool, name: str) -> None:
    fault = FAULTS[name]
    if fault.needs_root and not ROOT:
        pytest.skip("changing a file's owner needs root")
    apply_fault(ecdsa_copy, name, keys=key_pool, now=dt.datetime.now(dt.UTC))
    failing = not_passing(judge(ecdsa_copy))
    assert fault.rule in failing, failing
    assert set(fault.also_fails) <= set(failing), failing
    assert set(failing) <= {fault.rule, *fault.also_fails, *fault.may_also_fail}, failing


def test_unknown_fault_is_a_usage_error(reference_copy: Path, key_pool: KeyPool) -> None:
    with pytest.raises(ReferenceUsageError, match="unknown fault 'leaf-401-days'; known faults: ca-20-years"):
        apply_fault(reference_copy, "leaf-401-days", keys=key_pool, now=dt.datetime.now(dt.UTC))


def test_changing_owners_needs_root(reference_copy: Path, key_pool: KeyPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ReferenceUsageError, match="only root"):
        apply_fault(reference_copy, "foreign-owner", keys=key_pool, now=dt.datetime.now(dt.UTC))


def test_a_fault_needing_absent_files_says_so(tmp_path: Path, key_pool: KeyPool) -> None:
    options = InitOptions(external_etcd=True, key_algorithm="ECDSA-P256")
    root = init_pki(tmp_path / "k", options, keys=key_pool, now=dt.datetime.now(dt.UTC)).root
    with pytest.raises(ReferenceUsageError, match=r"cannot be applied: .*etcd/ca\.crt is not in the tree"):
        apply_fault(root, "leaf-outlives-ca", keys=key_pool, now=dt.datetime.now(dt.UTC))


def test_faults_work_on_ecdsa_trees(tmp_path: Path, key_pool: KeyPool) -> None:
    root = init_pki(tmp_path / "k", InitOptions(key_algorithm="ECDSA-P384"), keys=key_pool,
                    now=dt.datetime.now(dt.UTC)).root
    for name in ("sha1-signature", "mismatched-key", "kubeconfig-foreign-ca", "kubelet-conf-embedded"):
        apply_fault(root, name, keys=key_pool, now=dt.datetime.now(dt.UTC))
    tree = PkiTree(root)
    assert isinstance(tree.cert("apiserver-etcd-client").signature_hash_algorithm, hashes.SHA1)
    assert tree.kubeconfig_client("kubelet.conf")[1].key_size == 384
