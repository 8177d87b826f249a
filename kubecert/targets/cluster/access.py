"""What kubecert takes from a kubeconfig to reach a cluster's API, and what it refuses.

kubecert never hands a kubeconfig to the kubernetes client to interpret: the client runs its exec plugins
and auth-provider helpers, reads every file it names and sends a tokenFile's content to the server it names,
and a kubeconfig is what kubecert audits, at times straight from a node (kind:). kubecert reads the file
itself with bounds, takes the chosen context's cluster and user (no other entry is looked at), checks every
field they hold against the lists below, and keeps data only: the server, the CA, the client certificate and
key, a token, and, when the operator allowed it, the exec plugin to run. client.py builds the client from
that. A field that is refused is a KubeconfigRefused naming the kubeconfig and the field.

- cluster: ``server`` (https:// only, no user name or password in it), ``certificate-authority-data``,
  ``tls-server-name``, ``disable-compression`` (kubecert asks for no compression anyway) and
  ``insecure-skip-tls-verify: false``; ``certificate-authority`` with --allow-kubeconfig-files. Never
  ``proxy-url`` (KC-CL-01 must see what the server itself serves; a node's proxy would carry the
  credentials elsewhere) nor ``insecure-skip-tls-verify: true`` (kubecert always verifies the server).
- user: ``client-certificate-data``, ``client-key-data``, ``token``; ``client-certificate``, ``client-key``
  and ``tokenFile`` with --allow-kubeconfig-files; ``exec`` with --allow-kubeconfig-exec. Never
  ``auth-provider`` (its helpers run commands or call identity providers outside kubecert's bounds;
  kubectl dropped gcp and azure in 1.26), ``username``/``password`` (kube-apiserver dropped basic
  authentication in 1.19) nor impersonation (``as``, ``as-groups``, ...: kubecert acts as the kubeconfig's
  own identity).
- ``extensions`` anywhere: ignored. Anything else: refused, as a field kubecert does not know may mean
  something it would not do.

A kubeconfig taken from a node gets none of the opt-ins, whatever the options say (trust.py).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubecert.inventory.files import ReadFailure, read_bytes
from kubecert.inventory.kubeconfig import chosen_entries, read_document
from kubecert.inventory.model import ProblemKind
from kubecert.targets.cluster.trust import ALLOW_EXEC, ALLOW_FILES, KubeconfigTrust
from kubecert.targets.errors import TargetUnavailable
from kubecert.text import escaped

EXEC_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
MAX_SERVER_CHARS = 2048
MAX_TOKEN_CHARS = 16384
_HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                        r"[A-Za-z0-9])?)*\.?")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # what an Authorization header carries: visible ASCII, no space
_SHOWN_VALUE_CHARS = 120

_CLUSTER_FIELDS = frozenset({"server", "certificate-authority-data", "certificate-authority", "tls-server-name",
                             "insecure-skip-tls-verify", "disable-compression", "proxy-url", "extensions"})
_USER_FIELDS = frozenset({"client-certificate-data", "client-key-data", "token", "client-certificate",
                          "client-key", "tokenFile", "exec", "extensions"})
_NEVER_USER = {
    "auth-provider": "runs a helper or calls an identity provider, outside kubecert's bounds: kubecert uses no "
                     "auth-provider plugin (kubectl dropped gcp and azure in 1.26); use an exec plugin "
                     "(gke-gcloud-auth-plugin, kubelogin) with --" + ALLOW_EXEC,
    "username": "is basic authentication, which kube-apiserver dropped in 1.19: kubecert sends no password",
    "password": "is basic authentication, which kube-apiserver dropped in 1.19: kubecert sends no password",
    **dict.fromkeys(("as", "as-uid", "as-groups", "as-user-extra"),
                    "asks for impersonation: kubecert acts as the kubeconfig's own identity only"),
}
_STATIC_CREDENTIALS = frozenset({"client-certificate-data", "client-key-data", "token", "client-certificate",
                                 "client-key", "tokenFile"})
_EXEC_FIELDS = frozenset({"apiVersion", "command", "args", "env", "installHint", "provideClusterInfo",
                          "interactiveMode"})


class KubeconfigRefused(TargetUnavailable):
    """A kubeconfig kubecert will not use as it is; the message names the kubeconfig and the field."""


@dataclass(frozen=True)
class ExecPlugin:
    """An exec credential plugin the operator allowed to run (execcred.py runs it)."""

    at: str  # "users[0].user.exec", for messages
    command: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = field(repr=False)
    api_version: str
    provide_cluster_info: bool
    folder: Path | None  # the kubeconfig's folder: a relative command with a "/" in it is found from there
    install_hint: str = ""


@dataclass(frozen=True)
class KubeconfigAccess:
    """How to reach one cluster's API, as data: nothing in it names a file or a command but ``exec_plugin``."""

    source: str  # the kubeconfig, as messages name it
    server: str
    server_name: str | None  # tls-server-name: the name the server's certificate must carry, sent as SNI
    ca_pem: bytes | None = field(default=None, repr=False)
    client_cert_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    exec_plugin: ExecPlugin | None = None

    @property
    def ca_certificate(self) -> x509.Certificate | None:
        """The first certificate of the CA the kubeconfig trusts: what KC-CL-01 verifies the served one by."""
        return x509.load_pem_x509_certificates(self.ca_pem)[0] if self.ca_pem else None


