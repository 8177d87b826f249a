"""Named faults: deliberate misbehaviours planted in an initialized tree, so tests can prove each rule fails.
Those of the kubelet's folder are in kubelet_faults.py; ``FAULTS`` holds both.

A fault is opt-in and never on by default. ``apply_fault`` changes the tree at ``root`` in place (apply
it to a copy) and changes only what the fault needs: certificates are re-signed by the right CA with
their own key, so every other rule still passes where that is possible. Where a fault cannot help
failing another rule too, ``also_fails`` says which; ``may_also_fail`` names rules whose result
depends on how they are implemented, and ``note`` says why. Each fault's ``effect``, beside it, reads the
tree back to see that the fault did what it says (readback.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki.files import KEY_MODE, write_atomic
from kubecert.reference.pki.issue import BACKDATE, cert_pem, issue_ca, issue_leaf, sign, template_of, utc
from kubecert.reference.pki.keys import (
    KeyFactory,
    PrivateKey,
    PublicKey,
    load_private_key,
    private_key_pem,
    public_key_pem,
)
from kubecert.reference.pki.kubeconfig import current_cluster, current_user, encode_data
from kubecert.reference.pki.kubelet_faults import KUBELET_FAULTS
from kubecert.reference.pki.legacy import sign_sha1
from kubecert.reference.pki.readback import DAY, common_name, dns_names, extension, missing, mode, same_key
from kubecert.reference.pki.tree import PkiTree
from kubecert.reference.pki.tree_fault import FOREIGN_UID, FaultContext, TreeFault, declare

_Context = FaultContext  # what every fault below is given


_FAULTS: dict[str, TreeFault] = {}
_fault = declare(_FAULTS)


def _public(cert: x509.Certificate) -> PublicKey:
    key = cert.public_key()
    if not isinstance(key, PublicKey):
        raise TypeError(f"unsupported public key {type(key).__name__}")
    return key


def _reissue(
    ctx: _Context, name: str, *, signer: str | None = None, key: PrivateKey | None = None, sha1: bool = False,
    **changes: Any,
) -> None:
    """Re-sign certificate ``name`` with ``changes`` to its template; its own key unless ``key`` is given.

    A CA is re-signed by itself, a leaf by its CA (or ``signer``).
    """
    tree = ctx.tree
    spec = layout.CERTS_BY_NAME[name]
    cert = tree.cert(name)
    template = dataclasses.replace(template_of(cert), **changes)
    public = key.public_key() if key is not None else _public(cert)
    issuer_name = signer or spec.ca
    if issuer_name is None:  # a CA signs itself
        issuer, signer_key = None, tree.key(name)
    else:
        issuer, signer_key = tree.cert(issuer_name), tree.key(issuer_name)
    signing = sign_sha1 if sha1 else sign
    tree.write_cert(name, signing(template, public_key=public, signer_key=signer_key, issuer=issuer))
    if key is not None:
        tree.write_key(name, key)


def _set_client_cert(tree: PkiTree, kubeconfig: str, cert: x509.Certificate) -> None:
    document = tree.kubeconfig(kubeconfig)
    current_user(document)["client-certificate-data"] = encode_data(cert_pem(cert))
    tree.write_kubeconfig(kubeconfig, document)


def _foreign_ca(ctx: _Context) -> tuple[x509.Certificate, PrivateKey]:
    """A CA named like the cluster CA ("kubernetes") with a key of its own: not the cluster's CA."""
    key = ctx.another_key(_public(ctx.tree.cert("ca")))  # works in external-CA mode too
    return issue_ca(cn="kubernetes", key=key, now=ctx.now), key


def _issued_before(not_after: dt.datetime, days: int) -> dt.datetime:
    """NotBefore of a leaf kubeadm issued ``days`` before ``not_after`` (backdated)."""
    return not_after - dt.timedelta(days=days) - BACKDATE


# --- validity and expiry


