"""The normalized observation of a target: what every rule reads.

A record wraps one parsed ``cryptography`` certificate and derives the facts rules need once, lazily.
Private keys are never kept: a key is reduced to facts (algorithm, size, the SHA-256 of its public
half) when it is read, so nothing below can leak one into a report.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import ipaddress
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubecert.inventory.facts import NodeFacts
from kubecert.inventory.keymaterial import KeyTraces
from kubecert.timestamps import isoformat

if TYPE_CHECKING:
    from kubecert.inventory.platform import PlatformObservation

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
}

_SHA256 = hashes.SHA256()

_KEY_USAGE_NAMES = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign",
)


class Role(enum.StrEnum):
    CA = "ca"
    LEAF = "leaf"
    KUBECONFIG = "kubeconfig"
    KUBELET = "kubelet"  # the kubelet's own client or serving certificate, from its folder


class ProblemKind(enum.StrEnum):
    MISSING = "missing"  # the file is not there
    INVALID = "invalid"  # it is there but is not what it should be: the platform's fault
    UNREADABLE = "unreadable"  # kubecert could not read it: the check cannot be carried out


@dataclass(frozen=True)
class Problem:
    """Why part of a target could not be observed, named by file and by what was expected there."""

    subject: str  # canonical name: "apiserver", "admin.conf", "sa.key", "apiserver.key"
    path: str
    kind: ProblemKind
    message: str

    def describe(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class FileFacts:
    path: str
    mode: int  # permission bits only
    uid: int
    gid: int
    owner: str
    group: str
    kind: str  # what the path leads to: "file", "dir", "other", or "dangling" (a symlink to nothing)
    # Where the path really is, when it is a symlink or lies below one (mode, owner and kind are then the
    # real file's); None for a plain path.
    link: str | None = None
    outside: bool = False  # the real file lies outside the target's tree

    def evidence(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"path": self.path, "mode": f"{self.mode:04o}", "owner": f"{self.owner}:{self.group}"}
        if self.link is not None:
            facts["resolves_to"] = self.link
        if self.outside:
            facts["outside_the_tree"] = True
        return facts


@dataclass(frozen=True)
class PublicKeyFacts:
    algorithm: str  # "RSA", "ECDSA", "Ed25519", "DSA", ...
    size: int  # bits
    curve: str | None  # "secp256r1" for ECDSA
    spki_sha256: str  # identifies the key pair without revealing it

    @classmethod
    def of(cls, key: Any) -> PublicKeyFacts:
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        digest = hashlib.sha256(der).hexdigest()
        if isinstance(key, rsa.RSAPublicKey):
            return cls("RSA", key.key_size, None, digest)
        if isinstance(key, ec.EllipticCurvePublicKey):
            return cls("ECDSA", key.key_size, key.curve.name, digest)
        if isinstance(key, ed25519.Ed25519PublicKey):
            return cls("Ed25519", 256, None, digest)
        if isinstance(key, ed448.Ed448PublicKey):
            return cls("Ed448", 456, None, digest)
        if isinstance(key, dsa.DSAPublicKey):
            return cls("DSA", key.key_size, None, digest)
        return cls(type(key).__name__, 0, None, digest)

    def describe(self) -> str:
        return f"{self.algorithm}-{self.curve}" if self.curve else f"{self.algorithm}-{self.size}"


@dataclass(frozen=True)
class KeyFacts:
    """A private key reduced to facts; the key itself is dropped as soon as it is read. Its traces let
    evidence be cleaned of it (keymaterial.py), and can give nothing of it back."""

    path: str
    pem_type: str  # "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"
    public: PublicKeyFacts
    file: FileFacts | None = None
    traces: KeyTraces = field(default_factory=KeyTraces, compare=False, repr=False)


@dataclass(eq=False)
class CertRecord:
    """One certificate of the target, parsed once; derived facts are computed on first use."""

    name: str  # canonical kubeadm name: "apiserver", "etcd-ca", "admin.conf"
    role: Role
    path: str  # file, or the kubeconfig that embeds it
    cert: x509.Certificate
    pem: bytes
    key: KeyFacts | None = None  # the private key beside it, if one was found and readable
    file: FileFacts | None = None
    machine: str | None = None
    in_file: int = 1  # certificates in its file: kubeadm and kubecert use the first
    # The certificates after it in its file, parsed when it was: rules never parse a file again.
    rest_of_file: tuple[x509.Certificate, ...] = field(default=(), repr=False)
    # The target's report lists this certificate with the identity its evidence would give (summary.py): a
    # finding that passes names it by reference, and the report's join finds the rest there.
    listed: bool = field(default=False, repr=False)

    @cached_property
    def fingerprint_sha256(self) -> str:
        return self.cert.fingerprint(_SHA256).hex()

    @cached_property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    @cached_property
    def issuer(self) -> str:
        return self.cert.issuer.rfc4514_string()

    @cached_property
    def common_name(self) -> str | None:
        values = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(values[0].value) if values else None

    @cached_property
    def organizations(self) -> tuple[str, ...]:
        return tuple(str(a.value) for a in self.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))

    @property
    def not_before(self) -> dt.datetime:
        return self.cert.not_valid_before_utc

    @property
    def not_after(self) -> dt.datetime:
        return self.cert.not_valid_after_utc

    @property
    def lifetime(self) -> dt.timedelta:
        return self.not_after - self.not_before

    @cached_property
    def serial(self) -> int:
        with warnings.catch_warnings():
            # Serial 0 is what kubeadm before v1.28 and kind give their CAs; KC rules accept it.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return self.cert.serial_number

    @cached_property
    def public_key(self) -> PublicKeyFacts:
        return PublicKeyFacts.of(self.cert.public_key())

    @cached_property
    def signature_hash(self) -> str | None:
        algorithm = self.cert.signature_hash_algorithm
        return algorithm.name if algorithm is not None else None

    def _extension(self, kind: type[Any]) -> Any:
        try:
            return self.cert.extensions.get_extension_for_class(kind).value
        except x509.ExtensionNotFound:
            return None

    @cached_property
    def san(self) -> x509.SubjectAlternativeName | None:
        return self._extension(x509.SubjectAlternativeName)  # type: ignore[no-any-return]

    @cached_property
    def dns_sans(self) -> tuple[str, ...]:
        return tuple(self.san.get_values_for_type(x509.DNSName)) if self.san else ()

    @cached_property
    def ip_sans(self) -> tuple[str, ...]:
        if not self.san:
            return ()
        return tuple(str(ip) for ip in self.san.get_values_for_type(x509.IPAddress))

    def has_ip_san(self, address: str) -> bool:
        wanted = ipaddress.ip_address(address)
        return any(ipaddress.ip_address(ip) == wanted for ip in self.ip_sans)

    @cached_property
    def extended_key_usage(self) -> tuple[str, ...] | None:
        eku = self._extension(x509.ExtendedKeyUsage)
        return None if eku is None else tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku)

    @cached_property
    def key_usage(self) -> tuple[str, ...] | None:
        ku = self._extension(x509.KeyUsage)
        if ku is None:
            return None
        used = []
        for usage in _KEY_USAGE_NAMES:
            if getattr(ku, usage):
                used.append(usage)
        if ku.key_agreement:  # encipher_only/decipher_only are only defined with key_agreement
            used += [u for u in ("encipher_only", "decipher_only") if getattr(ku, u)]
        return tuple(used)

    @cached_property
    def basic_constraints(self) -> x509.BasicConstraints | None:
        return self._extension(x509.BasicConstraints)  # type: ignore[no-any-return]

    @cached_property
    def subject_key_identifier(self) -> str | None:
        ski = self._extension(x509.SubjectKeyIdentifier)
        return ski.digest.hex() if ski is not None else None

    @cached_property
    def authority_key_identifier(self) -> str | None:
        aki = self._extension(x509.AuthorityKeyIdentifier)
        return aki.key_identifier.hex() if aki is not None and aki.key_identifier else None

    @property
    def self_issued(self) -> bool:
        return self.cert.issuer == self.cert.subject

    def signed_by(self, issuer: CertRecord) -> str | None:
        """None when ``issuer`` signed this certificate, else why not.

        The signature is checked with the issuer's public key directly rather than through
        ``verify_directly_issued_by``, which refuses SHA-1: a SHA-1 signature is still a signature, and
        KC-X509-06 is the rule that judges its strength.
        """
        if self.cert.issuer != issuer.cert.subject:
            return f"issuer {self.issuer!r} is not {issuer.name}'s subject {issuer.subject!r}"
        key = issuer.cert.public_key()
        signature, data = self.cert.signature, self.cert.tbs_certificate_bytes
        algorithm = self.cert.signature_hash_algorithm
        try:
            if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
                key.verify(signature, data, padding.PKCS1v15(), algorithm)
            elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
                key.verify(signature, data, ec.ECDSA(algorithm))
            elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
                key.verify(signature, data)
            else:
                return f"cannot verify a {self.cert.signature_algorithm_oid._name} signature with {issuer.name}'s key"
        except InvalidSignature:
            return f"signature does not verify with {issuer.name}'s key"
        except (ValueError, TypeError) as exc:  # e.g. an RSA-PSS signature, or key and algorithm that do not fit
            return f"signature cannot be verified with {issuer.name}'s key: {exc}"
        return None

    def evidence(self, *, by_reference: bool = False) -> dict[str, Any]:
        """What a report needs to identify this certificate without the file at hand; ``by_reference``
        leaves out what the target's certificate record holds (IDENTITY_FIELDS), for a listed certificate."""
        facts: dict[str, Any] = {"certificate": self.name}
        if not by_reference:
            facts.update(path=self.path, subject_dn=self.subject, issuer_dn=self.issuer)
        facts.update(serial=format(self.serial, "x"), fingerprint_sha256=self.fingerprint_sha256)
        if not by_reference:
            facts.update(not_before=isoformat(self.not_before), not_after=isoformat(self.not_after))
        if self.machine:
            facts["machine"] = self.machine
        if self.in_file > 1:
            facts["certificates_in_file"] = self.in_file
        return facts

    def finding_evidence(self, offender: bool, facts: Mapping[str, Any]) -> dict[str, Any]:
        """This certificate's part of the evidence of a finding about it: by reference when it is listed, did not
        offend (an offender is named in full where it is judged), and the rule's ``facts`` say none of it."""
        return self.evidence(by_reference=self.listed and not offender and not facts.keys() & EVIDENCE_FIELDS)


