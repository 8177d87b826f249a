"""The server's own TLS: a CA it makes for itself, a serving certificate for the loopback names, and
the CA bundle clients verify it with. Kept beside the state, so a restarted server keeps its identity.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubecert.reference.pki.files import CERT_MODE, KEY_MODE, ensure_dir, write_atomic
from kubecert.reference.pki.issue import CertTemplate, cert_pem, sign
from kubecert.reference.pki.keys import load_private_key, private_key_pem

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ServerTls:
    ca_bundle: Path  # what clients pass as --ca-bundle
    cert_file: Path
    key_file: Path


def server_tls(folder: Path, names: tuple[str, ...] = DEFAULT_NAMES, *, now: dt.datetime | None = None) -> ServerTls:
    """The TLS files in ``folder``, made on first use and reused after (the serving certificate is
    remade when a name is missing from it)."""
    ensure_dir(folder, 0o700)
    tls = ServerTls(folder / "ca.crt", folder / "server.crt", folder / "server.key")
    ca_key_file = folder / "ca.key"
    moment = now or dt.datetime.now(dt.UTC)
    if not (tls.ca_bundle.exists() and ca_key_file.exists()):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        template = CertTemplate(cn="kubecert reference API CA", not_before=moment - dt.timedelta(minutes=5),
                                not_after=moment + dt.timedelta(days=3650), dns=("kubecert-reference-api-ca",),
                                is_ca=True)
        write_atomic(ca_key_file, private_key_pem(ca_key), KEY_MODE)
        write_atomic(tls.ca_bundle, cert_pem(sign(template, public_key=ca_key.public_key(), signer_key=ca_key)),
                     CERT_MODE)
    if tls.cert_file.exists() and tls.key_file.exists() and _covers(tls.cert_file, names):
        return tls
    signer = load_private_key(ca_key_file.read_bytes())
    ca_cert = x509.load_pem_x509_certificate(tls.ca_bundle.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    dns = tuple(n for n in names if not is_ip(n))
    ips = tuple(ipaddress.ip_address(n) for n in names if is_ip(n))
    template = CertTemplate(cn=names[0], not_before=moment - dt.timedelta(minutes=5),
                            not_after=moment + dt.timedelta(days=365), dns=dns, ips=ips, eku=("serverAuth",))
    write_atomic(tls.key_file, private_key_pem(key), KEY_MODE)
    write_atomic(tls.cert_file, cert_pem(sign(template, public_key=key.public_key(), signer_key=signer,
                                              issuer=ca_cert)), CERT_MODE)
    return tls


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _covers(cert_file: Path, names: tuple[str, ...]) -> bool:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(v) for v in san.get_values_for_type(x509.DNSName)}
    present |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    wanted = {str(ipaddress.ip_address(n)) if is_ip(n) else n for n in names}
    return wanted <= present and cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME) != []
