"""``init_pki`` writes what kubeadm init writes: files, modes, formats, subjects, SANs, dates, kubeconfigs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from kubecert import layout
from kubecert.inventory import load_pki
from kubecert.reference.pki import (
    InitOptions,
    InitResult,
    KeyPool,
    PkiTree,
    ReferenceUsageError,
    ca_days_for_profile,
    init_pki,
    load_private_key,
    public_key_pem,
)
from kubecert.reference.pki.kubeconfig import decode_data

DAY = dt.timedelta(days=1)
BACKDATE = dt.timedelta(minutes=5)

EXPECTED_MODES = {
    ".": 0o755, "pki": 0o755, "pki/etcd": 0o755, "manifests": 0o700,
    "pki/ca.crt": 0o644, "pki/ca.key": 0o600, "pki/apiserver.crt": 0o644, "pki/apiserver.key": 0o600,
    "pki/apiserver-kubelet-client.crt": 0o644, "pki/apiserver-kubelet-client.key": 0o600,
    "pki/front-proxy-ca.crt": 0o644, "pki/front-proxy-ca.key": 0o600,
    "pki/front-proxy-client.crt": 0o644, "pki/front-proxy-client.key": 0o600,
    "pki/apiserver-etcd-client.crt": 0o644, "pki/apiserver-etcd-client.key": 0o600,
    "pki/etcd/ca.crt": 0o644, "pki/etcd/ca.key": 0o600, "pki/etcd/server.crt": 0o644, "pki/etcd/server.key": 0o600,
    "pki/etcd/peer.crt": 0o644, "pki/etcd/peer.key": 0o600,
    "pki/etcd/healthcheck-client.crt": 0o644, "pki/etcd/healthcheck-client.key": 0o600,
    "pki/sa.key": 0o600, "pki/sa.pub": 0o600,
    "admin.conf": 0o600, "super-admin.conf": 0o600, "controller-manager.conf": 0o600, "scheduler.conf": 0o600,
    "kubelet.conf": 0o600, "manifests/kube-apiserver.yaml": 0o600, "manifests/etcd.yaml": 0o600,
    "manifests/kube-controller-manager.yaml": 0o600, "manifests/kube-scheduler.yaml": 0o600,
    # The kubelet's folder (/var/lib/kubelet): kubeadm's config.yaml, the kubelet's certificate store.
    "kubelet": 0o700, "kubelet/config.yaml": 0o644, "kubelet/pki": 0o755,
    "kubelet/pki/kubelet-client-<time>.pem": 0o600, "kubelet/pki/kubelet-client-current.pem": 0o600,
    "kubelet/pki/kubelet.crt": 0o644, "kubelet/pki/kubelet.key": 0o600,
}


def _named(path: Path) -> str:
    """``path`` with the time in a dated kubelet file's name left out: it is the moment the tree was made."""
    return layout.DATED_PEM.sub(lambda match: f"kubelet-{match.group(1)}-<time>.pem", str(path))