def _leaf_400_days_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("apiserver")
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == 400 * DAY + BACKDATE
    assert same_key(cert, before.cert("apiserver"))
    cert.verify_directly_issued_by(after.cert("ca"))


@_fault("leaf-400-days", rule="KC-VAL-01", offender="pki/apiserver.crt",
        description="apiserver is valid for 400 days from issuance instead of 365",
        effect=_leaf_400_days_effect)
def _leaf_400_days(ctx: _Context) -> None:
    issued = ctx.tree.cert("apiserver").not_valid_before_utc + BACKDATE
    _reissue(ctx, "apiserver", not_after=issued + dt.timedelta(days=400))


def _ca_20_years_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    ca = after.cert("front-proxy-ca")
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == 7300 * DAY + BACKDATE
    assert ca.subject == before.cert("front-proxy-ca").subject
    after.cert("front-proxy-client").verify_directly_issued_by(ca)  # same key: the leaf still verifies


@_fault("ca-20-years", rule="KC-VAL-02", offender="pki/front-proxy-ca.crt",
        description="front-proxy-ca re-issued for 7300 days with its own key (its leaves still verify)",
        effect=_ca_20_years_effect)
def _ca_20_years(ctx: _Context) -> None:
    issued = ctx.tree.cert("front-proxy-ca").not_valid_before_utc + BACKDATE
    _reissue(ctx, "front-proxy-ca", not_after=issued + dt.timedelta(days=7300))


def _leaf_outlives_ca_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    ca = after.cert("etcd-ca")
    old = before.cert("etcd-ca")
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == old.not_valid_after_utc - old.not_valid_before_utc
    assert ca.not_valid_before_utc <= now < ca.not_valid_after_utc  # still valid
    for name in ("etcd-server", "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client"):
        leaf = after.cert(name)
        assert leaf.not_valid_after_utc > ca.not_valid_after_utc
        leaf.verify_directly_issued_by(ca)


@_fault("leaf-outlives-ca", rule="KC-VAL-03", offender="pki/etcd/ca.crt",
        description="etcd-ca re-issued with its full lifetime but started years earlier: it expires 100 days "
                    "before its leaves (etcd-server, etcd-peer, etcd-healthcheck-client, apiserver-etcd-client)",
        effect=_leaf_outlives_ca_effect)
def _leaf_outlives_ca(ctx: _Context) -> None:
    tree = ctx.tree
    ca = tree.cert("etcd-ca")
    leaves = [tree.cert(spec.name) for spec in layout.leaves_of("etcd-ca")]
    expires = min(leaf.not_valid_after_utc for leaf in leaves) - dt.timedelta(days=100)
    shift = ca.not_valid_after_utc - expires
    _reissue(ctx, "etcd-ca", not_before=ca.not_valid_before_utc - shift, not_after=expires)


def _expired_leaf_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("front-proxy-client")
    assert cert.not_valid_after_utc < now
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == 365 * DAY + BACKDATE


@_fault("expired-leaf", rule="KC-VAL-04", offender="pki/front-proxy-client.crt",
        description="front-proxy-client expired a day ago (it had its full 365 days)",
        also_fails=("KC-EXP-01",), note="an expired certificate is inside every expiry horizon",
        effect=_expired_leaf_effect)
def _expired_leaf(ctx: _Context) -> None:
    expired = utc(ctx.now) - dt.timedelta(days=1)
    _reissue(ctx, "front-proxy-client", not_before=_issued_before(expired, 365), not_after=expired)


def _not_yet_valid_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("etcd-healthcheck-client")
    assert cert.not_valid_before_utc > now
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == 365 * DAY + BACKDATE


@_fault("not-yet-valid", rule="KC-VAL-04", offender="pki/etcd/healthcheck-client.crt",
        description="etcd-healthcheck-client is issued for tomorrow: NotBefore is in the future",
        effect=_not_yet_valid_effect)