# What CertRecord.evidence says that the target's certificate records say too (the report joins them by
# fingerprint_sha256), and every key it may give.
IDENTITY_FIELDS = frozenset({"path", "subject_dn", "issuer_dn", "not_before", "not_after"})
EVIDENCE_FIELDS = IDENTITY_FIELDS | {"certificate", "serial", "fingerprint_sha256", "machine", "certificates_in_file"}


@dataclass(frozen=True)
class KubeconfigRecord:
    name: str  # file name: admin.conf
    path: str
    file: FileFacts | None
    user: str | None  # the current context's user name
    server: str | None
    ca_pem: bytes | None  # certificate-authority-data, decoded
    ca_cert: x509.Certificate | None  # the same, parsed
    client_cert: CertRecord | None  # embedded client-certificate-data
    client_cert_path: str | None  # client-certificate: a file path instead
    client_key_path: str | None
    embedded_key: KeyFacts | None  # client-key-data, reduced to facts

    @property
    def embeds_client_cert(self) -> bool:
        return self.client_cert is not None

    @property
    def ca_fingerprint_sha256(self) -> str | None:
        return self.ca_cert.fingerprint(_SHA256).hex() if self.ca_cert is not None else None


@dataclass(frozen=True)
class ServiceAccountKeys:
    private: KeyFacts | None
    public: PublicKeyFacts | None
    public_path: str
    private_path: str


