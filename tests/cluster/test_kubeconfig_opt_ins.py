"""What an operator's own kubeconfig may do with the operator's opt-in, against the served reference cluster:
read the files it names (--allow-kubeconfig-files), run its exec plugin (--allow-kubeconfig-exec, as
client-go runs one), name the server's certificate by tls-server-name; and a token, inline or from a file,
goes to the kubeconfig's server only. A plugin that fails, hangs, floods or answers nonsense is an error that
shows nothing it printed."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import audit
import pytest
from tls_server import serving_as_api_server

from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.reference.pki.kubeconfig import current_user, decode_data, parse_kubeconfig, render_kubeconfig
from kubecert.targets.cluster.access import ExecPlugin, KubeconfigAccess, access_from_file
from kubecert.targets.cluster.client import ClusterClient
from kubecert.targets.cluster.execcred import run_plugin
from kubecert.targets.cluster.trust import KubeconfigTrust
from kubecert.targets.errors import TargetUnavailable
from kubecert.targets.registry import Registry

from support import statuses

API_RULES = ("KC-CL-01", "KC-CL-02")
EXEC_V1 = "client.authentication.k8s.io/v1"
SAID = "plugin-said-this-secret-0123"  # what a plugin prints must never be shown


def _document(served: ClusterServer) -> dict[str, Any]:
    return parse_kubeconfig(served.admin_kubeconfig.read_bytes())


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_bytes(render_kubeconfig(document))
    path.chmod(0o600)
    return path


def _check(folder: Path, *args: str) -> tuple[Any, dict[str, Any], audit.Seen]:
    report = folder / "report.json"
    run, seen = audit.run_audited(["check", "-q", "--profile", "palette", "--json", str(report),
                                   *(w for rule in API_RULES for w in ("--rule", rule)), *args], cwd=folder)
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    return run, json.loads(report.read_text()), seen


def _messages(report: dict[str, Any]) -> str:
    return " ".join(r["message"] for r in report["results"])


def test_files_a_kubeconfig_names_are_read_only_with_the_opt_in(tmp_path: Path, served: ClusterServer) -> None:
    document = _document(served)
    user, cluster = current_user(document), document["clusters"][0]["cluster"]
    folder = tmp_path / "kube"
    folder.mkdir()
    files = {"ca.crt": decode_data(cluster.pop("certificate-authority-data")),
             "client.crt": decode_data(user.pop("client-certificate-data")),
             "client.key": decode_data(user.pop("client-key-data"))}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    cluster["certificate-authority"] = "ca.crt"  # relative: from the kubeconfig's folder, as kubectl reads it
    user["client-certificate"], user["client-key"] = str(folder / "client.crt"), "client.key"
    kubeconfig = _write(folder / "config", document)
    watched = [folder / name for name in files]

    with audit.opens_of(watched) as opened:
        run, report, _ = _check(tmp_path, "--target", f"kubeconfig:{kubeconfig}")
    assert run.returncode == 2
    assert set(statuses(report).values()) == {"error"}
    assert "clusters[0].cluster.certificate-authority names a file" in _messages(report)
    assert "--allow-kubeconfig-files" in _messages(report)
    assert opened == []

    with audit.opens_of(watched) as opened:
        run, report, seen = _check(tmp_path, "--target", f"kubeconfig:{kubeconfig}", "--allow-kubeconfig-files")
    assert run.returncode == 0, _messages(report)
    assert statuses(report) == dict.fromkeys(API_RULES, "passed")
    assert sorted(opened) == sorted(str(p) for p in watched)
    assert seen.processes == []
    assert seen.writes_outside([tmp_path]) == []


def _plugin(folder: Path, served: ClusterServer) -> Path:
    """An exec plugin answering the admin's client certificate, once it was told what client-go tells one."""
    user = current_user(_document(served))
    status = {"clientCertificateData": decode_data(user["client-certificate-data"]).decode(),
              "clientKeyData": decode_data(user["client-key-data"]).decode(),
              "expirationTimestamp": "2999-01-01T00:00:00Z"}
    script = folder / "kubecert-test-plugin"
    script.write_text(f"""#!{sys.executable}
import json, os, sys
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
if info["kind"] != "ExecCredential" or info["spec"]["interactive"] or not info["spec"]["cluster"]["server"]:
    sys.exit(3)
if os.environ.get("FROM_KUBECONFIG") != "yes" or sys.argv[1:] != ["get-credential"]:
    sys.exit(4)
print(json.dumps({{"apiVersion": "{EXEC_V1}", "kind": "ExecCredential", "status": {json.dumps(status)}}}))
""")
    script.chmod(0o755)
    return script