def _not_yet_valid(ctx: _Context) -> None:
    issued = utc(ctx.now) + dt.timedelta(days=1)
    _reissue(ctx, "etcd-healthcheck-client", not_before=issued - BACKDATE, not_after=issued + dt.timedelta(days=365))


def _expiring_soon_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("apiserver-kubelet-client")
    assert 9 * DAY < cert.not_valid_after_utc - now <= 10 * DAY


@_fault("expiring-soon", rule="KC-EXP-01", offender="pki/apiserver-kubelet-client.crt",
        description="apiserver-kubelet-client expires in 10 days (it had its full 365 days)",
        effect=_expiring_soon_effect)
def _expiring_soon(ctx: _Context) -> None:
    expires = utc(ctx.now) + dt.timedelta(days=10)
    _reissue(ctx, "apiserver-kubelet-client", not_before=_issued_before(expires, 365), not_after=expires)


# --- inventory


@_fault("missing-ca", rule="KC-INV-01", offender="pki/front-proxy-ca.crt",
        description="front-proxy-ca.crt removed (its key stays)",
        may_also_fail=("KC-X509-01", "KC-VAL-03"),
        note="front-proxy-client has no CA left to be checked against; those rules may report it",
        effect=missing('pki/front-proxy-ca.crt'))
def _missing_ca(ctx: _Context) -> None:
    ctx.tree.cert_path("front-proxy-ca").unlink()


@_fault("missing-leaf", rule="KC-INV-02", offender="pki/front-proxy-client.crt",
        description="front-proxy-client.crt and .key removed",
        files=("pki/front-proxy-client.crt", "pki/front-proxy-client.key"),
        effect=missing('pki/front-proxy-client.crt', 'pki/front-proxy-client.key'))
def _missing_leaf(ctx: _Context) -> None:
    ctx.tree.cert_path("front-proxy-client").unlink()
    ctx.tree.key_path("front-proxy-client").unlink()


@_fault("missing-kubeconfig", rule="KC-INV-03", offender="scheduler.conf", description="scheduler.conf removed",
        effect=missing('scheduler.conf'))
def _missing_kubeconfig(ctx: _Context) -> None:
    ctx.tree.kubeconfig_path("scheduler.conf").unlink()


def _sa_key_mismatch_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    sa_key = load_private_key(after.sa_key_path.read_bytes())
    assert after.sa_pub_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert after.sa_pub_path.read_bytes() != public_key_pem(sa_key)
    assert stat.S_IMODE(after.sa_pub_path.stat().st_mode) == 0o600


@_fault("sa-key-mismatch", rule="KC-INV-04", offender="pki/sa.pub",
        description="sa.pub is the public half of another key than sa.key",
        effect=_sa_key_mismatch_effect)
def _sa_key_mismatch(ctx: _Context) -> None:
    sa_key = load_private_key(ctx.tree.sa_key_path.read_bytes())
    write_atomic(ctx.tree.sa_pub_path, public_key_pem(ctx.another_key(sa_key)), KEY_MODE)


# --- X.509 profile


def _wrong_issuer_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert, wrong = after.cert("apiserver"), after.cert("front-proxy-ca")
    assert cert.issuer == wrong.subject
    cert.verify_directly_issued_by(wrong)
    assert extension(cert, x509.AuthorityKeyIdentifier).key_identifier == extension(
        wrong, x509.SubjectKeyIdentifier).digest
    assert dns_names(cert) == dns_names(before.cert("apiserver"))


@_fault("wrong-issuer", rule="KC-X509-01", offender="pki/apiserver.crt",
        description="apiserver signed by front-proxy-ca instead of ca (issuer, AKI and signature all say so)",
        effect=_wrong_issuer_effect)
def _wrong_issuer(ctx: _Context) -> None:
    _reissue(ctx, "apiserver", signer="front-proxy-ca")


def _ca_not_ca_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    ca = after.cert("etcd-ca")
    assert not extension(ca, x509.BasicConstraints).ca
    assert extension(ca, x509.SubjectKeyIdentifier) == extension(before.cert("etcd-ca"), x509.SubjectKeyIdentifier)
    after.cert("etcd-server").verify_directly_issued_by(ca)