@dataclass(frozen=True)
class KubeletConfig:
    """What /var/lib/kubelet/config.yaml says about the kubelet's certificates; None where it says nothing
    (the kubelet's default for both switches is false)."""

    path: str
    rotate_certificates: bool | None
    server_tls_bootstrap: bool | None
    tls_cert_file: str | None  # a serving certificate of the user's own instead of one the kubelet makes
    tls_key_file: str | None


@dataclass(frozen=True)
class CurrentLink:
    """A ``kubelet-*-current.pem`` as the kubelet's certificate store keeps it: a symlink to a dated file."""

    path: str
    target: str | None  # what the link says (os.readlink), None when it is not a symlink
    reaches: str | None  # the dated file it stands for in the folder read, None when it leads out of it


@dataclass
class KubeletFolder:
    """The kubelet's folder (/var/lib/kubelet, or a copy of it): config.yaml and the certificates in pki/."""

    folder: str
    config: KubeletConfig | None = None
    client: CertRecord | None = None  # what kubelet-client-current.pem holds (certificate and key in one file)
    client_link: CurrentLink | None = None
    serving: CertRecord | None = None  # kubelet.crt, or kubelet-server-current.pem with serverTLSBootstrap
    serving_link: CurrentLink | None = None
    # The serving certificate is signed by itself or by a certificate in its own file: the throw-away CA the
    # kubelet makes when it signs its own (client-go certutil writes the leaf, then that CA).
    serving_self_signed: bool = False
    dated: tuple[str, ...] = ()  # the dated kubelet-client-*/kubelet-server-*.pem files, by name
    files: list[FileFacts] = field(default_factory=list)  # config.yaml, pki/ and what is in it

    def certificates(self) -> Iterator[CertRecord]:
        yield from (record for record in (self.client, self.serving) if record is not None)


