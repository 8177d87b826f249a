"""A kubeconfig's exec credential plugin, run as client-go runs it, for a kubeconfig whose operator allowed it
(--allow-kubeconfig-exec; access.py refuses it otherwise, and always for a kubeconfig taken from a node).

The plugin runs without a shell and without a terminal, in its own process group, for at most
``PLUGIN_TIMEOUT_S`` seconds, with its output bounded; it is told what it is asked for in
``KUBERNETES_EXEC_INFO`` (and the cluster, with ``provideClusterInfo``) and answers an ExecCredential on
its standard output: a token, or a client certificate and key, and when they expire. Neither its answer nor
what it prints on error is ever shown: either may hold a credential.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kubecert.inventory.safe_json import JsonError, loads_bounded
from kubecert.targets.cluster.access import ExecPlugin, KubeconfigAccess, usable_client_pair, usable_token
from kubecert.targets.cluster.runtime import bounded_output, kill_group
from kubecert.targets.errors import TargetUnavailable
from kubecert.text import escaped

PLUGIN_TIMEOUT_S = 60.0  # a cloud's plugin may sign in to its provider first
MAX_ANSWER_BYTES = 1 << 20
EXEC_INFO = "KUBERNETES_EXEC_INFO"


@dataclass(frozen=True)
class ExecCredential:
    token: str | None = field(default=None, repr=False)
    client_cert_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    expires: dt.datetime | None = None

    def expired(self, now: dt.datetime | None = None) -> bool:
        """Past its expiry, less a minute so that a request does not carry a token that lapses on the way."""
        moment = now or dt.datetime.now(dt.UTC)
        return self.expires is not None and moment >= self.expires - dt.timedelta(minutes=1)


def run_plugin(access: KubeconfigAccess, plugin: ExecPlugin, *, timeout: float = PLUGIN_TIMEOUT_S) -> ExecCredential:
    """The credential ``plugin`` answers; TargetUnavailable naming the kubeconfig and the field when it cannot."""
    what = f"the kubeconfig {access.source}: {plugin.at}"
    binary = _binary(plugin)
    if binary is None:
        hint = f" ({escaped(plugin.install_hint)[:300]})" if plugin.install_hint else ""
        raise TargetUnavailable(f"{what}: {escaped(plugin.command)!r} is not on PATH{hint}")
    env = {**os.environ, **dict(plugin.env), EXEC_INFO: json.dumps(_exec_info(access, plugin))}
    try:
        process = subprocess.Popen([binary, *plugin.args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=env, start_new_session=True)
    except OSError as exc:
        raise TargetUnavailable(f"{what}: {escaped(plugin.command)!r} could not start: {exc.strerror or exc}") from None
    try:
        out, _ = bounded_output(process, timeout, MAX_ANSWER_BYTES, what)
    except BaseException:
        kill_group(process)
        raise
    if process.returncode != 0:
        raise TargetUnavailable(f"{what}: the plugin exited {process.returncode} (what it printed is not shown: it "
                                "may hold a credential)")
    return _credential(out, plugin, what)


def _binary(plugin: ExecPlugin) -> str | None:
    """client-go's lookup: a name is looked for on PATH, a relative path from the kubeconfig's folder."""
    if "/" not in plugin.command:
        return shutil.which(plugin.command)
    path = Path(plugin.command)
    if not path.is_absolute():
        if plugin.folder is None:
            return None
        path = plugin.folder / path
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def _exec_info(access: KubeconfigAccess, plugin: ExecPlugin) -> dict[str, object]:
    spec: dict[str, object] = {"interactive": False}
    if plugin.provide_cluster_info:
        cluster: dict[str, object] = {"server": access.server}
        if access.server_name:
            cluster["tls-server-name"] = access.server_name
        if access.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(access.ca_pem).decode()
        spec["cluster"] = cluster
    return {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}


def _credential(out: bytes, plugin: ExecPlugin, what: str) -> ExecCredential:
    def bad(why: str) -> TargetUnavailable:
        return TargetUnavailable(f"{what}: the plugin's answer {why} (not shown: it may hold a credential)")

    try:
        answer = loads_bounded(out)
    except JsonError:
        raise bad("is not JSON") from None
    if not isinstance(answer, dict) or answer.get("kind") != "ExecCredential":
        raise bad("is not an ExecCredential")
    if answer.get("apiVersion") != plugin.api_version:
        raise bad(f"is not of apiVersion {plugin.api_version}")
    status = answer.get("status")
    if not isinstance(status, dict):
        raise bad("has no status")
    token, cert, key = status.get("token"), status.get("clientCertificateData"), status.get("clientKeyData")
    try:
        expires = _expiry(status.get("expirationTimestamp"))
    except ValueError:
        raise bad("has an expirationTimestamp that is not an RFC 3339 time") from None
    if token and not cert and not key:
        if not usable_token(token):
            raise bad("holds a token an Authorization header cannot carry")
        return ExecCredential(token=token, expires=expires)
    if cert and key and not token:
        if not isinstance(cert, str) or not isinstance(key, str) or not usable_client_pair(cert.encode(), key.encode()):
            raise bad("holds a client certificate or key that is not PEM")
        return ExecCredential(client_cert_pem=cert.encode(), client_key_pem=key.encode(), expires=expires)
    raise bad("holds neither a token nor a client certificate with its key")


def _expiry(value: object) -> dt.datetime | None:
    """The expiry, None when there is none; ValueError when it is not an RFC 3339 time with its offset."""
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("no offset")
    return moment.astimezone(dt.UTC)