@_fault("ca-not-ca", rule="KC-X509-02", offender="pki/etcd/ca.crt",
        description="etcd-ca re-issued with basicConstraints CA:FALSE (same key, name and SKI)",
        may_also_fail=("KC-X509-01",),
        note="etcd leaves still verify by signature; a chain check that demands CA:TRUE (openssl) refuses them",
        effect=_ca_not_ca_effect)
def _ca_not_ca(ctx: _Context) -> None:
    _reissue(ctx, "etcd-ca", is_ca=False)


def _ca_without_certsign_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    ca = after.cert("etcd-ca")
    assert extension(ca, x509.BasicConstraints).ca
    assert not extension(ca, x509.KeyUsage).key_cert_sign


@_fault("ca-without-certsign", rule="KC-X509-02", offender="pki/etcd/ca.crt",
        description="etcd-ca re-issued without keyUsage keyCertSign (still CA:TRUE)",
        may_also_fail=("KC-X509-01",),
        note="etcd leaves still verify by signature; a chain check that demands keyCertSign (openssl) refuses them",
        effect=_ca_without_certsign_effect)
def _ca_without_certsign(ctx: _Context) -> None:
    _reissue(ctx, "etcd-ca", key_cert_sign=False)


def _leaf_is_ca_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert extension(after.cert("apiserver"), x509.BasicConstraints).ca


@_fault("leaf-is-ca", rule="KC-X509-03", offender="pki/apiserver.crt",
        description="apiserver re-issued with basicConstraints CA:TRUE",
        effect=_leaf_is_ca_effect)
def _leaf_is_ca(ctx: _Context) -> None:
    _reissue(ctx, "apiserver", is_ca=True)


def _wrong_eku_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert list(extension(after.cert("apiserver"), x509.ExtendedKeyUsage)) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]


@_fault("wrong-eku", rule="KC-X509-04", offender="pki/apiserver.crt",
        description="apiserver re-issued for clientAuth only (no serverAuth)",
        also_fails=("KC-X509-01",),
        note="a TLS client validating the API server's chain (Go's crypto/x509, KC-X509-01's path validation) "
             "refuses a server certificate without serverAuth",
        effect=_wrong_eku_effect)
def _wrong_eku(ctx: _Context) -> None:
    _reissue(ctx, "apiserver", eku=(layout.CLIENT_AUTH,))


def _mismatched_key_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert public_key_pem(after.key("apiserver")) != public_key_pem(after.cert("apiserver").public_key())  # type: ignore[arg-type]
    assert after.cert("apiserver") == before.cert("apiserver")


@_fault("mismatched-key", rule="KC-X509-05", offender="pki/apiserver.key",
        description="apiserver.key replaced by another key pair's private key",
        effect=_mismatched_key_effect)
def _mismatched_key(ctx: _Context) -> None:
    ctx.tree.write_key("apiserver", ctx.another_key(ctx.tree.key("apiserver")))


def _weak_key_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("front-proxy-client")
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 1024
    assert public_key_pem(after.key("front-proxy-client")) == public_key_pem(public)


@_fault("weak-key", rule="KC-X509-06", offender="pki/front-proxy-client.crt",
        description="front-proxy-client re-issued for a new RSA-1024 key (key file replaced to match)",
        files=("pki/front-proxy-client.crt", "pki/front-proxy-client.key"),
        effect=_weak_key_effect)
def _weak_key(ctx: _Context) -> None:
    _reissue(ctx, "front-proxy-client", key=ctx.keys.new_key("RSA-1024"))


def _sha1_signature_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert isinstance(after.cert("apiserver-etcd-client").signature_hash_algorithm, hashes.SHA1)