def access_from_file(path: Path, context: str | None, trust: KubeconfigTrust) -> KubeconfigAccess:
    """The kubeconfig at ``path`` (the operator's, or a copy kubecert made) as ``context`` reaches its cluster."""
    try:
        document = read_document(path)
    except ReadFailure as failure:
        problem = failure.problem
        why = " does not exist" if problem.kind is ProblemKind.MISSING else f": {problem.message}"
        raise KubeconfigRefused(f"the kubeconfig {escaped(str(path))}{why}") from None
    return access_from_document(document, str(path), context, trust, path.parent)


def access_from_document(document: dict[str, Any], source: str, context: str | None, trust: KubeconfigTrust,
                         folder: Path | None) -> KubeconfigAccess:
    """``document`` (a kubeconfig parsed with bounds) checked field by field; KubeconfigRefused names the
    first field kubecert will not use. ``folder`` is where relative file names start (None: nowhere)."""
    source = escaped(source)

    def refuse(message: str) -> NoReturn:
        raise KubeconfigRefused(f"the kubeconfig {source}: {message}")

    try:
        chosen = chosen_entries(document, context, ValueError)
    except ValueError as exc:
        refuse(str(exc))
    reader = _Reader(refuse, trust, folder)
    cluster, user = chosen.cluster, chosen.user
    reader.known(cluster, chosen.cluster_at, _CLUSTER_FIELDS, {})
    reader.known(user, chosen.user_at, _USER_FIELDS, _NEVER_USER)
    server = _server(cluster.get("server"), f"{chosen.cluster_at}.server", refuse)
    server_name = _server_name(cluster.get("tls-server-name"), f"{chosen.cluster_at}.tls-server-name", refuse)
    _cluster_switches(cluster, chosen.cluster_at, refuse)
    plugin = reader.exec_plugin(user.get("exec"), f"{chosen.user_at}.exec")  # refused before any file is read
    if plugin is not None and _STATIC_CREDENTIALS & set(user):
        refuse(f"{chosen.user_at}: exec and a token or client certificate both say who kubecert is: give one")
    ca = reader.data_or_file(cluster, chosen.cluster_at, "certificate-authority")
    if ca is not None and not _parses(lambda: x509.load_pem_x509_certificates(ca)):
        refuse(f"{chosen.cluster_at}.certificate-authority: not a PEM certificate")
    cert = reader.data_or_file(user, chosen.user_at, "client-certificate")
    key = reader.data_or_file(user, chosen.user_at, "client-key")
    if (cert is None) != (key is None):
        refuse(f"{chosen.user_at}: a client certificate needs its key: give both client-certificate(-data) and "
               "client-key(-data), or neither")
    if cert is not None and key is not None and not usable_client_pair(cert, key):
        refuse(f"{chosen.user_at}: the client certificate and key are not a PEM certificate and an unencrypted PEM "
               "private key")
    token = reader.token(user, chosen.user_at)
    return KubeconfigAccess(source, server, server_name, ca, cert, key, token, plugin)