def test_an_exec_plugin_runs_only_with_the_opt_in(tmp_path: Path, served: ClusterServer) -> None:
    plugin = _plugin(tmp_path, served)
    document = _document(served)
    document["users"][0]["user"] = {"exec": {
        "apiVersion": EXEC_V1, "command": f"./{plugin.name}", "args": ["get-credential"],
        "env": [{"name": "FROM_KUBECONFIG", "value": "yes"}], "provideClusterInfo": True}}
    kubeconfig = _write(tmp_path / "exec.conf", document)

    run, report, seen = _check(tmp_path, "--target", f"kubeconfig:{kubeconfig}")
    assert run.returncode == 2 and "users[0].user.exec runs a command" in _messages(report)
    assert seen.processes == []

    run, report, seen = _check(tmp_path, "--target", f"kubeconfig:{kubeconfig}", "--allow-kubeconfig-exec")
    assert run.returncode == 0, _messages(report)
    assert statuses(report) == dict.fromkeys(API_RULES, "passed")
    assert seen.processes_besides([str(plugin)]) == [] and seen.processes
    assert seen.writes_outside([tmp_path]) == []
    assert "BEGIN" not in report["results"][0]["message"]

    # ?nodes=pods lists the nodes through the plugin's credential, with the option as the run gives it.
    uri = f"kubeconfig:{kubeconfig}?nodes=pods"
    assert Registry().expand([uri], {"allow-kubeconfig-exec": True}) == [
        uri, *(f"kubeconfig:{kubeconfig}/{node}?nodes=pods" for node in ("cp-1", "cp-2", "cp-3"))]
    assert Registry().expand([uri], {}) == [uri]  # refused: the cluster target alone, which says why


def _access(tmp_path: Path, body: str, *, name: str = "plugin") -> tuple[KubeconfigAccess, ExecPlugin]:
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    plugin = ExecPlugin("users[0].user.exec", str(script), (), (), EXEC_V1, False, None)
    return KubeconfigAccess("test.conf", "https://127.0.0.1:1", None, exec_plugin=plugin), plugin


@pytest.mark.parametrize(("body", "words"), [
    (f"echo {SAID}; echo {SAID} >&2; exit 1", "the plugin exited 1"),
    (f"echo '{SAID}'", "the plugin's answer is not JSON"),
    (f"echo '{{\"apiVersion\": \"{EXEC_V1}\", \"kind\": \"ExecCredential\", \"status\": {{\"token\": \"a b\"}}}}'",
     "holds a token an Authorization header cannot carry"),
    (f"echo '{{\"apiVersion\": \"{EXEC_V1}\", \"kind\": \"ExecCredential\", \"status\": {{}}}}'",
     "holds neither a token nor a client certificate"),
    ("echo '{\"apiVersion\": \"client.authentication.k8s.io/v1beta1\", \"kind\": \"ExecCredential\"}'",
     f"is not of apiVersion {EXEC_V1}"),
    (f"yes {SAID}", "printed more than 1048576 bytes; stopped"),
    ("exec sleep 600", "no end after 2 s; stopped"),
])
def test_a_plugin_that_misbehaves_is_an_error_that_shows_nothing_it_printed(
        tmp_path: Path, body: str, words: str) -> None:
    access, plugin = _access(tmp_path, body)
    with pytest.raises(TargetUnavailable) as caught:
        run_plugin(access, plugin, timeout=2)
    message = str(caught.value)
    assert words in message and "the kubeconfig test.conf: users[0].user.exec" in message, message
    assert SAID not in message