def _modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[_named(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)  # a link: what it leads to
    return found


def test_every_file_and_mode_is_kubeadms(reference_tree: InitResult) -> None:
    assert _modes(reference_tree.root) == EXPECTED_MODES
    assert {_named(p) for p in reference_tree.written} == {k for k in EXPECTED_MODES if "." in Path(k).name}


def test_modes_do_not_depend_on_the_umask(tmp_path: Path, key_pool: KeyPool) -> None:
    import os

    old = os.umask(0o077)
    try:
        result = init_pki(tmp_path / "k", InitOptions(key_algorithm="ECDSA-P256"), keys=key_pool,
                          now=dt.datetime.now(dt.UTC))
    finally:
        os.umask(old)
    assert _modes(result.root) == EXPECTED_MODES


def test_pem_blocks_are_kubeadms(reference_tree: InitResult) -> None:
    pki = reference_tree.pki_dir
    for path in pki.rglob("*.crt"):
        assert path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----\n"), path
        assert path.read_bytes().count(b"BEGIN") == 1
    for path in pki.rglob("*.key"):
        assert path.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----\n"), path
    assert (pki / "sa.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert (pki / "sa.pub").read_bytes() == public_key_pem(load_private_key((pki / "sa.key").read_bytes()))


def _san(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return san.get_values_for_type(x509.DNSName), [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]


def _eku(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return ()
    names = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}
    return tuple(names[oid] for oid in usages)


def _subject(cert: x509.Certificate) -> tuple[str, tuple[str, ...]]:
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    orgs = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    return str(cn[0].value), tuple(str(o.value) for o in orgs)


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _aki(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        return None


def test_every_certificate_is_what_layout_says(reference_tree: InitResult) -> None:
    tree = reference_tree.tree
    start = reference_tree.now
    serials = set()
    for spec in layout.CERTS:
        cert = tree.cert(spec.name)
        serials.add(cert.serial_number)
        assert 0 < cert.serial_number < 2**63
        assert _subject(cert) == (spec.common_name("cp-1"), spec.orgs), spec.name
        assert _eku(cert) == spec.eku, spec.name
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical
        assert constraints.value.ca is spec.is_ca
        assert constraints.value.path_length is None
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical
        assert (usage.value.digital_signature, usage.value.key_encipherment) == (True, True)
        assert usage.value.key_cert_sign is spec.is_ca
        assert cert.not_valid_before_utc == start - BACKDATE
        assert cert.signature_hash_algorithm is not None
        assert cert.signature_hash_algorithm.name == "sha256"
        if spec.is_ca:
            assert cert.issuer == cert.subject
            assert _ski(cert) is not None
            assert _aki(cert) is None
            assert _san(cert) == ([spec.cn], [])
            assert cert.not_valid_after_utc - cert.not_valid_before_utc == 3652 * DAY + BACKDATE
            cert.verify_directly_issued_by(cert)
        else:
            ca = tree.cert(spec.ca or "")
            assert cert.issuer == ca.subject
            assert _aki(cert) == _ski(ca)
            assert _ski(cert) is None
            assert cert.not_valid_after_utc - cert.not_valid_before_utc == 365 * DAY + BACKDATE
            cert.verify_directly_issued_by(ca)
        assert tree.key(spec.name).public_key() == cert.public_key()
    assert len(serials) == len(layout.CERTS)


def test_sans_are_kubeadms(reference_tree: InitResult) -> None:
    tree = reference_tree.tree
    assert _san(tree.cert("apiserver")) == (
        ["cp-1", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"],
        ["10.96.0.1", "10.0.0.10"],
    )
    for name in ("etcd-server", "etcd-peer"):
        assert _san(tree.cert(name)) == (["cp-1", "localhost"], ["10.0.0.10", "127.0.0.1", "::1"])
    for name in ("apiserver-kubelet-client", "front-proxy-client", "apiserver-etcd-client", "etcd-healthcheck-client"):
        assert _san(tree.cert(name)) == ([], [])


def test_every_key_in_the_tree_is_distinct(reference_tree: InitResult) -> None:
    assert len(reference_tree.tree.public_keys()) == 10 + 1 + 4  # certificates, sa, embedded kubeconfig keys


def test_kubeconfigs_have_kubeadms_shape(reference_tree: InitResult) -> None:
    tree = reference_tree.tree
    ca_pem = tree.cert_path("ca").read_bytes()
    for spec in layout.KUBECONFIGS:
        text = tree.kubeconfig_path(spec.name).read_text()
        document = yaml.safe_load(text)
        user = spec.common_name("cp-1")
        assert list(document) == [
            "apiVersion", "clusters", "contexts", "current-context", "kind", "preferences", "users"]
        assert (document["apiVersion"], document["kind"], document["preferences"]) == ("v1", "Config", {})
        assert document["clusters"] == [{"cluster": {
            "certificate-authority-data": document["clusters"][0]["cluster"]["certificate-authority-data"],
            "server": "https://10.0.0.10:6443"}, "name": "kubernetes"}]
        assert decode_data(document["clusters"][0]["cluster"]["certificate-authority-data"]) == ca_pem
        context = {"context": {"cluster": "kubernetes", "user": user}, "name": f"{user}@kubernetes"}
        assert document["contexts"] == [context]
        assert document["current-context"] == f"{user}@kubernetes"
        assert [u["name"] for u in document["users"]] == [user]
        credentials = document["users"][0]["user"]
        if spec.embeds_client_cert:
            assert list(credentials) == ["client-certificate-data", "client-key-data"]
            cert, key = tree.kubeconfig_client(spec.name)
            assert _subject(cert) == (user, spec.orgs)
            assert _eku(cert) == ("clientAuth",)
            assert key.public_key() == cert.public_key()
            cert.verify_directly_issued_by(tree.cert("ca"))
            assert cert.not_valid_after_utc - cert.not_valid_before_utc == 365 * DAY + BACKDATE
        else:
            assert spec.name == "kubelet.conf"
            assert credentials == {"client-certificate": "/var/lib/kubelet/pki/kubelet-client-current.pem",
                                   "client-key": "/var/lib/kubelet/pki/kubelet-client-current.pem"}
    assert "preferences: {}\n" in tree.kubeconfig_path("admin.conf").read_text()


def _flags(path: Path) -> tuple[dict[str, str], str]:
    container = yaml.safe_load(path.read_text())["spec"]["containers"][0]
    flags = dict(part[2:].split("=", 1) for part in container["command"][1:])
    return flags, container["image"]


def test_static_pod_manifests_name_the_pki(reference_tree: InitResult) -> None:
    manifests = reference_tree.root / "manifests"
    flags, image = _flags(manifests / "kube-apiserver.yaml")
    assert image == "registry.k8s.io/kube-apiserver:v1.31.0"
    assert flags["advertise-address"] == "10.0.0.10"
    assert flags["service-cluster-ip-range"] == "10.96.0.0/12"
    assert flags["tls-cert-file"] == "/etc/kubernetes/pki/apiserver.crt"
    assert flags["etcd-certfile"] == "/etc/kubernetes/pki/apiserver-etcd-client.crt"
    assert flags["service-account-key-file"] == "/etc/kubernetes/pki/sa.pub"
    flags, image = _flags(manifests / "etcd.yaml")
    assert image.startswith("registry.k8s.io/etcd:")
    assert flags["name"] == "cp-1"
    assert flags["advertise-client-urls"] == "https://10.0.0.10:2379"
    assert flags["cert-file"] == "/etc/kubernetes/pki/etcd/server.crt"
    assert flags["peer-trusted-ca-file"] == "/etc/kubernetes/pki/etcd/ca.crt"


def test_output_lines_are_kubeadms(reference_tree: InitResult) -> None:
    log = reference_tree.log
    assert log[0] == f'[certs] Using certificateDir folder "{reference_tree.pki_dir}"'
    generated = [line.split('"')[1] for line in log if line.startswith("[certs] Generating")]
    assert generated == [
        "ca", "apiserver", "apiserver-kubelet-client", "front-proxy-ca", "front-proxy-client",
        "etcd/ca", "etcd/server", "etcd/peer", "etcd/healthcheck-client", "apiserver-etcd-client", "sa",
    ]
    assert ("[certs] apiserver serving cert is signed for DNS names [cp-1 kubernetes kubernetes.default "
            "kubernetes.default.svc kubernetes.default.svc.cluster.local] and IPs [10.96.0.1 10.0.0.10]") in log
    assert '[kubeconfig] Writing "super-admin.conf" kubeconfig file' in log


def test_the_projects_loader_reads_it_without_problems(reference_tree: InitResult) -> None:
    inventory = load_pki(reference_tree.pki_dir)
    assert inventory.problems == []
    assert set(inventory.certificates) == {spec.name for spec in layout.CERTS}
    assert set(inventory.kubeconfigs) == {spec.name for spec in layout.KUBECONFIGS}
    assert inventory.facts.node_name == "cp-1"


def test_endpoint_extra_sans_and_other_addresses(tmp_path: Path, key_pool: KeyPool) -> None:
    options = InitOptions(
        node_name="node-a", advertise_address="fd00::10", dns_domain="corp.example", service_cidr="10.233.0.0/18",
        control_plane_endpoint="api.corp.example:8443",
        cert_sans=("10.1.2.3", "k8s.corp.example", "Bad_Name", "*.w.example"),
        key_algorithm="ECDSA-P256",
    )
    result = init_pki(tmp_path / "k", options, keys=key_pool, now=dt.datetime.now(dt.UTC))
    tree = result.tree
    assert _san(tree.cert("apiserver")) == (
        ["*.w.example", "api.corp.example", "k8s.corp.example", "kubernetes", "kubernetes.default",
         "kubernetes.default.svc", "kubernetes.default.svc.corp.example", "node-a"],
        ["10.233.0.1", "fd00::10", "10.1.2.3"],
    )
    assert any("'Bad_Name' was not added to the 'apiserver' SAN" in line for line in result.log)
    assert _san(tree.cert("etcd-server")) == (["localhost", "node-a"], ["fd00::10", "127.0.0.1", "::1"])
    servers = {spec.name: tree.kubeconfig(spec.name)["clusters"][0]["cluster"]["server"] for spec in layout.KUBECONFIGS}
    endpoint, local = "https://api.corp.example:8443", "https://[fd00::10]:6443"
    assert servers == {"admin.conf": endpoint, "super-admin.conf": endpoint, "kubelet.conf": endpoint,
                       "controller-manager.conf": local, "scheduler.conf": local}
    assert _flags(tree.manifests_dir / "etcd.yaml")[0]["advertise-client-urls"] == "https://[fd00::10]:2379"
    assert _subject(tree.cert("etcd-peer")) == ("node-a", ())


def test_endpoint_given_as_an_ip_is_an_ip_san(tmp_path: Path, key_pool: KeyPool) -> None:
    options = InitOptions(control_plane_endpoint="192.168.0.100", key_algorithm="ECDSA-P256")
    tree = init_pki(tmp_path / "k", options, keys=key_pool, now=dt.datetime.now(dt.UTC)).tree
    assert _san(tree.cert("apiserver"))[1] == ["10.96.0.1", "10.0.0.10", "192.168.0.100"]
    assert tree.kubeconfig("admin.conf")["clusters"][0]["cluster"]["server"] == "https://192.168.0.100:6443"


def test_external_ca_mode_removes_the_keys(tmp_path: Path, key_pool: KeyPool) -> None:
    options = InitOptions(external_ca=("ca", "front-proxy-ca"), key_algorithm="ECDSA-P256")
    result = init_pki(tmp_path / "k", options, keys=key_pool, now=dt.datetime.now(dt.UTC))
    pki = result.pki_dir
    assert not (pki / "ca.key").exists()
    assert not (pki / "front-proxy-ca.key").exists()
    assert (pki / "etcd/ca.key").exists()
    assert (pki / "ca.crt").exists()
    assert (pki / "apiserver.key").exists()
    assert Path("pki/ca.key") not in result.written
    assert result.tree.cert("apiserver").issuer == result.tree.cert("ca").subject
    assert load_pki(pki).certificates["ca"].key is None


def test_external_etcd_has_no_etcd_pki(tmp_path: Path, key_pool: KeyPool) -> None:
    options = InitOptions(external_etcd=True, super_admin=False, key_algorithm="ECDSA-P256")
    result = init_pki(tmp_path / "k", options, keys=key_pool, now=dt.datetime.now(dt.UTC))
    assert not (result.pki_dir / "etcd").exists()
    assert not (result.pki_dir / "apiserver-etcd-client.crt").exists()
    assert not (result.root / "manifests/etcd.yaml").exists()
    assert not (result.root / "super-admin.conf").exists()
    flags, _ = _flags(result.root / "manifests/kube-apiserver.yaml")
    assert "etcd-certfile" not in flags
    names = {p.name for p in result.pki_dir.iterdir()}
    assert names == {"ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "apiserver-kubelet-client.crt",
                     "apiserver-kubelet-client.key", "front-proxy-ca.crt", "front-proxy-ca.key",
                     "front-proxy-client.crt", "front-proxy-client.key", "sa.key", "sa.pub"}


# RSA-3072/4096 keys take up to seconds each: such a tree shares one key (the test is about the algorithm).
_BIG_RSA_POOL = KeyPool(size=1)


ALGORITHMS = {
    "RSA-2048": (rsa.RSAPrivateKey, 2048, "sha256", b"RSA PRIVATE KEY"),
    "RSA-3072": (rsa.RSAPrivateKey, 3072, "sha256", b"RSA PRIVATE KEY"),
    "RSA-4096": (rsa.RSAPrivateKey, 4096, "sha256", b"RSA PRIVATE KEY"),
    "ECDSA-P256": (ec.EllipticCurvePrivateKey, 256, "sha256", b"EC PRIVATE KEY"),
    "ECDSA-P384": (ec.EllipticCurvePrivateKey, 384, "sha384", b"EC PRIVATE KEY"),
}


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_key_algorithm(tmp_path: Path, key_pool: KeyPool, algorithm: str) -> None:
    kind, size, digest, block = ALGORITHMS[algorithm]
    keys = _BIG_RSA_POOL if algorithm in ("RSA-3072", "RSA-4096") else key_pool
    result = init_pki(tmp_path / "k", InitOptions(key_algorithm=algorithm), keys=keys, now=dt.datetime.now(dt.UTC))
    tree = result.tree
    public_kind = rsa.RSAPublicKey if kind is rsa.RSAPrivateKey else ec.EllipticCurvePublicKey
    for spec in layout.CERTS:
        # The certificates carry the public halves; loading a big RSA private key costs ~0.3 s (validation).
        cert = tree.cert(spec.name)
        assert isinstance(cert.public_key(), public_kind)
        assert cert.public_key().key_size == size  # type: ignore[union-attr]
        assert tree.key_path(spec.name).read_bytes().startswith(b"-----BEGIN " + block)
        assert cert.signature_hash_algorithm is not None
        assert cert.signature_hash_algorithm.name == digest
    assert tree.sa_key_path.read_bytes().startswith(b"-----BEGIN " + block)
    sa_pub = serialization.load_pem_public_key(tree.sa_pub_path.read_bytes())
    assert isinstance(sa_pub, public_kind)
    assert sa_pub.key_size == size


def test_profiles_set_the_ca_validity(tmp_path: Path, key_pool: KeyPool) -> None:
    assert (ca_days_for_profile("kubeadm"), ca_days_for_profile("palette")) == (3650, 3652)
    assert InitOptions().ca_days == 3652  # the reference follows the palette profile
    with pytest.raises(ReferenceUsageError, match="unknown profile"):
        ca_days_for_profile("eks")
    options = InitOptions(ca_days=ca_days_for_profile("kubeadm"), key_algorithm="ECDSA-P256")
    tree = init_pki(tmp_path / "k", options, keys=key_pool, now=dt.datetime.now(dt.UTC)).tree
    ca = tree.cert("ca")
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == 3650 * DAY + BACKDATE


def test_dates_come_from_now_alone(tmp_path: Path, key_pool: KeyPool) -> None:
    now = dt.datetime(2030, 2, 28, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    result = init_pki(tmp_path / "k", InitOptions(key_algorithm="ECDSA-P256"), keys=key_pool, now=now)
    start = dt.datetime(2030, 2, 28, 21, 59, 59, tzinfo=dt.UTC)
    assert result.now == start
    assert result.tree.cert("apiserver").not_valid_before_utc == start - BACKDATE
    assert result.tree.cert("apiserver").not_valid_after_utc == start + 365 * DAY


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (InitOptions(advertise_address="10.0.0"), "advertise address"),
        (InitOptions(node_name="CP_1"), "node name"),
        (InitOptions(service_cidr="10.96.0.0/33"), "service CIDR"),
        (InitOptions(dns_domain="-bad"), "DNS domain"),
        (InitOptions(control_plane_endpoint="api:99999"), "invalid port"),
        (InitOptions(control_plane_endpoint="bad_host"), "neither an IP"),
        (InitOptions(key_algorithm="RSA-1024"), "encryption algorithm"),
        (InitOptions(external_ca=("root-ca",)), "unknown CA"),
        (InitOptions(external_ca=("etcd-ca",), external_etcd=True), "external etcd"),
        (InitOptions(ca_days=0), "positive"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(
    tmp_path: Path, key_pool: KeyPool, options: InitOptions, words: str
) -> None:
    with pytest.raises(ReferenceUsageError, match=words):
        init_pki(tmp_path / "k", options, keys=key_pool, now=dt.datetime.now(dt.UTC))
    assert not (tmp_path / "k").exists()


def test_a_folder_with_files_is_refused(tmp_path: Path, key_pool: KeyPool) -> None:
    (tmp_path / "k").mkdir()
    init_pki(tmp_path / "k", InitOptions(key_algorithm="ECDSA-P256"), keys=key_pool, now=dt.datetime.now(dt.UTC))
    before = sorted(p.name for p in (tmp_path / "k").iterdir())
    with pytest.raises(ReferenceUsageError, match="not an empty directory"):
        init_pki(tmp_path / "k", InitOptions(), keys=key_pool, now=dt.datetime.now(dt.UTC))
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == before


def test_tree_helper_names_kubeadms_paths(tmp_path: Path) -> None:
    tree = PkiTree(tmp_path)
    assert tree.cert_path("etcd-ca") == tmp_path / "pki/etcd/ca.crt"
    assert tree.key_path("etcd-healthcheck-client") == tmp_path / "pki/etcd/healthcheck-client.key"
    assert tree.kubeconfig_path("admin.conf") == tmp_path / "admin.conf"
    assert tree.node_name() is None
    assert ipaddress.ip_address(InitOptions(service_cidr="fd00::/108,10.96.0.0/12").first_service_ip) == \
        ipaddress.ip_address("fd00::1")