@_fault("sha1-signature", rule="KC-X509-06", offender="pki/apiserver-etcd-client.crt",
        description="apiserver-etcd-client re-signed by etcd-ca with SHA-1",
        may_also_fail=("KC-X509-01",),
        note="the signature is valid, but cryptography's verify_directly_issued_by (CertRecord.signed_by) "
             "refuses SHA-1 with 'Unsupported signature algorithm'; verifying with the CA's public key works",
        effect=_sha1_signature_effect)
def _sha1_signature(ctx: _Context) -> None:
    _reissue(ctx, "apiserver-etcd-client", sha1=True)


# An extension no TLS client knows, marked critical: RFC 5280 says a client must refuse the certificate (Go:
# "unhandled critical extension"). The OID is a UUID arc (2.25), which no one has given a meaning.
UNKNOWN_CRITICAL_OID = x509.ObjectIdentifier("2.25.178337458291475431239105628410957328128")
# A name constraint that the cluster's names fall outside: the CA may only vouch for example.invalid.
FOREIGN_NAMES_ONLY = x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.invalid")],
                                          excluded_subtrees=None)


def _leaf_unknown_critical_extension_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert, was = after.cert("apiserver"), before.cert("apiserver")
    unknown = cert.extensions.get_extension_for_oid(UNKNOWN_CRITICAL_OID)
    assert unknown.critical
    assert isinstance(unknown.value, x509.UnrecognizedExtension)
    cert.verify_directly_issued_by(after.cert("ca"))
    assert dns_names(cert) == dns_names(was)
    assert extension(cert, x509.ExtendedKeyUsage) == extension(was, x509.ExtendedKeyUsage)
    assert len(cert.extensions) == len(was.extensions) + 1


@_fault("leaf-unknown-critical-extension", rule="KC-X509-01", offender="pki/apiserver.crt",
        description="apiserver re-issued with a critical extension no TLS client knows (openssl: 'unhandled "
                    "critical extension'); signed by ca, names and usages unchanged",
        effect=_leaf_unknown_critical_extension_effect)
def _leaf_unknown_critical_extension(ctx: _Context) -> None:
    unknown = x509.UnrecognizedExtension(UNKNOWN_CRITICAL_OID, b"\x05\x00")
    _reissue(ctx, "apiserver", extra=(x509.Extension(UNKNOWN_CRITICAL_OID, True, unknown),))


def _ca_name_constraints_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    ca, was = after.cert("ca"), before.cert("ca")
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert constraints.value == FOREIGN_NAMES_ONLY
    assert ca.subject.public_bytes() == was.subject.public_bytes()  # the leaves' issuer, byte for byte
    assert public_key_pem(ca.public_key()) == public_key_pem(was.public_key())  # type: ignore[arg-type]
    assert (ca.not_valid_before_utc, ca.not_valid_after_utc) == (was.not_valid_before_utc, was.not_valid_after_utc)
    after.cert("apiserver").verify_directly_issued_by(ca)  # its leaves still verify by signature
    for name in ("admin.conf", "controller-manager.conf", "kubelet.conf", "scheduler.conf", "super-admin.conf"):
        data = current_cluster(after.kubeconfig(name))["certificate-authority-data"]
        assert data == encode_data(cert_pem(ca)), name


@_fault("ca-name-constraints", rule="KC-X509-01", offender="pki/ca.crt",
        description="ca re-issued (same key, name and dates) with name constraints permitting only example.invalid: "
                    "the apiserver's names fall outside them (openssl: 'permitted subtree violation'); the "
                    "kubeconfigs carry the new ca.crt",
        files=("pki/ca.crt", *(f"{spec.name}" for spec in layout.KUBECONFIGS)),
        effect=_ca_name_constraints_effect)
def _ca_name_constraints(ctx: _Context) -> None:
    constraint = x509.Extension(x509.NameConstraints.oid, True, FOREIGN_NAMES_ONLY)
    _reissue(ctx, "ca", extra=(constraint,))
    for spec in layout.KUBECONFIGS:
        if ctx.tree.kubeconfig_path(spec.name).exists():
            document = ctx.tree.kubeconfig(spec.name)
            current_cluster(document)["certificate-authority-data"] = encode_data(cert_pem(ctx.tree.cert("ca")))
            ctx.tree.write_kubeconfig(spec.name, document)


