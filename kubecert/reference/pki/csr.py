"""CSR-only renewal in the seed's form: a key and a certificate signing request for every certificate,
nothing else touched.

The seed's ``kubeadm alpha certs renew --csr-only --csr-dir DIR`` (Manager.CreateRenewCSR): for each
certificate renewal knows, the request carries the subject (CN, O) and the DNS and IP SANs of the
certificate on disk, and no usages ("it is the responsibility of the CA to specify the correct cert
usages"); the files are ``<name>.key`` and ``<name>.csr`` in DIR, named as renewal names the
certificate (``etcd-server``, ``admin.conf``). A CA cannot be produced as a CSR, and no existing file is
changed. It prints the lines ``kubeadm certs generate-csr`` prints (``generating keys and CSRs in DIR``,
then one indented name per file pair), writes keys and CSRs 0600 in a folder made 0700, and refuses to
overwrite a key or CSR that is already there. kubeadm v1.23 replaced the flag by ``certs generate-csr``,
whose own layout kubeadm_csr.py writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki import renewal_faults as faults
from kubecert.reference.pki.files import ensure_dir, write_atomic
from kubecert.reference.pki.issue import IPAddress, normalized_dns, normalized_ips, subject_name, template_of
from kubecert.reference.pki.keys import KeyFactory, PrivateKey, private_key_pem, signature_hash
from kubecert.reference.pki.renew import (
    MISSING,
    current_certificate,
    exists,
    line_for,
    local_etcd,
    new_key_like,
    renewable_names,
)
from kubecert.reference.pki.tree import PkiTree
from kubecert.reference.pki.versions import KubeadmVersion

CSR_MODE = 0o600  # keys and CSRs alike
CSR_DIR_MODE = 0o700


@dataclass(frozen=True)
class CsrResult:
    csr_dir: Path
    written: tuple[str, ...]  # names that got a key and a CSR
    log: tuple[str, ...]


def csr_for(template_source: x509.Certificate, key: PrivateKey) -> x509.CertificateSigningRequest:
    """A request with the certificate's subject and SANs and no usages (pkiutil.NewCSR)."""
    source = template_of(template_source)
    return csr_request(source.cn, source.orgs, source.dns, source.ips, key)


def csr_request(cn: str, orgs: Iterable[str], dns: Iterable[str], ips: Iterable[str | IPAddress],
                key: PrivateKey) -> x509.CertificateSigningRequest:
    """pkiutil.NewCSR: the subject, the DNS and IP SANs, no usages, signed by ``key``."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject_name(cn, orgs))
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in normalized_dns(dns)]
    sans += [x509.IPAddress(address) for address in normalized_ips(ips)]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, signature_hash(key))


def generate_csr(
    root: Path, csr_dir: Path, *, keys: KeyFactory, fault: str | None = None, external_etcd: bool | None = None,
) -> CsrResult:
    """Write ``<name>.key`` and ``<name>.csr`` into ``csr_dir`` for every certificate of the tree at ``root``."""
    fault = faults.check_renewal_fault(fault, "generate-csr")
    csr_dir = Path(csr_dir)
    tree = PkiTree(Path(root))
    if not tree.pki_dir.is_dir():
        raise ReferenceUsageError(f"{root} holds no pki folder; give the folder that contains pki/")
    if external_etcd is None:
        external_etcd = not local_etcd(root)
    known = renewable_names(external_etcd, KubeadmVersion.of_tree(tree.root))
    names = [name for name in known if exists(tree, name)]
    if fault == faults.CSR_FOR_CA:
        names.append("ca")
    taken = [csr_dir / f"{name}{suffix}" for name in names for suffix in (".key", ".csr")]
    taken = [path for path in taken if os.path.lexists(path)]
    if taken:
        raise ReferenceUsageError(f"{taken[0]}: a key or CSR is already there; generate-csr never overwrites one")
    loose = fault == faults.CSR_LOOSE_MODES
    file_mode = 0o644 if loose else CSR_MODE
    ensure_dir(csr_dir, 0o755 if loose else CSR_DIR_MODE)
    log = [line_for(name, MISSING) for name in known if not exists(tree, name)]
    log.append(f"generating keys and CSRs in {csr_dir}")
    for name in names:
        current = current_certificate(tree, name)
        key = new_key_like(keys, current)
        # The key first, as kubeadm writes it.
        write_atomic(csr_dir / f"{name}.key", private_key_pem(key), file_mode)
        write_atomic(csr_dir / f"{name}.csr", csr_for(current, key).public_bytes(serialization.Encoding.PEM), file_mode)
        log.append(f"  {name}")
    return CsrResult(csr_dir=csr_dir, written=tuple(names), log=tuple(log))