@dataclass
class Inventory:
    """Everything observed of one target at one time."""

    target: str
    observed_at: dt.datetime
    certificates: dict[str, CertRecord] = field(default_factory=dict)  # CAs and leaves, by name
    kubeconfigs: dict[str, KubeconfigRecord] = field(default_factory=dict)
    service_account: ServiceAccountKeys | None = None
    files: list[FileFacts] = field(default_factory=list)  # everything under the pki folder
    problems: list[Problem] = field(default_factory=list)
    facts: NodeFacts = field(default_factory=NodeFacts)  # the node's facts, resolved
    kubelet: KubeletFolder | None = None  # the kubelet's folder, when the target was given one
    owners_visible: bool = True
    location: Mapping[str, str] = field(default_factory=dict)  # folders read, for the report

    def platform_observation(self) -> PlatformObservation | None:
        """The platform an API target observed (inventory/platform_inventory.py); None for a target that has no
        management API. A method, so that a node's check never imports the platform's model to ask."""
        return None

    def cas(self) -> Iterator[CertRecord]:
        return (c for c in self.certificates.values() if c.role is Role.CA)

    def leaves(self) -> Iterator[CertRecord]:
        return (c for c in self.certificates.values() if c.role is Role.LEAF)

    def kubeconfig_certs(self) -> Iterator[CertRecord]:
        return (k.client_cert for k in self.kubeconfigs.values() if k.client_cert is not None)

    def kubelet_certs(self) -> Iterator[CertRecord]:
        return self.kubelet.certificates() if self.kubelet is not None else iter(())

    def all_certs(self) -> Iterator[CertRecord]:
        yield from self.certificates.values()
        yield from self.kubeconfig_certs()
        yield from self.kubelet_certs()

    def keys(self) -> Iterator[KeyFacts]:
        """Every private key read: the certificates', sa.key, the kubeconfigs' and the kubelet's."""
        for record in self.all_certs():
            if record.key is not None:
                yield record.key
        for kubeconfig in self.kubeconfigs.values():
            if kubeconfig.embedded_key is not None:
                yield kubeconfig.embedded_key
        if self.service_account is not None and self.service_account.private is not None:
            yield self.service_account.private

    @cached_property
    def key_traces(self) -> KeyTraces:
        """The traces of every private key read, taken once the observation is complete."""
        return KeyTraces.union(key.traces for key in self.keys())

    def problems_for(self, *subjects: str) -> list[Problem]:
        wanted = set(subjects)
        return [p for p in self.problems if p.subject in wanted]

