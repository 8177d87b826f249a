"""Reading a folder of certificate signing requests and their keys, as CSR-only renewal leaves it.

Two layouts are understood. The seed's ``renew --csr-only --csr-dir DIR``: ``DIR/<name>.csr`` and
``DIR/<name>.key`` with renewal's names (``apiserver``, ``etcd-server``, ``admin.conf``). kubeadm
v1.23+ ``certs generate-csr --cert-dir DIR/pki --kubeconfig-dir DIR``: file paths as in the PKI
folder (``pki/etcd/server.csr``), and for a kubeconfig ``admin.conf.csr`` beside a partial
``admin.conf`` that holds the key in ``client-key-data``. Keys are reduced to facts when read.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from kubecert import layout
from kubecert.inventory.files import (
    ReadFailure,
    entries_below,
    file_facts,
    parse_private_key,
    read_bytes,
)
from kubecert.inventory.kubeconfig import load_kubeconfig
from kubecert.inventory.model import FileFacts, KeyFacts, Problem, ProblemKind, PublicKeyFacts

_BY_PATH = {spec.path: spec.name for spec in layout.CERTS}
_NAMES = set(layout.CERTS_BY_NAME) | set(layout.KUBECONFIGS_BY_NAME)


@dataclass(frozen=True)
class CsrRecord:
    name: str  # the certificate it asks for: "apiserver", "admin.conf", or a CA's name
    path: str
    file: FileFacts | None
    common_name: str | None
    organizations: tuple[str, ...]
    dns_sans: tuple[str, ...]
    ip_sans: tuple[str, ...]
    public: PublicKeyFacts
    signature_valid: bool
    requests_ca: bool  # asks for basicConstraints CA:TRUE
    key: KeyFacts | None  # the private key that goes with it, reduced to facts
    key_file: FileFacts | None


@dataclass
class CsrFolder:
    root: str
    exists: bool
    csrs: dict[str, CsrRecord] = field(default_factory=dict)
    unnamed: list[str] = field(default_factory=list)  # CSR files that name no kubeadm certificate
    problems: list[Problem] = field(default_factory=list)
    folders: list[FileFacts] = field(default_factory=list)  # the folder and every folder below it


def certificate_name(relative: str) -> str | None:
    """The kubeadm name a CSR file (path below the CSR folder, without .csr) stands for, if any."""
    stem = relative.removeprefix("pki/")
    if stem in _NAMES:
        return stem
    return _BY_PATH.get(stem)


def load_csr_dir(csr_dir: Path) -> CsrFolder:
    folder = CsrFolder(root=str(csr_dir), exists=csr_dir.is_dir())
    if not folder.exists:
        return folder
    subfolders, others, beyond = entries_below([(csr_dir, True)])
    for path in [csr_dir, *sorted(subfolders)]:
        facts = file_facts(path)
        if facts is not None:
            folder.folders.append(facts)
    for path in sorted(others, key=lambda path: (len(path.parts), str(path))):  # a folder's files before deeper ones
        if path.name.endswith(".csr"):
            _load_one(csr_dir, path, folder)
    if beyond is not None:
        folder.problems.append(Problem("csr folder", str(csr_dir), ProblemKind.UNREADABLE,
                                       f"holds {beyond}: the CSRs past it are not judged"))
    return folder


def _load_one(csr_dir: Path, path: Path, folder: CsrFolder) -> None:
    relative = path.relative_to(csr_dir).as_posix().removesuffix(".csr")
    name = certificate_name(relative)
    if name is None:
        folder.unnamed.append(str(path))
        return
    try:
        request = x509.load_pem_x509_csr(read_bytes(path, f"{name}.csr"))
        extensions = request.extensions
    except ReadFailure as failure:
        folder.problems.append(failure.problem)
        return
    except ValueError as exc:
        folder.problems.append(Problem(f"{name}.csr", str(path), ProblemKind.INVALID, f"not a PEM CSR: {exc}"))
        return
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns, ips = tuple(san.get_values_for_type(x509.DNSName)), tuple(
            str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns, ips = (), ()
    try:
        requests_ca = extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        requests_ca = False
    common = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    key, key_file = _key_for(path, name, folder)
    folder.csrs[name] = CsrRecord(
        name=name, path=str(path), file=file_facts(path),
        common_name=str(common[0].value) if common else None,
        organizations=tuple(str(a.value) for a in request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)),
        dns_sans=dns, ip_sans=ips, public=PublicKeyFacts.of(request.public_key()),
        signature_valid=request.is_signature_valid, requests_ca=requests_ca, key=key, key_file=key_file,
    )


def _key_for(csr_path: Path, name: str, folder: CsrFolder) -> tuple[KeyFacts | None, FileFacts | None]:
    """``<stem>.key`` beside the CSR; for a kubeconfig, else the partial kubeconfig generate-csr writes."""
    key_path = csr_path.with_suffix(".key")
    partial = csr_path.with_suffix("")
    candidates = [key_path]
    if name in layout.KUBECONFIGS_BY_NAME and not os.path.lexists(key_path) and partial.is_file():
        candidates = [partial]
    path = candidates[0]
    facts = file_facts(path)
    try:
        if path == partial:
            embedded = load_kubeconfig(partial).embedded_key
            if embedded is None:
                raise ReadFailure(Problem(f"{name}.key", str(partial), ProblemKind.MISSING,
                                          "the partial kubeconfig holds no client-key-data"))
            return dataclasses.replace(embedded, path=str(partial), file=facts), facts
        return parse_private_key(read_bytes(path, f"{name}.key"), path, f"{name}.key", facts), facts
    except ReadFailure as failure:
        folder.problems.append(failure.problem)
        return None, facts