# --- identity


def _wrong_cn_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = after.cert("apiserver-kubelet-client")
    assert common_name(cert) == "kubelet-client"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "kubeadm:cluster-admins"


@_fault("wrong-cn", rule="KC-ID-01", offender="pki/apiserver-kubelet-client.crt",
        description="apiserver-kubelet-client re-issued with CN kubelet-client",
        effect=_wrong_cn_effect)
def _wrong_cn(ctx: _Context) -> None:
    _reissue(ctx, "apiserver-kubelet-client", cn="kubelet-client")


def _dropped_san_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    kept = [name for name in dns_names(before.cert("apiserver")) if name != "kubernetes.default"]
    assert dns_names(after.cert("apiserver")) == kept


@_fault("dropped-san", rule="KC-ID-02", offender="pki/apiserver.crt",
        description="apiserver re-issued without the DNS SAN kubernetes.default",
        effect=_dropped_san_effect)
def _dropped_san(ctx: _Context) -> None:
    template = template_of(ctx.tree.cert("apiserver"))
    _reissue(ctx, "apiserver", dns=tuple(name for name in template.dns if name != "kubernetes.default"))


ENDPOINT = "k8s-api.example.internal:6443"  # a control-plane endpoint of the DNS kind (an HA load balancer's)
_DIALLING_ENDPOINT = ("admin.conf", "super-admin.conf", "kubelet.conf")  # what kubeadm points at the endpoint


def _endpoint_san_missing_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    for name in ("admin.conf", "super-admin.conf", "kubelet.conf"):
        assert current_cluster(after.kubeconfig(name))["server"] == "https://k8s-api.example.internal:6443"
    for name in ("controller-manager.conf", "scheduler.conf"):  # the node's own address, as kubeadm writes them
        assert current_cluster(after.kubeconfig(name))["server"] == "https://10.0.0.10:6443"
    assert dns_names(after.cert("apiserver")) == dns_names(before.cert("apiserver"))  # the endpoint's host is not there
    assert "k8s-api.example.internal" not in dns_names(after.cert("apiserver"))
    assert after.cert("apiserver").serial_number != before.cert("apiserver").serial_number


@_fault("endpoint-san-missing", rule="KC-ID-02", offender="pki/apiserver.crt",
        description=f"the cluster's control-plane endpoint is {ENDPOINT} (admin.conf, super-admin.conf and "
                    "kubelet.conf dial it), and apiserver.crt is re-issued without its host among the SANs",
        files=("pki/apiserver.crt", *_DIALLING_ENDPOINT),
        effect=_endpoint_san_missing_effect)
def _endpoint_san_missing(ctx: _Context) -> None:
    tree = ctx.tree
    for name in _DIALLING_ENDPOINT:
        if tree.kubeconfig_path(name).exists():
            document = tree.kubeconfig(name)
            current_cluster(document)["server"] = f"https://{ENDPOINT}"
            tree.write_kubeconfig(name, document)
    host = ENDPOINT.rpartition(":")[0]
    template = template_of(tree.cert("apiserver"))  # kubeadm init --control-plane-endpoint would have added it
    _reissue(ctx, "apiserver", dns=tuple(name for name in template.dns if name != host))