def test_a_plugin_not_on_path_says_its_install_hint(tmp_path: Path) -> None:
    plugin = ExecPlugin("users[0].user.exec", "kubecert-no-such-plugin", (), (), EXEC_V1, False, None,
                        "install it with \x1b[31mapt\n")
    access = KubeconfigAccess("test.conf", "https://127.0.0.1:1", None, exec_plugin=plugin)
    with pytest.raises(TargetUnavailable, match=r"'kubecert-no-such-plugin' is not on PATH \(install it with "
                                                r"\\x1b\[31mapt\\x0a\)"):
        run_plugin(access, plugin)


@contextmanager
def _recording_server(cluster: ReferenceCluster) -> Iterator[tuple[str, list[str | None]]]:
    """An HTTPS server with cp-1's API server certificate that answers /version and records the
    Authorization header of every request."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"major": "1", "minor": "31", "gitVersion": "v1.31.0", "gitCommit": "0" * 40,
                               "gitTreeState": "clean", "buildDate": "2024-08-13T07:28:49Z", "goVersion": "go1.22.5",
                               "compiler": "gc", "platform": "linux/amd64"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serving_as_api_server(cluster, Handler) as url:
        yield url, seen


@pytest.mark.parametrize("where", ["token", "tokenFile"])
def test_a_token_goes_to_the_kubeconfigs_server_as_a_bearer_token(
        tmp_path: Path, cluster: ReferenceCluster, where: str) -> None:
    token = "kubecert-test-token.0123456789"
    with _recording_server(cluster) as (url, seen):
        document = {
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {
                "server": url, "certificate-authority-data": base64.b64encode(cluster.ca_pem()).decode()}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "users": [{"name": "u", "user": {"token": token} if where == "token" else {"tokenFile": "token"}}]}
        (tmp_path / "token").write_text(f"{token}\n")
        kubeconfig = _write(tmp_path / "token.conf", document)
        client = ClusterClient(access_from_file(kubeconfig, None, KubeconfigTrust(read_files=True)))
        try:
            assert client.version() == "v1.31.0"
        finally:
            client.close()
    assert seen == [f"Bearer {token}"]


@pytest.mark.parametrize(("name", "expected"), [("kubernetes", "passed"), ("elsewhere.example", "failed")])
def test_tls_server_name_is_the_name_the_served_certificate_must_carry(
        tmp_path: Path, served: ClusterServer, name: str, expected: str) -> None:
    document = _document(served)
    document["clusters"][0]["cluster"]["tls-server-name"] = name
    document["clusters"][0]["cluster"]["disable-compression"] = True  # accepted: kubecert asks for none
    kubeconfig = _write(tmp_path / "named.conf", document)
    run, report, _ = _check(tmp_path, "--target", f"kubeconfig:{kubeconfig}")
    assert run.returncode == (0 if expected == "passed" else 1)
    found = {r["rule"]: r for r in report["results"]}
    assert found["KC-CL-01"]["status"] == expected, found["KC-CL-01"]["message"]
    if expected == "passed":
        assert found["KC-CL-02"]["status"] == "passed"
    else:  # the API's certificate does not verify for that name: nothing is read from it
        assert f"does not name {name}" in found["KC-CL-01"]["message"]
        assert found["KC-CL-02"]["status"] == "error"
        assert "TLS verification" in json.dumps(found["KC-CL-02"]["evidence"])


def test_what_is_refused_is_refused_before_an_allowed_file_is_read(tmp_path: Path, served: ClusterServer) -> None:
    """exec beside a tokenFile, both allowed: two identities, refused before the token's file is opened."""
    token_file = tmp_path / "token"
    token_file.write_text("kubecert-test-token\n")
    document = _document(served)
    document["users"][0]["user"] = {"tokenFile": str(token_file), "exec": {"apiVersion": EXEC_V1, "command": "true"}}
    kubeconfig = _write(tmp_path / "two.conf", document)
    with audit.guard() as seen, audit.opens_of([token_file]) as opened, \
            pytest.raises(TargetUnavailable, match=r"users\[0\]\.user: exec and a token or client certificate"):
        access_from_file(kubeconfig, None, KubeconfigTrust(run_exec=True, read_files=True))
    assert opened == [] and seen.processes == []