def _value(value: Any) -> str:
    """A kubeconfig's value for a message: escaped, and cut short."""
    text = escaped(str(value))
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[:_SHOWN_VALUE_CHARS] + "..."


def _server(value: Any, at: str, refuse: Callable[[str], NoReturn]) -> str:
    if not isinstance(value, str) or not value:
        refuse(f"{at}: no API server named")
    if len(value) > MAX_SERVER_CHARS or escaped(value) != value or " " in value:
        refuse(f"{at}: not an address")
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        refuse(f"{at}: not an address")
    if "@" in parts.netloc:  # said without the address: what precedes the @ is a credential
        refuse(f"{at}: the address holds a user name or password (USER:PASSWORD@HOST): kubecert sends no credential "
               "in a URL")
    if parts.scheme == "http":
        refuse(f"{at}: {_value(value)} is plain http: the credentials would travel in clear; kubecert reaches an "
               "API server over https:// only")
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        refuse(f"{at}: {_value(value)} is not an https://HOST[:PORT][/PATH] address")
    return value.rstrip("/")


def _server_name(value: Any, at: str, refuse: Callable[[str], NoReturn]) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and _HOST_NAME.fullmatch(value):
        return value.rstrip(".")
    try:
        return str(ipaddress.ip_address(value if isinstance(value, str) else ""))
    except ValueError:
        refuse(f"{at}: {_value(value)} is not a host name")


def _cluster_switches(cluster: dict[str, Any], at: str, refuse: Callable[[str], NoReturn]) -> None:
    for switch in ("insecure-skip-tls-verify", "disable-compression"):
        if switch in cluster and not isinstance(cluster[switch], bool):
            refuse(f"{at}.{switch}: {_value(cluster[switch])} is not true or false")
    if cluster.get("insecure-skip-tls-verify") is True:
        refuse(f"{at}.insecure-skip-tls-verify is true: kubecert always verifies the API server's certificate, "
               "against the kubeconfig's certificate-authority-data (KC-CL-01 judges exactly that); remove it and "
               "give the cluster's CA")
    if "proxy-url" in cluster:
        refuse(f"{at}.proxy-url: kubecert dials the API server itself, never through a proxy a kubeconfig names: "
               "KC-CL-01 must see the certificate the server serves, and a proxy would carry the credentials "
               "elsewhere; remove it and run kubecert where the server is reachable")


def usable_token(token: Any) -> bool:
    """A token an Authorization header can carry: printable ASCII without spaces, and not too long."""
    return isinstance(token, str) and len(token) <= MAX_TOKEN_CHARS and _TOKEN.fullmatch(token) is not None


def usable_client_pair(cert: bytes, key: bytes) -> bool:
    """A PEM client certificate and an unencrypted PEM private key, as TLS will load them."""
    return _parses(lambda: x509.load_pem_x509_certificate(cert)) and \
        _parses(lambda: serialization.load_pem_private_key(key, None))


def _parses(parse: Callable[[], Any]) -> bool:
    try:
        parse()
    except (ValueError, TypeError):
        return False
    return True


