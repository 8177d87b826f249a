"""Validating a certificate's chain as Kubernetes' Go components do, with a real RFC 5280 path validator.

A TLS client (crypto/x509 in the API server, etcd, the kubelet) refuses a chain whose signatures do not
verify, a certificate carrying a critical extension it does not know ("unhandled critical extension"), a
name outside its CA's name constraints ("permitted subtree violation"), a path longer than a CA allows,
a server or client certificate without the usage it is used for, a server certificate without a SAN.
cryptography's ``x509.verification`` checks all of these; its policy is the Web PKI's, stricter than Go's
in places kubeadm's real certificates differ, so it is loosened to what Go accepts: no AKI or SAN needed
on a client or a legacy leaf, key usage not judged, a leaf may say CA:TRUE (KC-X509-03 judges that), an
EKU that lists anyExtendedKeyUsage fits every use. It stays stricter in two ways Go is not: every CA of
the path, the trust anchor included, must carry basicConstraints CA:TRUE, and SHA-1 signatures and keys
other than RSA and ECDSA P-256/384/521 are refused (Go refuses SHA-1 too; KC-X509-02 and KC-X509-06 judge
these for themselves).

What kubeadm expects on top (the issuer named, AKI = SKI, CA:TRUE and keyCertSign on its CAs, the SANs a
node needs) stays with the rules that judge it. Dates are the date rules' (KC-VAL-04, KC-EXP-01): a chain
is validated at the run's clock when every certificate of it is valid then, else at the moment nearest to
it when all are, and said so.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, Policy, PolicyBuilder, Store

from kubecert import layout
from kubecert.inventory.model import CertRecord
from kubecert.rules._common import fmt_time

_ANY = Criticality.AGNOSTIC  # Go does not judge an extension by its criticality
_EKU_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: layout.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH: layout.CLIENT_AUTH}


def _usage_allowed(policy: Policy, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
    """Go's extended key usage check, for every certificate of the chain: none listed is any use."""
    if eku is None or policy.extended_key_usage in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        return
    wanted = _EKU_NAMES.get(policy.extended_key_usage, policy.extended_key_usage.dotted_string)
    listed = ", ".join(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku) or "nothing"
    raise ValueError(f"extendedKeyUsage {listed} lacks {wanted}")


def _policy(*, ca: bool, server: bool) -> ExtensionPolicy:
    policy = ExtensionPolicy.permit_all().may_be_present(x509.ExtendedKeyUsage, _ANY, _usage_allowed)
    if ca:  # cryptography cannot do without it on a CA, even the trust anchor
        return policy.require_present(x509.BasicConstraints, _ANY, None)
    if server:  # Go reads a server's names from its SANs only (since Go 1.15)
        return policy.require_present(x509.SubjectAlternativeName, _ANY, None)
    return policy


_CA_POLICY = _policy(ca=True, server=False)
_SERVER_POLICY = _policy(ca=False, server=True)
_CLIENT_POLICY = _policy(ca=False, server=False)
# What the validator's messages carry that says nothing to a reader: its own wording, the certificate's repr.
_NOISE = re.compile(r"^validation failed: |candidates exhausted: |Python extension validator failed: ValueError: "
                    r"| \(encountered processing <Certificate\(.*\)>\)$")


@dataclass(frozen=True)
class ChainCheck:
    refusal: str | None  # why a Go TLS client refuses the certificate; None when it accepts it
    note: str = ""  # when it was validated, if not at the run's clock; or why it could not be


def validate(record: CertRecord, anchors: Sequence[x509.Certificate], usages: Sequence[str], at: dt.datetime,
             intermediates: Sequence[x509.Certificate] = ()) -> ChainCheck:
    """Whether a Go TLS client trusting only ``anchors`` accepts ``record`` for each of ``usages`` (serverAuth
    with one of its own SANs as the name asked for, clientAuth)."""
    moment, note = _moment([record.cert, *intermediates, *anchors], at)
    if moment is None:  # a chain valid at no moment is failed by the date rules, whatever its structure
        return ChainCheck(None, note)
    builder = PolicyBuilder().store(Store(list(anchors))).time(moment)
    for usage in usages:
        why = _verify(builder, record, usage, list(intermediates))
        if why is not None:
            return ChainCheck(f"as a {'server' if usage == layout.SERVER_AUTH else 'client'}: {why}", note)
    return ChainCheck(None, note)


def refused(record: CertRecord, anchors: Sequence[x509.Certificate], usages: Sequence[str], at: dt.datetime,
            intermediates: Sequence[x509.Certificate] = ()) -> str | None:
    """Why a Go TLS client trusting only ``anchors`` refuses ``record`` (see ``validate``), or None."""
    check = validate(record, anchors, usages, at, intermediates)
    if check.refusal is None:
        return None
    return f"{check.refusal} ({check.note})" if check.note else check.refusal


def _verify(builder: PolicyBuilder, record: CertRecord, usage: str,
            intermediates: list[x509.Certificate]) -> str | None:
    try:
        if usage == layout.SERVER_AUTH:
            subject = _own_name(record)
            if subject is None:
                return "no subjectAltName: Go takes a server's names from its SANs only"
            builder = builder.extension_policies(ca_policy=_CA_POLICY, ee_policy=_SERVER_POLICY)
            builder.build_server_verifier(subject).verify(record.cert, intermediates)
        else:
            builder = builder.extension_policies(ca_policy=_CA_POLICY, ee_policy=_CLIENT_POLICY)
            builder.build_client_verifier().verify(record.cert, intermediates)
    except (x509.verification.VerificationError, ValueError, TypeError) as exc:
        return _NOISE.sub("", str(exc)) or type(exc).__name__
    return None


def _own_name(record: CertRecord) -> x509.DNSName | x509.IPAddress | None:
    """A name the certificate is for: the SANs it must carry are KC-ID-02/03's, the path is judged here."""
    for name in record.dns_sans:
        if "*" not in name:
            return x509.DNSName(name)
    return x509.IPAddress(ipaddress.ip_address(record.ip_sans[0])) if record.ip_sans else None


def _moment(chain: Sequence[x509.Certificate], at: dt.datetime) -> tuple[dt.datetime | None, str]:
    """When to validate: ``at`` if every certificate is valid then, else the nearest moment they all are (the
    dates are the date rules'); None and why, when there is no such moment."""
    start = max(cert.not_valid_before_utc for cert in chain)
    end = min(cert.not_valid_after_utc for cert in chain)
    if start > end:
        return None, (f"chain not validated: no moment exists when all of it is valid (one certificate "
                      f"expires {fmt_time(end)}, before another begins {fmt_time(start)}; KC-VAL-04 judges dates)")
    clock = at.replace(microsecond=0)  # X.509 times are whole seconds
    moment = min(max(clock, start), end)
    if moment == clock:
        return moment, ""
    return moment, f"chain validated at {fmt_time(moment)}, when all of it is valid; KC-VAL-04 judges dates"