def _etcd_san_missing_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    san = extension(after.cert("etcd-server"), x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.DNSName) == ["cp-1"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.10", "::1"]


@_fault("etcd-san-missing", rule="KC-ID-03", offender="pki/etcd/server.crt",
        description="etcd-server re-issued without the SANs localhost and 127.0.0.1",
        effect=_etcd_san_missing_effect)
def _etcd_san_missing(ctx: _Context) -> None:
    template = template_of(ctx.tree.cert("etcd-server"))
    _reissue(ctx, "etcd-server", dns=tuple(n for n in template.dns if n != "localhost"),
             ips=tuple(ip for ip in template.ips if str(ip) != "127.0.0.1"))


# --- files


@_fault("loose-key-mode", rule="KC-FILE-01", offender="pki/apiserver.key", description="apiserver.key is mode 0644",
        effect=mode('pki/apiserver.key', 420))
def _loose_key_mode(ctx: _Context) -> None:
    os.chmod(ctx.tree.key_path("apiserver"), 0o644)


@_fault("loose-cert-mode", rule="KC-FILE-02", offender="pki/ca.crt", description="ca.crt is mode 0666",
        effect=mode('pki/ca.crt', 438))
def _loose_cert_mode(ctx: _Context) -> None:
    os.chmod(ctx.tree.cert_path("ca"), 0o666)  # noqa: S103 - the fault's point


def _foreign_owner_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    info = after.cert_path("apiserver").stat()
    assert (info.st_uid, info.st_gid) == (65534, 65534)


@_fault("foreign-owner", rule="KC-FILE-03", offender="pki/apiserver.crt",
        description=f"apiserver.crt owned by uid/gid {FOREIGN_UID} (nobody)", needs_root=True,
        effect=_foreign_owner_effect)
def _foreign_owner(ctx: _Context) -> None:
    os.chown(ctx.tree.cert_path("apiserver"), FOREIGN_UID, FOREIGN_UID)


# --- kubeconfigs


def _kubeconfig_foreign_ca_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert, key = after.kubeconfig_client("admin.conf")
    ca = after.cert("ca")
    assert cert.issuer == ca.subject  # same name, other key
    try:
        cert.verify_directly_issued_by(ca)
    except InvalidSignature:
        pass
    else:
        raise AssertionError("admin.conf's client certificate verifies against ca")
    assert public_key_pem(key) == public_key_pem(cert.public_key())  # type: ignore[arg-type]
    assert after.kubeconfig_ca("admin.conf") == ca


@_fault("kubeconfig-foreign-ca", rule="KC-KCFG-01", offender="admin.conf",
        description="admin.conf's client certificate signed by a foreign CA also named 'kubernetes'",
        may_also_fail=("KC-X509-01",), note="if KC-X509-01 also covers kubeconfig client certificates",
        effect=_kubeconfig_foreign_ca_effect)
def _kubeconfig_foreign_ca(ctx: _Context) -> None:
    cert, key = ctx.tree.kubeconfig_client("admin.conf")
    foreign_cert, foreign_key = _foreign_ca(ctx)
    _set_client_cert(ctx.tree, "admin.conf",
                     sign(template_of(cert), public_key=key.public_key(), signer_key=foreign_key, issuer=foreign_cert))


def _kubeconfig_wrong_ca_data_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    data = after.kubeconfig_ca("controller-manager.conf")
    assert data != after.cert("ca")
    assert common_name(data) == "kubernetes"
    after.kubeconfig_client("controller-manager.conf")[0].verify_directly_issued_by(after.cert("ca"))


@_fault("kubeconfig-wrong-ca-data", rule="KC-KCFG-01", offender="controller-manager.conf",
        description="controller-manager.conf's certificate-authority-data is a foreign CA also named 'kubernetes'",
        effect=_kubeconfig_wrong_ca_data_effect)
def _kubeconfig_wrong_ca_data(ctx: _Context) -> None:
    document = ctx.tree.kubeconfig("controller-manager.conf")
    current_cluster(document)["certificate-authority-data"] = encode_data(cert_pem(_foreign_ca(ctx)[0]))
    ctx.tree.write_kubeconfig("controller-manager.conf", document)


def _kubeconfig_wrong_identity_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert, _ = after.kubeconfig_client("scheduler.conf")
    assert common_name(cert) == "system:kube-controller-manager"
    cert.verify_directly_issued_by(after.cert("ca"))


@_fault("kubeconfig-wrong-identity", rule="KC-KCFG-02", offender="scheduler.conf",
        description="scheduler.conf's client certificate says CN system:kube-controller-manager",
        effect=_kubeconfig_wrong_identity_effect)
def _kubeconfig_wrong_identity(ctx: _Context) -> None:
    cert, key = ctx.tree.kubeconfig_client("scheduler.conf")
    template = dataclasses.replace(template_of(cert), cn="system:kube-controller-manager")
    issued = sign(template, public_key=key.public_key(), signer_key=ctx.tree.key("ca"), issuer=ctx.tree.cert("ca"))
    _set_client_cert(ctx.tree, "scheduler.conf", issued)


def _kubelet_conf_embedded_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert, _ = after.kubeconfig_client("kubelet.conf")
    assert common_name(cert) == "system:node:cp-1"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    cert.verify_directly_issued_by(after.cert("ca"))
    user = after.kubeconfig("kubelet.conf")["users"][0]["user"]
    assert set(user) == {"client-certificate-data", "client-key-data"}


@_fault("kubelet-conf-embedded", rule="KC-KCFG-03", offender="kubelet.conf",
        description="kubelet.conf embeds a client certificate and key instead of pointing at the rotated pem",
        effect=_kubelet_conf_embedded_effect)
def _kubelet_conf_embedded(ctx: _Context) -> None:
    tree = ctx.tree
    spec = layout.KUBECONFIGS_BY_NAME["kubelet.conf"]
    node = tree.node_name()
    if node is None:
        raise ReferenceUsageError("kubelet.conf names no system:node user; cannot tell the node's name")
    ca_key = tree.key("ca")
    key = ctx.another_key(ca_key)
    cert = issue_leaf(tree.cert("ca"), ca_key, cn=spec.common_name(node), orgs=spec.orgs, eku=(layout.CLIENT_AUTH,),
                      key=key, now=ctx.now)
    document = tree.kubeconfig("kubelet.conf")
    user = current_user(document)
    user.clear()
    user["client-certificate-data"] = encode_data(cert_pem(cert))
    user["client-key-data"] = encode_data(private_key_pem(key))
    tree.write_kubeconfig("kubelet.conf", document)


# --- external CA


def _ca_key_mismatch_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert public_key_pem(after.key("front-proxy-ca")) != public_key_pem(after.cert("front-proxy-ca").public_key())  # type: ignore[arg-type]


@_fault("ca-key-mismatch", rule="KC-EXT-01", offender="pki/front-proxy-ca.key",
        description="front-proxy-ca.key replaced by another key: the CA is neither usable nor external",
        also_fails=("KC-X509-05",), note="the CA's key no longer matches its certificate",
        effect=_ca_key_mismatch_effect)
def _ca_key_mismatch(ctx: _Context) -> None:
    ctx.tree.write_key("front-proxy-ca", ctx.another_key(ctx.tree.key("front-proxy-ca")))


FAULTS: Mapping[str, TreeFault] = MappingProxyType({**_FAULTS, **KUBELET_FAULTS})
Fault = TreeFault  # the tree's faults, as this module has always called them


def fault_names() -> tuple[str, ...]:
    return tuple(sorted(FAULTS))


def apply_fault(root: Path, name: str, *, keys: KeyFactory, now: dt.datetime) -> TreeFault:
    """Plant fault ``name`` in the tree at ``root``, in place; returns what it is meant to break."""
    fault = FAULTS.get(name)
    if fault is None:
        raise ReferenceUsageError(f"unknown fault {name!r}; known faults: {', '.join(fault_names())}")
    if fault.needs_root and os.geteuid() != 0:
        raise ReferenceUsageError(f"fault {name!r} changes a file's owner, which only root can do")
    try:
        fault.apply(FaultContext(tree=PkiTree(Path(root)), keys=keys, now=utc(now)))
    except FileNotFoundError as exc:
        raise ReferenceUsageError(f"fault {name!r} cannot be applied: {exc.filename} is not in the tree") from None
    return fault
