"""Fixtures for the reference cluster's tests: clusters made from the session key pool (ECDSA P-256,
cheap to sign with), served on loopback for one test, HTTPS calls as any identity, and the real kubectl.
The served clusters' etcd is the stand-in, which serves etcd/server.crt as etcd does (read again for every
connection) without three processes per test; reference:cluster and tests/cluster/test_static_pods.py run the
real one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.client import HTTPSConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509

from kubecert.reference.kube import ClusterServer, ClusterSpec, ReferenceCluster
from kubecert.reference.pki import KeyPool, cert_pem, issue_ca, issue_leaf, private_key_pem
from kubecert.reference.pki.kubeconfig import current_user, decode_data, parse_kubeconfig
from kubecert.reference.pki.tree import PkiTree

TIMEOUT_S = 5.0
AGE = dt.timedelta(days=30)  # clusters are made this long ago, so a renewal's dates stand apart


@pytest.fixture
def make_cluster(tmp_path: Path, key_pool: KeyPool) -> Callable[..., ReferenceCluster]:
    """``make_cluster(faults=(...), workers=2, ...)``: a new cluster below tmp_path, made 30 days ago."""
    made: list[int] = []

    def make(*, faults: tuple[str, ...] = (), **spec: Any) -> ReferenceCluster:
        made.append(len(made))
        folder = tmp_path / f"cluster-{len(made)}"
        return ReferenceCluster.create(folder, ClusterSpec(key_algorithm="ECDSA-P256", **spec), keys=key_pool,
                                       faults=faults, now=dt.datetime.now(dt.UTC) - AGE)

    return make


@pytest.fixture
def cluster(make_cluster: Callable[..., ReferenceCluster]) -> ReferenceCluster:
    return make_cluster()


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool) -> ReferenceCluster:
    """One cluster for a whole module, for tests that only read it (making one costs ~0.2 s of fsyncs)."""
    return ReferenceCluster.create(tmp_path_factory.mktemp("shared") / "cluster",
                                   ClusterSpec(key_algorithm="ECDSA-P256"), keys=key_pool,
                                   now=dt.datetime.now(dt.UTC) - AGE)


@pytest.fixture(scope="module")
def shared_served(shared_cluster: ReferenceCluster) -> Iterator[ClusterServer]:
    with ClusterServer(shared_cluster, real_etcd=False) as server:
        yield server


@pytest.fixture(scope="module")
def shared_https(tmp_path_factory: pytest.TempPathFactory, shared_cluster: ReferenceCluster) -> Https:
    return Https(tmp_path_factory.mktemp("clients"), shared_cluster)


@pytest.fixture
def serve() -> Iterator[Callable[[ReferenceCluster], ClusterServer]]:
    """``serve(cluster)`` starts a server that is stopped when the test ends."""
    servers: list[ClusterServer] = []

    def start(cluster: ReferenceCluster) -> ClusterServer:
        server = ClusterServer(cluster, real_etcd=False)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def served(cluster: ReferenceCluster, serve: Callable[[ReferenceCluster], ClusterServer]) -> ClusterServer:
    return serve(cluster)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body)


class Https:
    """HTTPS calls to a served cluster, verified against the cluster CA, as a chosen client identity."""

    def __init__(self, folder: Path, cluster: ReferenceCluster) -> None:
        self.folder = folder
        self.cluster = cluster
        folder.mkdir(parents=True, exist_ok=True)
        self.ca_file = folder / "ca.crt"
        self.ca_file.write_bytes(cluster.ca_pem())

    def admin(self) -> tuple[Path, Path]:
        """The client certificate and key of the admin kubeconfig the server wrote."""
        user = current_user(parse_kubeconfig(self.cluster.admin_kubeconfig_path.read_bytes()))
        return self._files("admin", decode_data(user["client-certificate-data"]),
                           decode_data(user["client-key-data"]))

    def identity(self, cn: str, orgs: tuple[str, ...] = (), *, foreign_ca: bool = False) -> tuple[Path, Path]:
        """A client certificate for ``cn``/``orgs`` signed by the cluster CA (or by a CA of its own)."""
        tree = PkiTree(self.cluster.node_trees()[self.cluster.control_plane_nodes()[0]])
        keys = KeyPool(size=2)
        now = dt.datetime.now(dt.UTC)
        ca_key = keys.new_key("ECDSA-P256") if foreign_ca else tree.key("ca")
        ca_cert = issue_ca(cn="kubernetes", key=ca_key, now=now) if foreign_ca else tree.cert("ca")
        key = keys.new_key("ECDSA-P256")
        cert = issue_leaf(ca_cert, ca_key, cn=cn, orgs=orgs, eku=("clientAuth",), key=key, now=now)
        return self._files(f"{cn.replace(':', '_')}-{foreign_ca}", cert_pem(cert), private_key_pem(key))

    def _files(self, name: str, cert: bytes, key: bytes) -> tuple[Path, Path]:
        cert_file, key_file = self.folder / f"{name}.crt", self.folder / f"{name}.key"
        cert_file.write_bytes(cert)
        key_file.write_bytes(key)
        key_file.chmod(0o600)
        return cert_file, key_file

    def context(self, client: tuple[Path, Path] | None = None, *, verify: bool = True) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if client is not None:
            context.load_cert_chain(*client)
        return context

    def call(self, base_url: str, path: str, *, client: tuple[Path, Path] | None = None, method: str = "GET",
             body: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
        where = urlsplit(base_url)
        connection = HTTPSConnection(where.hostname or "", where.port, context=self.context(client), timeout=TIMEOUT_S)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def served_certificate(self, base_url: str) -> x509.Certificate:
        """The certificate a listener serves, read by a handshake that does not verify it."""
        where = urlsplit(base_url)
        with socket.create_connection((where.hostname, where.port), timeout=TIMEOUT_S) as raw, \
                self.context(verify=False).wrap_socket(raw, server_hostname=where.hostname) as tls:
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der)


@pytest.fixture
def https_for(tmp_path: Path) -> Callable[[ReferenceCluster], Https]:
    """``https_for(cluster)``: calls to that cluster, with client files below tmp_path."""
    return lambda cluster: Https(tmp_path / f"clients-{cluster.folder.name}", cluster)


@pytest.fixture
def https(https_for: Callable[[ReferenceCluster], Https], cluster: ReferenceCluster) -> Https:
    return https_for(cluster)


@pytest.fixture
def kubectl(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``kubectl(kubeconfig, *args)``: the real kubectl with its own home and cache below tmp_path."""
    binary = shutil.which("kubectl")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("kubectl must be on PATH in CI: the reference cluster is proven against the real client")
        pytest.skip("kubectl is not on PATH; these checks prove the reference cluster against the real client")
    home = tmp_path / "kubectl-home"
    env = {**{k: v for k, v in os.environ.items() if k != "KUBECONFIG"}, "HOME": str(home)}

    def run(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [binary, "--kubeconfig", str(kubeconfig), "--cache-dir", str(home / "cache"),
                   "--request-timeout", "10s", *args]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result

    return run