@dataclass
class _Reader:
    """Reads a chosen entry's fields under the trust given: data as it is, files only when allowed."""

    refuse: Callable[[str], NoReturn]
    trust: KubeconfigTrust
    folder: Path | None

    def known(self, body: dict[str, Any], at: str, allowed: frozenset[str], never: dict[str, str]) -> None:
        for name in body:
            if name in never:
                self.refuse(f"{at}.{_value(name)} {never[name]}")
            if name not in allowed:
                self.refuse(f"{at}.{_value(name)}: not a field kubecert knows, so not one it will act on (it uses "
                            f"{', '.join(sorted(allowed - {'extensions'}))})")

    def data_or_file(self, body: dict[str, Any], at: str, name: str) -> bytes | None:
        data, path = body.get(f"{name}-data"), body.get(name)
        if data is not None and path is not None:
            self.refuse(f"{at}: {name}-data and {name} are both given: give one")
        if data is not None:
            try:
                return base64.b64decode(str(data), validate=True)
            except (binascii.Error, ValueError):
                self.refuse(f"{at}.{name}-data is not valid base64")
        return self.file(path, f"{at}.{name}") if path is not None else None

    def token(self, body: dict[str, Any], at: str) -> str | None:
        token, path = body.get("token"), body.get("tokenFile")
        if token is not None and path is not None:
            self.refuse(f"{at}: token and tokenFile are both given: give one")
        if path is not None:
            data = self.file(path, f"{at}.tokenFile")
            token, at = data.decode(errors="replace").strip(), f"{at}.tokenFile"
        else:
            at = f"{at}.token"
        if token is None:
            return None
        if not usable_token(token):
            self.refuse(f"{at}: not a token an Authorization header can carry (printable ASCII without spaces, at "
                        f"most {MAX_TOKEN_CHARS} characters); not shown")
        return str(token)

    def file(self, value: Any, at: str) -> bytes:
        """The content of the file a field names, when the operator allowed it; refused otherwise."""
        if self.trust.from_node:
            self.refuse(f"{at} names a file ({_value(value)}): kubecert never reads a file that a kubeconfig taken "
                        "from a node names")
        if not self.trust.read_files:
            self.refuse(f"{at} names a file ({_value(value)}): kubecert reads the files a kubeconfig names only with "
                        f"--{ALLOW_FILES} (or embed them: kubectl config view --raw --flatten --minify)")
        if not isinstance(value, str) or not value or escaped(value) != value:
            self.refuse(f"{at}: {_value(value)} is not a file name")
        where = Path(value) if os.path.isabs(value) or self.folder is None else self.folder / value
        resolved = Path(os.path.realpath(where))  # judged and read as what it leads to
        try:
            return read_bytes(resolved, resolved.name)
        except ReadFailure as failure:
            self.refuse(f"{at}: {escaped(str(where))}: {failure.problem.message}")

    def exec_plugin(self, value: Any, at: str) -> ExecPlugin | None:
        if value is None:
            return None
        if self.trust.from_node:
            self.refuse(f"{at} runs a command: kubecert never runs a command that a kubeconfig taken from a node names")
        if not self.trust.run_exec:
            self.refuse(f"{at} runs a command: kubecert runs a kubeconfig's exec plugin only with --{ALLOW_EXEC}")
        if not isinstance(value, dict):
            self.refuse(f"{at}: not a mapping")
        self.known(value, at, _EXEC_FIELDS, {})
        command, args, env = value.get("command"), value.get("args") or [], value.get("env") or []
        version, mode = value.get("apiVersion"), value.get("interactiveMode") or "Never"
        if not isinstance(command, str) or not command or escaped(command) != command:
            self.refuse(f"{at}.command: not a command")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            self.refuse(f"{at}.args: not a list of words")
        if not isinstance(env, list) or not all(isinstance(e, dict) and set(e) == {"name", "value"}
                                                and all(isinstance(v, str) for v in e.values()) for e in env):
            self.refuse(f"{at}.env: not a list of {{name, value}}")
        if version not in EXEC_VERSIONS:
            self.refuse(f"{at}.apiVersion: {_value(version)} is not one of {', '.join(EXEC_VERSIONS)}")
        if mode not in ("Never", "IfAvailable"):
            self.refuse(f"{at}.interactiveMode: {_value(mode)}: kubecert runs the plugin without a terminal (Never "
                        "or IfAvailable)")
        provide = value.get("provideClusterInfo", False)
        if not isinstance(provide, bool):
            self.refuse(f"{at}.provideClusterInfo: not true or false")
        return ExecPlugin(at, command, tuple(args), tuple((e["name"], e["value"]) for e in env), str(version),
                          provide, self.folder, str(value.get("installHint") or ""))
