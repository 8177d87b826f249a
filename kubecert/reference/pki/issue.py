"""Issuing certificates exactly as kubeadm v1.31+ does (pkiutil and Go's x509.CreateCertificate).

What kubeadm writes (cmd/kubeadm/app/util/pkiutil, client-go certutil): a CA has a random positive serial, a
subject of its CN alone, DNS SAN = CN, keyUsage digitalSignature+keyEncipherment+keyCertSign (critical),
basicConstraints CA:TRUE (critical, no path length) and an SKI. A leaf has keyUsage digitalSignature+keyEncipherment
(critical), its role's EKU, basicConstraints CA:FALSE (critical), AKI = its CA's SKI and no SKI; DNS
SANs are de-duplicated and sorted, IP SANs de-duplicated in order. NotBefore = start − 5 min (a leaf of
kubeadm up to v1.30: its CA's NotBefore, see versions.py); NotAfter = start + validity. Extensions come in
Go's order and names use PrintableString where Go would.

Every function takes ``now``; nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from kubecert.layout import CLIENT_AUTH, SERVER_AUTH
from kubecert.reference.pki.keys import PrivateKey, PublicKey, SignatureHash, signature_hash

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

BACKDATE = dt.timedelta(minutes=5)  # kubeadm constants.CertificateBackdate
LEAF_DAYS = 365  # constants.CertificateValidityPeriod
KUBEADM_CA_DAYS = 3650  # constants.CACertificateValidityPeriod, 24h*365*10

_EKU_OIDS = {SERVER_AUTH: ExtendedKeyUsageOID.SERVER_AUTH, CLIENT_AUTH: ExtendedKeyUsageOID.CLIENT_AUTH}
_EKU_NAMES = {oid: name for name, oid in _EKU_OIDS.items()}
# Go's encoding/asn1 writes a string as PrintableString when every character is in this set.
_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]*")
# kubeadm draws serials uniformly from [1, 2^63 − 1).
_SERIAL_LIMIT = (1 << 63) - 2


@dataclass(frozen=True)
class CertTemplate:
    """Everything that distinguishes one certificate kubeadm could make (or a fault could) from another."""

    cn: str
    not_before: dt.datetime
    not_after: dt.datetime
    orgs: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    ips: tuple[IPAddress, ...] = ()
    eku: tuple[str, ...] = ()  # "serverAuth", "clientAuth" or dotted OIDs
    is_ca: bool = False
    key_cert_sign: bool | None = None  # None: the same as is_ca
    key_encipherment: bool = True  # kubeadm asks it of every key; client-go's CSRs only of RSA keys
    basic_constraints: bool = True  # False: no basicConstraints at all (pre-2020 leaves)
    subject_key_id: bool | None = None  # None: the same as is_ca (Go adds an SKI to CAs only)
    serial: int | None = None  # None: random, as kubeadm
    extra: tuple[x509.Extension[x509.ExtensionType], ...] = ()  # what kubeadm never writes (a fault's), last


def utc(now: dt.datetime) -> dt.datetime:
    """``now`` in UTC, whole seconds (X.509 times carry no fractions); a naive time is a mistake."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.astimezone(dt.UTC).replace(microsecond=0)


def validity(now: dt.datetime, days: int, backdate: dt.timedelta = BACKDATE) -> tuple[dt.datetime, dt.datetime]:
    """(NotBefore, NotAfter) of a certificate issued at ``now``: kubeadm v1.31+'s dates."""
    start = utc(now)
    return start - backdate, start + dt.timedelta(days=days)


def random_serial() -> int:
    return secrets.randbelow(_SERIAL_LIMIT) + 1


def subject_name(cn: str, orgs: Iterable[str] = ()) -> x509.Name:
    """A subject as Go's pkix.Name encodes it: O attributes first, then CN, one per RDN."""
    attributes = [_attribute(NameOID.ORGANIZATION_NAME, org) for org in orgs]
    attributes.append(_attribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attributes)


