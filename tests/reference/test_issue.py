"""Issuing a CA and a leaf exactly as kubeadm v1.31+ does."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubecert.reference.pki.issue import (
    BACKDATE,
    KUBEADM_CA_DAYS,
    issue_ca,
    issue_leaf,
    sign,
    template_of,
)
from kubecert.reference.pki.keys import KeyPool
from kubecert.reference.pki.legacy import sign_sha1

NOW = dt.datetime(2026, 5, 15, 13, 3, 27, 123456, tzinfo=dt.UTC)
START = NOW.replace(microsecond=0)


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_class(kind)


def test_ca_is_kubeadms(key_pool: KeyPool) -> None:
    key = key_pool.new_key("ECDSA-P256")
    ca = issue_ca(cn="kubernetes", key=key, now=NOW, ca_days=KUBEADM_CA_DAYS)
    assert 0 < ca.serial_number < 2**63
    assert ca.subject.rfc4514_string() == "CN=kubernetes"
    assert ca.issuer == ca.subject
    assert ca.not_valid_before_utc == START - dt.timedelta(minutes=5)
    assert ca.not_valid_after_utc == START + dt.timedelta(days=3650)
    usage = _ext(ca, x509.KeyUsage)
    assert usage.critical
    assert isinstance(usage.value, x509.KeyUsage)
    assert usage.value.digital_signature
    assert usage.value.key_encipherment
    assert usage.value.key_cert_sign
    assert not usage.value.crl_sign
    constraints = _ext(ca, x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value == x509.BasicConstraints(ca=True, path_length=None)
    assert _ext(ca, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert _ext(ca, x509.SubjectAlternativeName).value == x509.SubjectAlternativeName([x509.DNSName("kubernetes")])
    with pytest.raises(x509.ExtensionNotFound):
        _ext(ca, x509.AuthorityKeyIdentifier)
    with pytest.raises(x509.ExtensionNotFound):
        _ext(ca, x509.ExtendedKeyUsage)
    ca.verify_directly_issued_by(ca)


def test_leaf_is_kubeadms(key_pool: KeyPool) -> None:
    ca_key, key = key_pool.new_key("ECDSA-P256"), key_pool.new_key("ECDSA-P256")
    ca = issue_ca(cn="kubernetes", key=ca_key, now=NOW)
    leaf = issue_leaf(
        ca, ca_key, cn="kube-apiserver-kubelet-client", orgs=("kubeadm:cluster-admins",),
        dns=("kubernetes", "cp-1", "kubernetes", "a.example"), ips=("10.96.0.1", "10.0.0.10", "10.96.0.1", "::1"),
        eku=("serverAuth", "clientAuth"), key=key, now=NOW,
    )
    leaf.verify_directly_issued_by(ca)
    assert 0 < leaf.serial_number < 2**63
    assert leaf.not_valid_before_utc == START - BACKDATE
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == dt.timedelta(days=365, minutes=5)
    # Go's pkix.Name order: O before CN; PrintableString where the text allows it (':' is allowed).
    assert [a.oid for a in leaf.subject] == [NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME]
    assert all(a._type == _ASN1Type.PrintableString for a in leaf.subject)
    usage = _ext(leaf, x509.KeyUsage)
    assert usage.critical
    assert isinstance(usage.value, x509.KeyUsage)
    assert usage.value.digital_signature
    assert usage.value.key_encipherment
    assert not usage.value.key_cert_sign
    assert list(_ext(leaf, x509.ExtendedKeyUsage).value) == [  # type: ignore[call-overload]
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    constraints = _ext(leaf, x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value == x509.BasicConstraints(ca=False, path_length=None)
    aki = _ext(leaf, x509.AuthorityKeyIdentifier).value
    assert isinstance(aki, x509.AuthorityKeyIdentifier)
    assert aki.key_identifier == x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()).digest
    assert aki.authority_cert_issuer is None
    with pytest.raises(x509.ExtensionNotFound):
        _ext(leaf, x509.SubjectKeyIdentifier)
    san = _ext(leaf, x509.SubjectAlternativeName).value
    assert isinstance(san, x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.DNSName) == ["a.example", "cp-1", "kubernetes"]  # set, sorted
    assert san.get_values_for_type(x509.IPAddress) == [  # first occurrence wins, order kept
        ipaddress.ip_address("10.96.0.1"), ipaddress.ip_address("10.0.0.10"), ipaddress.ip_address("::1"),
    ]
    # Go's extension order.
    assert [e.oid for e in leaf.extensions] == [
        x509.KeyUsage.oid, x509.ExtendedKeyUsage.oid, x509.BasicConstraints.oid,
        x509.AuthorityKeyIdentifier.oid, x509.SubjectAlternativeName.oid,
    ]


def test_client_leaf_has_no_san_extension(key_pool: KeyPool) -> None:
    ca_key = key_pool.new_key("ECDSA-P256")
    ca = issue_ca(cn="etcd-ca", key=ca_key, now=NOW)
    leaf = issue_leaf(ca, ca_key, cn="kube-etcd-healthcheck-client", eku=("clientAuth",),
                      key=key_pool.new_key("ECDSA-P256").public_key(), now=NOW)
    with pytest.raises(x509.ExtensionNotFound):
        _ext(leaf, x509.SubjectAlternativeName)
    assert leaf.subject.rfc4514_string() == "CN=kube-etcd-healthcheck-client"


@pytest.mark.parametrize(("algorithm", "digest"), [("RSA-2048", "sha256"), ("ECDSA-P256", "sha256"),
                                                   ("ECDSA-P384", "sha384")])
def test_signature_hash_is_gos_choice_for_the_issuer(key_pool: KeyPool, algorithm: str, digest: str) -> None:
    ca_key = key_pool.new_key(algorithm)
    ca = issue_ca(cn="front-proxy-ca", key=ca_key, now=NOW)
    leaf = issue_leaf(ca, ca_key, cn="front-proxy-client", eku=("clientAuth",),
                      key=key_pool.new_key("ECDSA-P256"), now=NOW)
    assert ca.signature_hash_algorithm is not None
    assert ca.signature_hash_algorithm.name == digest
    assert leaf.signature_hash_algorithm is not None
    assert leaf.signature_hash_algorithm.name == digest


def test_times_must_be_timezone_aware(key_pool: KeyPool) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        issue_ca(cn="kubernetes", key=key_pool.new_key("ECDSA-P256"), now=dt.datetime(2026, 1, 1))


def test_a_leaf_needs_an_extended_key_usage(key_pool: KeyPool) -> None:
    ca_key = key_pool.new_key("ECDSA-P256")
    ca = issue_ca(cn="kubernetes", key=ca_key, now=NOW)
    with pytest.raises(ValueError, match="extended key usage"):
        issue_leaf(ca, ca_key, cn="x", eku=(), key=ca_key, now=NOW)


def test_template_of_gives_back_what_renewal_copies(key_pool: KeyPool) -> None:
    ca_key, key = key_pool.new_key("ECDSA-P256"), key_pool.new_key("ECDSA-P256")
    ca = issue_ca(cn="etcd-ca", key=ca_key, now=NOW)
    leaf = issue_leaf(ca, ca_key, cn="cp-1", dns=("localhost", "cp-1"), ips=("10.0.0.10", "127.0.0.1", "::1"),
                      eku=("serverAuth", "clientAuth"), key=key, now=NOW)
    template = template_of(leaf)
    assert (template.cn, template.orgs, template.dns, template.eku) == (
        "cp-1", (), ("cp-1", "localhost"), ("serverAuth", "clientAuth"))
    assert [str(ip) for ip in template.ips] == ["10.0.0.10", "127.0.0.1", "::1"]
    assert (template.is_ca, template.key_cert_sign, template.basic_constraints, template.subject_key_id) == (
        False, False, True, False)
    assert template.serial is None  # a re-issue gets a new serial
    again = sign(template, public_key=key.public_key(), signer_key=ca_key, issuer=ca)
    assert again.serial_number != leaf.serial_number
    assert [e.value for e in again.extensions] == [e.value for e in leaf.extensions]
    assert template_of(issue_ca(cn="etcd-ca", key=ca_key, now=NOW)).is_ca


@pytest.mark.parametrize("algorithm", ["RSA-2048", "ECDSA-P256"])
def test_sha1_signatures_for_the_fault(key_pool: KeyPool, algorithm: str) -> None:
    ca_key, key = key_pool.new_key(algorithm), key_pool.new_key("ECDSA-P256")
    ca = issue_ca(cn="etcd-ca", key=ca_key, now=NOW)
    leaf = issue_leaf(ca, ca_key, cn="kube-apiserver-etcd-client", eku=("clientAuth",), key=key, now=NOW)
    weak = sign_sha1(dataclasses.replace(template_of(leaf)), public_key=key.public_key(), signer_key=ca_key, issuer=ca)
    assert isinstance(weak.signature_hash_algorithm, hashes.SHA1)
    assert weak.subject == leaf.subject
    assert [e.value for e in weak.extensions] == [e.value for e in leaf.extensions]
    public = ca_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(weak.signature, weak.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(weak.signature, weak.tbs_certificate_bytes, ec.ECDSA(hashes.SHA1()))  # noqa: S303
