"""Chains are validated as Go's crypto/x509 in the components validates them (RFC 5280, through cryptography's
path validator): a certificate every TLS client refuses is never judged passed, and kubeadm's real
certificates, old ones included, still pass.

KC-X509-01 judges kubeadm's leaves, KC-KCFG-01 the kubeconfigs' clients, KC-KLT-01/03 the kubelet's
certificates; each validates servers as servers for one of their own SANs and clients as clients.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from kubecert import layout
from kubecert.inventory.model import CertRecord, Role
from kubecert.reference.pki import KeyPool, PkiTree, apply_fault
from kubecert.reference.pki.issue import CertTemplate, cert_pem, issue_ca, sign, template_of
from kubecert.reference.pki.kubeconfig import current_user, encode_data
from kubecert.reference.pki.kubelet import KubeletTree, combined_pem
from kubecert.rules import Status
from kubecert.rules.chains import refused, validate

from support import judge, not_passing

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
UNKNOWN = x509.ObjectIdentifier("2.25.311832290870305327185911346364302131543")


def _critical_unknown() -> x509.Extension[x509.ExtensionType]:
    return x509.Extension(UNKNOWN, True, x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"))


def _failed_only(verdicts: dict[str, object], rule: str, *words: str) -> str:
    failing = not_passing(verdicts)  # type: ignore[arg-type]
    assert set(failing) == {rule}, failing
    for word in words:
        assert word in failing[rule], (word, failing[rule])
    return failing[rule]


def test_the_chain_faults_fail_kc_x509_01_with_what_a_tls_client_says(reference_copy: Path,
                                                                         key_pool: KeyPool) -> None:
    apply_fault(reference_copy, "leaf-unknown-critical-extension", keys=key_pool, now=NOW)
    verdicts = judge(reference_copy)
    _failed_only(verdicts, "KC-X509-01", "apiserver", "signed by ca, but a TLS client refuses its chain",
                 "as a server", "unaccounted-for critical extension")


def test_a_ca_whose_name_constraints_leave_out_the_apiservers_names_fails_kc_x509_01(reference_copy: Path,
                                                                                     key_pool: KeyPool) -> None:
    apply_fault(reference_copy, "ca-name-constraints", keys=key_pool, now=NOW)
    message = _failed_only(judge(reference_copy), "KC-X509-01", "apiserver", "no permitted name constraints")
    assert "apiserver-kubelet-client" not in message  # the CA's clients carry no names: still good


@pytest.mark.parametrize("excluded", [x509.DNSName("kubernetes.default.svc"),
                                      x509.IPAddress(ipaddress.ip_network("10.96.0.0/12"))])
def test_an_excluded_name_or_address_fails_kc_x509_01(reference_copy: Path, excluded: x509.GeneralName) -> None:
    tree = PkiTree(reference_copy)
    constraint = x509.NameConstraints(permitted_subtrees=None, excluded_subtrees=[excluded])
    template = dataclasses.replace(template_of(tree.cert("ca")),
                                   extra=(x509.Extension(constraint.oid, True, constraint),))
    ca = sign(template, public_key=tree.key("ca").public_key(), signer_key=tree.key("ca"))
    tree.write_cert("ca", ca)
    for spec in layout.KUBECONFIGS:  # every kubeconfig trusts the new ca.crt: only the chain is at fault
        if tree.kubeconfig_path(spec.name).exists():
            document = tree.kubeconfig(spec.name)
            document["clusters"][0]["cluster"]["certificate-authority-data"] = encode_data(cert_pem(ca))
            tree.write_kubeconfig(spec.name, document)
    _failed_only(judge(reference_copy), "KC-X509-01", "apiserver", "excluded name constraint matched SAN")


def test_a_kubeconfig_client_with_an_unknown_critical_extension_fails_kc_kcfg_01(reference_copy: Path) -> None:
    tree = PkiTree(reference_copy)
    cert, key = tree.kubeconfig_client("scheduler.conf")
    template = dataclasses.replace(template_of(cert), extra=(_critical_unknown(),))
    document = tree.kubeconfig("scheduler.conf")
    issued = sign(template, public_key=key.public_key(), signer_key=tree.key("ca"), issuer=tree.cert("ca"))
    current_user(document)["client-certificate-data"] = encode_data(cert_pem(issued))
    tree.write_kubeconfig("scheduler.conf", document)
    _failed_only(judge(reference_copy), "KC-KCFG-01", "scheduler.conf", "the API server refuses its chain",
                 "as a client", "unaccounted-for critical extension")


def test_the_kubelets_client_certificate_is_validated_as_a_client(reference_copy: Path) -> None:
    tree, kubelet = PkiTree(reference_copy), KubeletTree(reference_copy)
    cert, key = kubelet.current("client")
    template = dataclasses.replace(template_of(cert), extra=(_critical_unknown(),))
    issued = sign(template, public_key=key.public_key(), signer_key=tree.key("ca"), issuer=tree.cert("ca"))
    kubelet.current_path("client").resolve().write_bytes(combined_pem(issued, key))
    _failed_only(judge(reference_copy), "KC-KLT-01", "kubelet-client", "the API server refuses its chain")


def test_the_kubelets_self_signed_serving_certificate_is_validated_against_the_ca_in_its_file(
        reference_copy: Path) -> None:
    kubelet = KubeletTree(reference_copy)
    assert not_passing(judge(reference_copy)) == {}  # kubeadm's default: a throw-away CA in kubelet.crt
    serving, signer = x509.load_pem_x509_certificates(kubelet.serving_cert_path.read_bytes())
    ca_key = ec.generate_private_key(ec.SECP256R1())  # the kubelet threw its own away: sign both again
    names = x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.invalid")], excluded_subtrees=None)
    ca_template = dataclasses.replace(template_of(signer), extra=(x509.Extension(names.oid, True, names),))
    ca = sign(ca_template, public_key=ca_key.public_key(), signer_key=ca_key)
    leaf = sign(template_of(serving), public_key=serving.public_key(), signer_key=ca_key, issuer=ca)  # type: ignore[arg-type]
    kubelet.serving_cert_path.write_bytes(cert_pem(leaf) + cert_pem(ca))
    _failed_only(judge(reference_copy), "KC-KLT-03", "kubelet-serving", "a TLS client trusting the CA in its file",
                 "no permitted name constraints")


def _record(cert: x509.Certificate, name: str = "apiserver") -> CertRecord:
    return CertRecord(name=name, role=Role.LEAF, path=name, cert=cert, pem=cert_pem(cert))


def test_a_path_longer_than_its_root_allows_is_refused() -> None:
    root_key, middle_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    start, end = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=300)
    no_intermediates = x509.Extension(x509.BasicConstraints.oid, True, x509.BasicConstraints(ca=True, path_length=0))
    root = sign(CertTemplate(cn="root", not_before=start, not_after=end, is_ca=True, basic_constraints=False,
                             extra=(no_intermediates,)), public_key=root_key.public_key(), signer_key=root_key)
    middle = sign(CertTemplate(cn="middle", not_before=start, not_after=end, is_ca=True),
                  public_key=middle_key.public_key(), signer_key=root_key, issuer=root)
    leaf = sign(CertTemplate(cn="kube-apiserver", not_before=start, not_after=end, dns=("kubernetes",),
                             eku=(layout.SERVER_AUTH,)), public_key=leaf_key.public_key(), signer_key=middle_key,
                issuer=middle)
    why = refused(_record(leaf), [root], [layout.SERVER_AUTH], NOW, intermediates=[middle])
    assert why is not None and "path length constraint violated" in why
    assert refused(_record(leaf), [middle], [layout.SERVER_AUTH], NOW) is None  # trusting the middle CA itself


def test_servers_are_validated_as_servers_and_clients_as_clients(reference_copy: Path) -> None:
    tree = PkiTree(reference_copy)
    ca = tree.cert("ca")
    server = _record(tree.cert("apiserver"))
    client = _record(tree.cert("apiserver-kubelet-client"), "apiserver-kubelet-client")
    assert refused(server, [ca], [layout.SERVER_AUTH], NOW) is None
    assert refused(client, [ca], [layout.CLIENT_AUTH], NOW) is None
    assert "as a client: extendedKeyUsage serverAuth lacks clientAuth" in (
        refused(server, [ca], [layout.CLIENT_AUTH], NOW) or "")
    assert "as a server: no subjectAltName" in (refused(client, [ca], [layout.SERVER_AUTH], NOW) or "")
    stranger = issue_ca(cn="kubernetes", key=tree.key("front-proxy-ca"), now=NOW)  # same name, another key
    assert refused(server, [stranger], [layout.SERVER_AUTH], NOW) is not None


def test_a_chain_is_validated_at_the_runs_clock_and_its_dates_are_left_to_the_date_rules(
        reference_copy: Path) -> None:
    tree = PkiTree(reference_copy)
    server = _record(tree.cert("apiserver"))
    ca = tree.cert("ca")
    # The session made the tree whenever it first needed it, maybe minutes after this module's NOW: validate at
    # a moment inside the tree's dates, read now.
    assert validate(server, [ca], [layout.SERVER_AUTH], dt.datetime.now(dt.UTC)).note == ""
    later = server.not_after + dt.timedelta(days=30)  # --at past the leaf's expiry
    check = validate(server, [ca], [layout.SERVER_AUTH], later)
    assert check.refusal is None and "validated at" in check.note
    verdicts = judge(reference_copy, at=later)
    assert verdicts["KC-X509-01"].status is Status.PASSED and "validated at" in verdicts["KC-X509-01"].message
    assert verdicts["KC-VAL-04"].status is Status.FAILED  # the expiry is judged, by the rule for it