def _attribute(oid: ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    kind = _ASN1Type.PrintableString if _PRINTABLE.fullmatch(value) else _ASN1Type.UTF8String
    return x509.NameAttribute(oid, value, _type=kind)


def normalized_dns(names: Iterable[str]) -> tuple[str, ...]:
    """kubeadm's RemoveDuplicateAltNames for DNS names: a sorted set."""
    return tuple(sorted(set(names)))


def normalized_ips(addresses: Iterable[str | IPAddress]) -> tuple[IPAddress, ...]:
    """kubeadm's RemoveDuplicateAltNames for IPs: first occurrence wins, order kept."""
    seen: dict[IPAddress, None] = {}
    for address in addresses:
        seen.setdefault(ipaddress.ip_address(address), None)
    return tuple(seen)


def sign(
    template: CertTemplate,
    *,
    public_key: PublicKey,
    signer_key: PrivateKey,
    issuer: x509.Certificate | None = None,
    hash_algorithm: SignatureHash | None = None,
) -> x509.Certificate:
    """Create the certificate ``template`` describes; self-signed when ``issuer`` is None.

    The hash defaults to Go's choice for ``signer_key``. Extensions follow Go's order: keyUsage,
    extKeyUsage, basicConstraints, SKI, AKI, SAN.
    """
    subject = subject_name(template.cn, template.orgs)
    issuer_name = issuer.subject if issuer is not None else subject
    cert_sign = template.is_ca if template.key_cert_sign is None else template.key_cert_sign
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(template.serial if template.serial is not None else random_serial())
        .not_valid_before(utc(template.not_before))
        .not_valid_after(utc(template.not_after))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=template.key_encipherment,
                data_encipherment=False,
                key_agreement=False, key_cert_sign=cert_sign, crl_sign=False, encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if template.eku:
        usages = [_EKU_OIDS.get(usage) or ObjectIdentifier(usage) for usage in template.eku]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if template.basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=template.is_ca, path_length=None), critical=True)
    wants_ski = template.is_ca if template.subject_key_id is None else template.subject_key_id
    if wants_ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    issuer_ski = _subject_key_id(issuer) if issuer is not None else None
    # Go copies the parent's SKI into the AKI unless the certificate is self-issued.
    if issuer_ski is not None and issuer_name != subject:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(key_identifier=issuer_ski, authority_cert_issuer=None,
                                        authority_cert_serial_number=None),
            critical=False,
        )
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in normalized_dns(template.dns)]
    sans += [x509.IPAddress(address) for address in normalized_ips(template.ips)]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    for extension in template.extra:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    return builder.sign(signer_key, hash_algorithm or signature_hash(signer_key))


def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def issue_ca(
    *, cn: str, key: PrivateKey, now: dt.datetime, ca_days: int = KUBEADM_CA_DAYS, backdate: dt.timedelta = BACKDATE
) -> x509.Certificate:
    """A self-signed CA as kubeadm's NewCertificateAuthority makes it (DNS SAN = CN)."""
    not_before, not_after = validity(now, ca_days, backdate)
    template = CertTemplate(cn=cn, not_before=not_before, not_after=not_after, dns=(cn,), is_ca=True)
    return sign(template, public_key=key.public_key(), signer_key=key)


def issue_leaf(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    *,
    cn: str,
    orgs: Iterable[str] = (),
    dns: Iterable[str] = (),
    ips: Iterable[str | IPAddress] = (),
    eku: Iterable[str],
    key: PrivateKey | PublicKey,
    now: dt.datetime,
    leaf_days: int = LEAF_DAYS,
    backdate: dt.timedelta = BACKDATE,
    not_before: dt.datetime | None = None,
) -> x509.Certificate:
    """A leaf signed by ``ca_cert``/``ca_key`` for ``key`` (private or public), as kubeadm signs one.

    This is both kubeadm's first issuance and its renewal: renewal passes the old certificate's CN, O,
    DNS and IP SANs and EKU (see ``template_of``) with a new key and the renewal time. ``not_before``
    replaces v1.31's ``now`` − backdate (kubeadm up to v1.30 gives its CA's NotBefore).
    """
    usages = tuple(eku)
    if not usages:
        raise ValueError("a leaf needs at least one extended key usage (kubeadm refuses none)")
    backdated, not_after = validity(now, leaf_days, backdate)
    not_before = backdated if not_before is None else not_before
    template = CertTemplate(
        cn=cn, not_before=not_before, not_after=not_after, orgs=tuple(orgs), dns=tuple(dns),
        ips=normalized_ips(ips), eku=usages,
    )
    public = key.public_key() if isinstance(key, PrivateKey) else key
    return sign(template, public_key=public, signer_key=ca_key, issuer=ca_cert)


def template_of(cert: x509.Certificate) -> CertTemplate:
    """The template an existing certificate was made from: what renewal and faults start from."""
    extensions = cert.extensions

    def value(kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
        try:
            return extensions.get_extension_for_class(kind).value
        except x509.ExtensionNotFound:
            return None

    constraints = value(x509.BasicConstraints)
    usage = value(x509.KeyUsage)
    eku = value(x509.ExtendedKeyUsage)
    san = value(x509.SubjectAlternativeName)
    is_ca = isinstance(constraints, x509.BasicConstraints) and constraints.ca
    return CertTemplate(
        cn=_first(cert.subject, NameOID.COMMON_NAME),
        orgs=tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)),
        dns=tuple(san.get_values_for_type(x509.DNSName)) if isinstance(san, x509.SubjectAlternativeName) else (),
        ips=tuple(ip for ip in san.get_values_for_type(x509.IPAddress) if isinstance(ip, IPAddress))
        if isinstance(san, x509.SubjectAlternativeName) else (),
        eku=tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku)
        if isinstance(eku, x509.ExtendedKeyUsage) else (),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=is_ca,
        key_cert_sign=usage.key_cert_sign if isinstance(usage, x509.KeyUsage) else False,
        key_encipherment=usage.key_encipherment if isinstance(usage, x509.KeyUsage) else True,
        basic_constraints=constraints is not None,
        subject_key_id=value(x509.SubjectKeyIdentifier) is not None,
        serial=None,  # whatever is made from a template is a new certificate: a new serial
    )


def _first(name: x509.Name, oid: ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
