"""Reading the kubelet's folder (/var/lib/kubelet, or a copy of it): config.yaml and the certificates in pki/.

The kubelet's certificate store keeps each certificate and its key in one dated file and points
``kubelet-<client|server>-current.pem`` at the newest with an absolute symlink into /var/lib/kubelet/pki.
In a copy of the folder that link leads to the host's own file, so a link into the kubelet's certificate
folder is read as the same name in the folder given, and any other link out of the folder is not followed.
Keys are reduced to facts as they are read and only the certificates' own PEM is kept: the key half of a
combined file never reaches a record.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubecert import layout
from kubecert.inventory.files import (
    MAX_FILE_BYTES,
    ReadFailure,
    add_named,
    file_facts,
    os_reason,
    parse_certificates,
    parse_private_key,
    read_bytes,
    real_folders,
    walk_bounded,
)
from kubecert.inventory.model import CertRecord, CurrentLink, KubeletConfig, KubeletFolder, Problem, ProblemKind, Role
from kubecert.inventory.safe_yaml import YamlBeyondBound, YamlError, load_bounded

CLIENT_KEY = f"{layout.KUBELET_CLIENT} key"  # problem subjects of the keys, apart from their certificates'
SERVING_KEY = f"{layout.KUBELET_SERVING} key"
PKI_FOLDER = "kubelet pki"  # the subject of a certificate folder that cannot be listed, or too large to walk
_CURRENT_LINKS = frozenset({layout.KUBELET_CLIENT_CURRENT, layout.KUBELET_SERVER_CURRENT})
_SHOWN_VALUE_CHARS = 40


def default_kubelet_dir(pki_dir: Path, kubeconfig_dir: Path) -> Path | None:
    """The kubelet folder of a node folder whose user named none: the host's /var/lib/kubelet only for the
    host's own /etc/kubernetes/pki (a copied folder must never be judged by the host's kubelet); else a
    ``kubelet`` folder beside the kubeconfigs when there is one (a copied node, the reference's layout)."""
    if os.path.realpath(pki_dir) == layout.NODE_PKI_DIR:
        return Path(layout.KUBELET_DIR)
    beside = kubeconfig_dir / "kubelet"
    return beside if beside.is_dir() else None


def load_kubelet(folder: Path, problems: list[Problem], machine: str | None = None) -> KubeletFolder:
    """The kubelet folder at ``folder``; whatever cannot be read is added to ``problems``, naming the file."""
    found = KubeletFolder(folder=str(folder))
    tree = real_folders(folder)
    pki = folder / "pki"
    config_path = folder / layout.KUBELET_CONFIG
    found.config = _config(config_path, problems)
    config_facts = file_facts(config_path, tree)
    found.files = [config_facts] if config_facts is not None else []
    unlisted = _unlisted(folder, pki)
    if unlisted is not None:
        problems.append(unlisted)
    walked, flooded = walk_bounded(pki, PKI_FOLDER, tree, skip_links=_CURRENT_LINKS)
    found.files += walked
    if flooded is not None:
        problems.append(flooded)
    found.dated = tuple(sorted(
        PurePosixPath(entry.path).name for entry in found.files
        if PurePosixPath(entry.path).parent == PurePosixPath(pki)
        and layout.DATED_PEM.fullmatch(PurePosixPath(entry.path).name)
    ))
    reader = _Reader(pki, tree, machine, problems)
    found.client_link, found.client = reader.current(layout.KUBELET_CLIENT_CURRENT, layout.KUBELET_CLIENT, CLIENT_KEY)
    config = found.config
    if config is not None and config.server_tls_bootstrap:
        found.serving_link, found.serving = reader.current(layout.KUBELET_SERVER_CURRENT, layout.KUBELET_SERVING,
                                                           SERVING_KEY)
        if found.serving_link is None:
            reader.explain_missing(layout.KUBELET_SERVING, "serverTLSBootstrap is on and no serving certificate was "
                                   "issued: the kubelet serves nothing until its CSR is approved")
    elif config is not None and config.tls_cert_file:
        found.serving = reader.named(config.tls_cert_file, config.tls_key_file)
    else:
        found.serving = reader.pair(pki / layout.KUBELET_SERVING_CERT, pki / layout.KUBELET_SERVING_KEY)
    found.serving_self_signed = reader.self_signed
    if flooded is not None:  # the files the kubelet uses are known by name, or through its links
        reached = [Path(link.reaches) for link in (found.client_link, found.serving_link)
                   if link is not None and link.reaches is not None]
        add_named(found.files, [pki / layout.KUBELET_SERVING_CERT, pki / layout.KUBELET_SERVING_KEY, *reached], tree)
    return found


def _unlisted(folder: Path, pki: Path) -> Problem | None:
    """Why the kubelet's certificate folder cannot be listed (its files then are not judged), or None."""
    for path in (folder, pki):
        try:
            os.listdir(path)
        except FileNotFoundError:
            return None  # each file the rules need is then reported missing, by name
        except OSError as exc:
            why = f"{os_reason(exc)}; its files are not judged"
            return Problem(PKI_FOLDER, str(path), ProblemKind.UNREADABLE, why)
    return None


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[:_SHOWN_VALUE_CHARS] + "..."


def _config(path: Path, problems: list[Problem]) -> KubeletConfig | None:
    """config.yaml's certificate switches; a Problem (and None) when the kubelet could not start with it."""
    subject = layout.KUBELET_CONFIG

    def invalid(message: str) -> None:
        problems.append(Problem(subject, str(path), ProblemKind.INVALID, message))

    try:
        document = load_bounded(read_bytes(path, subject), max_bytes=MAX_FILE_BYTES)
    except ReadFailure as failure:
        problems.append(failure.problem)
        return None
    except YamlError as exc:  # one past kubecert's bounds is not read, rather than wrong
        bound = isinstance(exc, YamlBeyondBound)
        problems.append(Problem(subject, str(path), ProblemKind.UNREADABLE if bound else ProblemKind.INVALID,
                                f"{'not read' if bound else 'unusable kubelet configuration'}: {exc}"))
        return None
    if not isinstance(document, dict):
        invalid("not a KubeletConfiguration: the YAML is not a mapping")
        return None
    kind = document.get("kind")
    if kind is not None and kind != "KubeletConfiguration":
        invalid(f"kind is {_brief(kind)}, not KubeletConfiguration")
        return None
    values: dict[str, Any] = {}
    for field, key, kinds in (("rotate_certificates", "rotateCertificates", bool),
                              ("server_tls_bootstrap", "serverTLSBootstrap", bool),
                              ("tls_cert_file", "tlsCertFile", str), ("tls_key_file", "tlsPrivateKeyFile", str)):
        value = document.get(key)
        if value is not None and not isinstance(value, kinds):
            wanted = "true or false" if kinds is bool else "a path"
            invalid(f"{key} is {_brief(value)}, not {wanted}: the kubelet refuses this configuration")
            return None
        values[field] = (value or None) if kinds is str else value
    return KubeletConfig(path=str(path), **values)


class _Reader:
    """Reads the kubelet's certificate files in one folder, keeping the problems and whether the serving
    certificate it read last signed itself."""

    def __init__(self, pki: Path, tree: tuple[Path, ...], machine: str | None, problems: list[Problem]) -> None:
        self.pki, self.tree, self.machine, self.problems = pki, tree, machine, problems
        self.self_signed = False

    def current(self, link_name: str, name: str, key_subject: str) -> tuple[CurrentLink | None, CertRecord | None]:
        """``kubelet-*-current.pem``: where it leads, and the certificate and key of the file it leads to."""
        path = self.pki / link_name
        try:
            is_link = stat.S_ISLNK(os.lstat(path).st_mode)
        except FileNotFoundError:
            return None, self.combined(path, name, key_subject)  # reported missing by name
        except OSError as exc:
            self.problems.append(Problem(name, str(path), ProblemKind.UNREADABLE, os_reason(exc)))
            return None, None
        if not is_link:  # a plain file: read as it is (the rotation rule says what it means)
            return CurrentLink(str(path), None, str(path)), self.combined(path, name, key_subject)
        target = os.readlink(path)
        reached = self._in_folder(target)
        link = CurrentLink(str(path), target, str(reached) if reached is not None else None)
        if reached is None:
            self.problems.append(Problem(name, str(path), ProblemKind.INVALID,
                                         f"links to {target}, outside the kubelet's certificate folder: not followed"))
            return link, None
        if not os.path.lexists(reached):
            self.problems.append(Problem(name, str(path), ProblemKind.INVALID,
                                         f"links to {target}, which is not in {self.pki}"))
            return link, None
        return link, self.combined(reached, name, key_subject, via=path)

    def explain_missing(self, subject: str, why: str) -> None:
        """Say why ``subject`` being missing matters, in the problem that reports it."""
        self.problems[:] = [dataclasses.replace(p, message=f"{p.message}: {why}")
                            if p.subject == subject and p.kind is ProblemKind.MISSING else p for p in self.problems]

    def _in_folder(self, target: str) -> Path | None:
        """The file in the folder read that a link to ``target`` stands for; None when it leads elsewhere."""
        pure = PurePosixPath(target)
        if pure.name in ("", ".", ".."):
            return None
        if not pure.is_absolute():
            return self.pki / pure.name if len(pure.parts) == 1 else None
        # The kubelet writes absolute links into its --cert-dir: in a copy they stand for the copy's files.
        if pure.parent in (PurePosixPath(layout.KUBELET_CERT_DIR), PurePosixPath(os.path.realpath(self.pki))):
            return self.pki / pure.name
        return None

    def _inside(self, path: Path, subject: str) -> bytes:
        """The file's content, unless it resolves out of the kubelet folder (a copy must not read the host's)."""
        facts = file_facts(path, self.tree)
        if facts is not None and facts.outside:
            raise ReadFailure(Problem(subject, str(path), ProblemKind.INVALID,
                                      f"resolves to {facts.link}, outside the kubelet folder: not read"))
        return read_bytes(path, subject)

    def combined(self, path: Path, name: str, key_subject: str, via: Path | None = None) -> CertRecord | None:
        """A file holding a certificate and its key, as the kubelet's certificate store writes them; ``via`` is
        the link it was reached through, which problems name too (it is the name the user knows)."""
        mark = len(self.problems)
        record: CertRecord | None = None
        try:
            data = self._inside(path, name)
            record = self._record(path, name, data)
        except ReadFailure as failure:
            self.problems.append(failure.problem)
        if record is not None:
            self._key(record, path, data, key_subject)
        if via is not None:
            self.problems[mark:] = [dataclasses.replace(problem, message=f"{problem.message} (reached through {via})")
                                    for problem in self.problems[mark:]]
        return record

    def pair(self, cert_path: Path, key_path: Path) -> CertRecord | None:
        """A certificate file and its key file (kubelet.crt and kubelet.key)."""
        try:
            record = self._record(cert_path, layout.KUBELET_SERVING, self._inside(cert_path, layout.KUBELET_SERVING))
            self._key(record, key_path, self._inside(key_path, SERVING_KEY), SERVING_KEY)
        except ReadFailure as failure:
            self.problems.append(failure.problem)
            return None
        return record

    def named(self, cert_file: str, key_file: str | None) -> CertRecord | None:
        """The serving certificate config.yaml names (tlsCertFile), read where the folder holds it."""
        cert_path = self._in_kubelet_dir(cert_file)
        key_path = self._in_kubelet_dir(key_file) if key_file else None
        if cert_path is None or key_path is None:
            outside = cert_file if cert_path is None else key_file
            why = f"{outside} is outside the kubelet folder kubecert reads" if outside else "no tlsPrivateKeyFile"
            self.problems.append(Problem(layout.KUBELET_SERVING, cert_file, ProblemKind.UNREADABLE,
                                         f"tlsCertFile is set but not read: {why}"))
            return None
        return self.pair(cert_path, key_path)

    def _in_kubelet_dir(self, node_path: str) -> Path | None:
        pure = PurePosixPath(node_path)
        root = PurePosixPath(layout.KUBELET_DIR)
        if not pure.is_absolute() or ".." in pure.parts or root not in pure.parents:
            return None
        return self.pki.parent.joinpath(*pure.relative_to(root).parts)

    def _record(self, path: Path, name: str, data: bytes) -> CertRecord:
        certs = parse_certificates(data, path, name)
        pem = b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)  # never the key beside them
        record = CertRecord(name=name, role=Role.KUBELET, path=str(path), cert=certs[0], pem=pem,
                            file=file_facts(path, self.tree), machine=self.machine, in_file=len(certs),
                            rest_of_file=tuple(certs[1:]))
        if name == layout.KUBELET_SERVING:
            self.self_signed = _signed_in_file(record, certs[1:])
        return record

    def _key(self, record: CertRecord, path: Path, data: bytes, subject: str) -> None:
        try:
            record.key = parse_private_key(data, path, subject, file_facts(path, self.tree))
        except ReadFailure as failure:
            self.problems.append(failure.problem)


def _signed_in_file(leaf: CertRecord, others: list[x509.Certificate]) -> bool:
    """Whether ``leaf`` is signed by itself or by one of the certificates after it in its file."""
    if leaf.self_issued and leaf.signed_by(leaf) is None:
        return True
    for cert in others:
        issuer = CertRecord(name="issuer in file", role=Role.CA, path=leaf.path, cert=cert, pem=b"")
        if leaf.signed_by(issuer) is None:
            return True
    return False
