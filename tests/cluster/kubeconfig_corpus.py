"""Hostile kubeconfigs: every way a kubeconfig can make its reader run a command, read a file, send traffic
elsewhere or skip verification, and the malformed ones, each made from a good admin kubeconfig.

Each case says which field the refusal must name. The baits are what must stay untouched: a marker file
a command would create, a secret file outside (``/etc/shadow``-like) that must not be opened, and a
listening socket a proxy or an identity provider would be dialled on.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubecert.reference.pki.kubeconfig import render_kubeconfig

EXEC_V1 = "client.authentication.k8s.io/v1"
PASSWORD = "hunter2-kubeconfig-password"  # must never be shown
SECRET_TEXT = "root:$6$kubecert-corpus-secret$:19000:0:99999:7:::\n"


@dataclass
class Baits:
    folder: Path  # where the case's kubeconfig is written
    marker: Path  # a command run from a kubeconfig would create it
    secret: Path  # a file outside, named by the kubeconfig, that must never be opened
    listener: socket.socket  # a proxy or an identity provider the kubeconfig names: nothing may dial it

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def dialled(self) -> bool:
        """Whether anything connected to the listener."""
        self.listener.setblocking(False)
        try:
            connection, _ = self.listener.accept()
        except BlockingIOError:
            return False
        connection.close()
        return True


@contextmanager
def baits(folder: Path) -> Iterator[Baits]:
    outside = folder / "outside"
    outside.mkdir(parents=True, exist_ok=True)
    secret = outside / "shadow"
    secret.write_text(SECRET_TEXT)
    secret.chmod(0o600)
    configs = folder / "kubeconfigs"
    configs.mkdir(exist_ok=True)
    plugin = configs / "plugin"  # a relative exec command resolves here
    plugin.write_text(f"#!/bin/sh\ntouch {folder / 'marker'}\n")
    plugin.chmod(0o755)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield Baits(configs, folder / "marker", secret, listener)


Make = Callable[[dict[str, Any], Baits], "dict[str, Any] | bytes"]


@dataclass(frozen=True)
class Case:
    name: str
    named: str  # what the refusal must say: the field, or what is wrong with the file
    make: Make
    server_kept: bool = True  # False: kind points the server at its port, so the case cannot arise there

    def write(self, document: dict[str, Any], bait: Baits) -> Path:
        made = self.make(copy.deepcopy(document), bait)
        path = bait.folder / f"{self.name}.conf"
        path.write_bytes(made if isinstance(made, bytes) else render_kubeconfig(made))
        path.chmod(0o600)
        return path


def _user(document: dict[str, Any]) -> dict[str, Any]:
    user: dict[str, Any] = document["users"][0]["user"]
    return user


def _cluster(document: dict[str, Any]) -> dict[str, Any]:
    cluster: dict[str, Any] = document["clusters"][0]["cluster"]
    return cluster


def _user_is(fields: Callable[[Baits], dict[str, Any]]) -> Make:
    def make(document: dict[str, Any], bait: Baits) -> dict[str, Any]:
        document["users"][0]["user"] = fields(bait)
        return document
    return make


def _user_adds(fields: Callable[[Baits], dict[str, Any]]) -> Make:
    def make(document: dict[str, Any], bait: Baits) -> dict[str, Any]:
        _user(document).update(fields(bait))
        return document
    return make


def _cluster_is(fields: Callable[[dict[str, Any], Baits], dict[str, Any]]) -> Make:
    def make(document: dict[str, Any], bait: Baits) -> dict[str, Any]:
        document["clusters"][0]["cluster"] = fields(_cluster(document), bait)
        return document
    return make


def _deep(document: dict[str, Any], bait: Baits) -> bytes:
    return b"apiVersion: v1\nusers: " + b"[" * 200 + b"]" * 200 + b"\n"


def _alias_bomb(document: dict[str, Any], bait: Baits) -> bytes:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    return ("\n".join(lines) + "\nusers: *a8\n").encode()


def _huge(document: dict[str, Any], bait: Baits) -> bytes:
    document["preferences"] = {"padding": "x" * (1 << 21)}
    return render_kubeconfig(document)


CASES: tuple[Case, ...] = (
    Case("exec-touch", "users[0].user.exec", _user_is(lambda b: {"exec": {
        "apiVersion": EXEC_V1, "command": "touch", "args": [str(b.marker)]}})),
    Case("exec-shell", "users[0].user.exec", _user_is(lambda b: {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "/bin/sh",
        "args": ["-c", f"touch {b.marker}"], "env": [{"name": "X", "value": "1"}], "provideClusterInfo": True}})),
    Case("exec-relative", "users[0].user.exec", _user_is(lambda b: {"exec": {
        "apiVersion": EXEC_V1, "command": "./plugin", "interactiveMode": "Never"}})),
    Case("exec-not-a-mapping", "users[0].user.exec", _user_is(lambda b: {"exec": f"touch {b.marker}"})),
    Case("auth-provider-gcp", "users[0].user.auth-provider", _user_is(lambda b: {"auth-provider": {
        "name": "gcp", "config": {"cmd-path": "/usr/bin/touch", "cmd-args": str(b.marker),
                                  "token-key": "{.access_token}"}}})),
    Case("auth-provider-oidc", "users[0].user.auth-provider", _user_is(lambda b: {"auth-provider": {
        "name": "oidc", "config": {"idp-issuer-url": f"https://127.0.0.1:{b.port}", "client-id": "kubecert",
                                   "client-secret": PASSWORD, "refresh-token": "refresh", "id-token": "x.y.z"}}})),
    Case("token-file", "users[0].user.tokenFile", _user_is(lambda b: {"tokenFile": str(b.secret)})),
    Case("client-certificate-file", "users[0].user.client-certificate", _user_is(lambda b: {
        "client-certificate": str(b.secret), "client-key": str(b.secret)})),
    Case("client-key-file", "users[0].user.client-key", lambda d, b: (
        _user(d).pop("client-key-data"), _user(d).update({"client-key": str(b.secret)}), d)[-1]),
    Case("certificate-authority-file", "clusters[0].cluster.certificate-authority", _cluster_is(lambda c, b: {
        "server": c["server"], "certificate-authority": str(b.secret)})),
    Case("certificate-authority-relative", "clusters[0].cluster.certificate-authority", _cluster_is(lambda c, b: {
        "server": c["server"], "certificate-authority": "../outside/shadow"})),
    Case("proxy-url", "clusters[0].cluster.proxy-url", _cluster_is(lambda c, b: {
        **c, "proxy-url": f"http://127.0.0.1:{b.port}"})),
    Case("insecure-skip-tls-verify", "clusters[0].cluster.insecure-skip-tls-verify", _cluster_is(lambda c, b: {
        "server": c["server"], "insecure-skip-tls-verify": True})),
    Case("http-server", "clusters[0].cluster.server", _cluster_is(lambda c, b: {
        **c, "server": f"http://127.0.0.1:{b.port}"}), server_kept=False),
    Case("server-with-password", "clusters[0].cluster.server", _cluster_is(lambda c, b: {
        **c, "server": c["server"].replace("https://", f"https://admin:{PASSWORD}@")}), server_kept=False),
    Case("basic-auth", "users[0].user.username", _user_is(lambda b: {"username": "admin", "password": PASSWORD})),
    Case("impersonation", "users[0].user.as", _user_adds(lambda b: {"as": "system:admin"})),
    Case("unknown-field", "users[0].user.client-cert-cmd", _user_adds(lambda b: {
        "client-cert-cmd": f"touch {b.marker}"})),
    Case("not-a-mapping", "not a kubeconfig", lambda d, b: b"- apiVersion: v1\n- kind: Config\n"),
    Case("users-not-a-list", "users is not a list", lambda d, b: {**d, "users": {"name": "admin"}}),
    Case("huge", "1048576", _huge),
    Case("deep", "nested deeper than 64 levels", _deep),
    Case("alias-bomb", "aliases expand it to more than", _alias_bomb),
)
