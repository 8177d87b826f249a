"""Parsing a kubeadm kubeconfig into a KubeconfigRecord: YAML, then the current context's user."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from kubecert.inventory.files import (
    MAX_FILE_BYTES,
    ReadFailure,
    file_facts,
    parse_certificate,
    parse_private_key,
    read_bytes,
)
from kubecert.inventory.model import CertRecord, KeyFacts, KubeconfigRecord, Problem, ProblemKind, Role
from kubecert.inventory.safe_yaml import YamlBeyondBound, YamlError, load_bounded


def load_kubeconfig(path: Path, machine: str | None = None, tree: tuple[Path, ...] = (),
                    context: str | None = None, parsed: Mapping[bytes, x509.Certificate] | None = None,
                    ) -> KubeconfigRecord:
    """The kubeconfig at ``path`` as its current context (or ``context``) uses it; ReadFailure names the
    file and field when it cannot be used. ``parsed``: the first certificate of PEM texts already read (the
    node's ca.crt, which kubeadm embeds in each kubeconfig byte for byte), not parsed again."""
    name = path.name
    document = read_document(path)
    invalid = _invalid(path)
    chosen = chosen_entries(document, context, invalid)
    user_name, user, cluster = chosen.user_name, chosen.user, chosen.cluster

    ca_pem = _decoded(cluster, "certificate-authority-data", invalid)
    ca_cert = None
    if ca_pem is not None:
        ca_cert = (parsed or {}).get(ca_pem) or parse_certificate(ca_pem, path, name)

    client_cert: CertRecord | None = None
    cert_pem = _decoded(user, "client-certificate-data", invalid)
    if cert_pem is not None:
        cert = parse_certificate(cert_pem, path, name)
        client_cert = CertRecord(
            name=name, role=Role.KUBECONFIG, path=str(path), cert=cert, pem=cert_pem,
            file=file_facts(path, tree), machine=machine,
        )
    embedded_key: KeyFacts | None = None
    key_pem = _decoded(user, "client-key-data", invalid)
    if key_pem is not None:
        embedded_key = parse_private_key(key_pem, path, name, None)
        if client_cert is not None:
            client_cert.key = embedded_key

    return KubeconfigRecord(
        name=name, path=str(path), file=file_facts(path, tree), user=str(user_name) if user_name else None,
        server=_string(cluster.get("server")), ca_pem=ca_pem, ca_cert=ca_cert, client_cert=client_cert,
        client_cert_path=_string(user.get("client-certificate")),
        client_key_path=_string(user.get("client-key")), embedded_key=embedded_key,
    )


def read_document(path: Path) -> dict[str, Any]:
    """The kubeconfig at ``path`` as YAML, read with bounds; ReadFailure when it is not a kubeconfig's mapping."""
    data = read_bytes(path, path.name)
    try:
        document = load_bounded(data, max_bytes=MAX_FILE_BYTES)
    except YamlBeyondBound as exc:  # a bound is not a verdict on the file: the rules that needed it are errors
        raise ReadFailure(Problem(path.name, str(path), ProblemKind.UNREADABLE, f"not read: {exc}")) from None
    except YamlError as exc:
        raise _invalid(path)(f"unusable kubeconfig: {exc}") from None
    if not isinstance(document, dict):
        raise _invalid(path)("not a kubeconfig: the YAML is not a mapping")
    return document


def _invalid(path: Path) -> Callable[[str], ReadFailure]:
    return lambda message: ReadFailure(Problem(path.name, str(path), ProblemKind.INVALID, message))


def _string(value: Any) -> str | None:
    return str(value) if value is not None else None


@dataclass(frozen=True)
class Chosen:
    """The entries a context picks, with their places in the file (``users[2]``) for messages that name a field."""

    context_name: Any
    user_name: Any
    user: dict[str, Any]
    user_at: str  # "users[0].user", or "users" when no entry was chosen
    cluster: dict[str, Any]
    cluster_at: str


def chosen_entries(document: dict[str, Any], context: str | None, invalid: Any) -> Chosen:
    """The cluster and user of ``context`` (default: the current context; with one context, one user or one
    cluster in the file, that one); ``invalid(message)`` makes the error raised for a file that cannot say."""
    context_name = context or document.get("current-context")
    chosen = _named(document, "contexts", context_name, "context", invalid) if context_name else None
    if context is not None and chosen is None:
        raise invalid(f"has no context named {context!r}")
    if chosen is None:
        chosen = _only_entry(document, "contexts", "context", invalid)
    body = chosen[1] if chosen else {}
    user_name, cluster_name = body.get("user"), body.get("cluster")
    user = (_named(document, "users", user_name, "user", invalid) if user_name else None) or \
        _only_entry(document, "users", "user", invalid)
    cluster = (_named(document, "clusters", cluster_name, "cluster", invalid) if cluster_name else None) or \
        _only_entry(document, "clusters", "cluster", invalid)
    return Chosen(context_name, user_name, user[1] if user else {}, user[0] if user else "users",
                  cluster[1] if cluster else {}, cluster[0] if cluster else "clusters")


def _entries(document: dict[str, Any], section: str, invalid: Any) -> list[dict[str, Any]]:
    entries = document.get(section) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise invalid(f"{section} is not a list of named entries")
    return entries


def _named(document: dict[str, Any], section: str, wanted: Any, field: str,
           invalid: Any) -> tuple[str, dict[str, Any]] | None:
    for index, entry in enumerate(_entries(document, section, invalid)):
        if entry.get("name") == wanted:
            body = entry.get(field)
            if not isinstance(body, dict):
                raise invalid(f"{section}[name={wanted}].{field} is not a mapping")
            return f"{section}[{index}].{field}", body
    return None


def _only_entry(document: dict[str, Any], section: str, field: str,
                invalid: Any) -> tuple[str, dict[str, Any]] | None:
    entries = _entries(document, section, invalid)
    if len(entries) != 1:
        return None
    body = entries[0].get(field)
    return (f"{section}[0].{field}", body) if isinstance(body, dict) else None


def _decoded(body: dict[str, Any], key: str, invalid: Any) -> bytes | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{key} is not valid base64") from None
