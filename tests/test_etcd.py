"""The reference PKI works for a real Kubernetes component: etcd, before and after ``renew all``.

etcd (Debian's etcd-server and etcd-client; .ci/run installs them) is started on loopback ports with the
reference node's etcd server and peer certificates and client-certificate authentication, as kubeadm's
etcd manifest starts it. Nothing is installed here: without etcd the tests skip, except under CI=true,
where they fail. etcd is stopped and its data removed when the tests end, whatever their outcome.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from kubecert.reference.pki import FreshKeys, InitResult, cert_pem, issue_ca, issue_leaf, private_key_pem
from kubecert.reference.pki.renew import renew

READY_WITHIN = 30.0  # seconds for etcd to answer after start
CALL_TIMEOUT = 10.0  # seconds for one etcdctl call


def _binaries() -> tuple[str, str]:
    etcd, etcdctl = shutil.which("etcd"), shutil.which("etcdctl")
    if etcd and etcdctl:
        return etcd, etcdctl
    if os.environ.get("CI") == "true":
        pytest.fail("etcd and etcdctl are not on PATH under CI=true: .ci/run installs etcd-server and etcd-client")
    pytest.skip("etcd and etcdctl are not on PATH (Debian: apt-get install etcd-server etcd-client)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Etcd:
    """One etcd member on loopback, serving with a kubeadm tree's etcd certificates."""

    binary: str
    etcdctl: str
    pki: Path
    data: Path
    log: Path
    client_port: int = field(default_factory=_free_port)
    peer_port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.client_port}"

    def start(self, attempts: int = 3) -> None:
        """Start etcd and wait until it answers; new ports if another process took the free ones first."""
        for attempt in range(attempts):
            if self._started():
                return
            if attempt + 1 < attempts and "address already in use" in self.log_tail():
                self.client_port, self.peer_port = _free_port(), _free_port()
                continue
            break
        pytest.fail(f"etcd did not start:\n{self.log_tail()}")

    def _started(self) -> bool:
        peer = f"https://127.0.0.1:{self.peer_port}"
        etcd = self.pki / "etcd"
        command = [
            self.binary, "--name", "cp-1", "--data-dir", str(self.data),
            "--listen-client-urls", self.endpoint, "--advertise-client-urls", self.endpoint,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"cp-1={peer}", "--initial-cluster-state", "new",
            "--client-cert-auth", "--trusted-ca-file", str(etcd / "ca.crt"),
            "--cert-file", str(etcd / "server.crt"), "--key-file", str(etcd / "server.key"),
            "--peer-client-cert-auth", "--peer-trusted-ca-file", str(etcd / "ca.crt"),
            "--peer-cert-file", str(etcd / "peer.crt"), "--peer-key-file", str(etcd / "peer.key"),
            "--snapshot-count", "10000",
            # One member on loopback: elect it in a fraction of the default second.
            "--heartbeat-interval", "25", "--election-timeout", "250",
        ]
        self.data.mkdir(mode=0o700, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self.health(self.pki / "etcd" / "healthcheck-client")[0]:
                return True
            time.sleep(0.2)
        self.stop()
        return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def etcdctl_run(self, client: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """etcdctl as ``client`` (a path without .crt/.key) against this member."""
        return subprocess.run(
            [self.etcdctl, "--endpoints", self.endpoint, "--cacert", str(self.pki / "etcd" / "ca.crt"),
             "--cert", f"{client}.crt", "--key", f"{client}.key", "--dial-timeout", "1s", "--command-timeout", "2s",
             *args],
            capture_output=True, text=True, timeout=CALL_TIMEOUT, check=False, env={**os.environ, "ETCDCTL_API": "3"},
        )

    def health(self, client: Path) -> tuple[bool, str]:
        run = self.etcdctl_run(client, "endpoint", "health")
        output = run.stdout + run.stderr
        return run.returncode == 0 and "is healthy" in output, output

    def _tls(self, client: Path) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(self.pki / "etcd" / "ca.crt")
        context.load_cert_chain(f"{client}.crt", f"{client}.key")
        return context

    def served_certificate(self, client: Path) -> x509.Certificate:
        """The certificate etcd presents, read through a TLS handshake with ``client``'s certificate."""
        with socket.create_connection(("127.0.0.1", self.client_port), timeout=5) as raw, \
                self._tls(client).wrap_socket(raw, server_hostname="localhost") as tls:
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der)

    def refusal(self, client: Path) -> str | None:
        """What the TLS layer says when ``client`` talks to etcd (None: etcd answered it)."""
        try:
            with socket.create_connection(("127.0.0.1", self.client_port), timeout=5) as raw, \
                    self._tls(client).wrap_socket(raw, server_hostname="localhost") as tls:
                # TLS 1.3 judges the client's certificate after the handshake: the verdict comes with the
                # first read.
                tls.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
                tls.recv(1)
        except (ssl.SSLError, ConnectionResetError) as exc:
            return str(exc)
        return None


@contextlib.contextmanager
def running_etcd(root: Path, work: Path) -> Iterator[Etcd]:
    binary, etcdctl = _binaries()
    member = Etcd(binary, etcdctl, root / "pki", work / "etcd-data", work / "etcd.log")
    try:
        member.start()
        yield member
    finally:
        member.stop()
        shutil.rmtree(member.data, ignore_errors=True)


@pytest.fixture(scope="module")
def etcd_version() -> str:
    binary, _ = _binaries()
    run = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=CALL_TIMEOUT, check=False)
    return run.stdout.splitlines()[0] if run.stdout else "unknown"


@pytest.fixture(scope="module")
def etcd_node(reference_tree: InitResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Etcd]]:
    """The reference tree (RSA-2048, kubeadm's default keys) served by a real etcd, for read-only tests."""
    work = tmp_path_factory.mktemp("etcd")
    root = work / "kubernetes"
    shutil.copytree(reference_tree.root, root, copy_function=shutil.copy2)
    with running_etcd(root, work) as member:
        yield root, member


def test_kubeadm_client_certificates_get_a_healthy_answer(etcd_node: tuple[Path, Etcd], etcd_version: str,
                                                          record_property: pytest.RecordProperty) -> None:
    root, member = etcd_node
    record_property("etcd_version", etcd_version)
    healthy, output = member.health(root / "pki" / "etcd" / "healthcheck-client")
    assert healthy, output
    apiserver = root / "pki" / "apiserver-etcd-client"
    assert member.etcdctl_run(apiserver, "put", "/registry/kubecert", "ok").returncode == 0
    read = member.etcdctl_run(apiserver, "get", "/registry/kubecert", "--print-value-only")
    assert read.stdout.strip() == "ok", read.stdout + read.stderr


def test_a_client_of_a_foreign_ca_is_refused(etcd_node: tuple[Path, Etcd], tmp_path: Path) -> None:
    _root, member = etcd_node
    keys = FreshKeys()
    now = dt.datetime.now(dt.UTC)
    # A CA with the very name and key type of etcd's ("etcd-ca", RSA-2048) and a key of its own: only the
    # signature tells them apart.
    ca_key = keys.new_key("RSA-2048")
    ca = issue_ca(cn="etcd-ca", key=ca_key, now=now)
    client_key = keys.new_key("RSA-2048")
    client = issue_leaf(ca, ca_key, cn="kube-etcd-healthcheck-client", eku=("clientAuth",), key=client_key, now=now)
    (tmp_path / "foreign.crt").write_bytes(cert_pem(client))
    (tmp_path / "foreign.key").write_bytes(private_key_pem(client_key))
    os.chmod(tmp_path / "foreign.key", 0o600)
    logged = member.log.stat().st_size
    assert member.refusal(tmp_path / "foreign") is not None
    deadline = time.monotonic() + 5
    while "unknown authority" not in member.log_since(logged) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "tls: failed to verify client certificate: x509: certificate signed by unknown authority" in \
        member.log_since(logged), member.log_since(logged)
    healthy, output = member.health(tmp_path / "foreign")  # and etcd's own client gets nowhere either
    assert not healthy and "unhealthy" in output, output
    assert member.refusal(member.pki / "etcd" / "healthcheck-client") is None


def test_after_renew_all_and_a_restart_etcd_serves_the_new_certificate(
    reference_tree: InitResult, tmp_path: Path
) -> None:
    root = tmp_path / "kubernetes"
    shutil.copytree(reference_tree.root, root, copy_function=shutil.copy2)
    etcd_dir = root / "pki" / "etcd"
    old_clients = tmp_path / "before-renewal"
    old_clients.mkdir()
    for name in ("healthcheck-client.crt", "healthcheck-client.key"):
        shutil.copy2(etcd_dir / name, old_clients / name)
    with running_etcd(root, tmp_path) as member:
        old_server = member.served_certificate(etcd_dir / "healthcheck-client")
        assert old_server.public_bytes(Encoding.PEM) == (etcd_dir / "server.crt").read_bytes()
        result = renew(root, "all", keys=FreshKeys(), now=dt.datetime.now(dt.UTC))
        assert "etcd-server" in result.renewed and "etcd-healthcheck-client" in result.renewed
        member.stop()  # kubeadm: "You must restart ... etcd, so that they can use the new certificates"
        member.start()
        served = member.served_certificate(etcd_dir / "healthcheck-client")
        assert served.public_bytes(Encoding.PEM) == (etcd_dir / "server.crt").read_bytes()
        assert served.serial_number != old_server.serial_number
        assert served.public_key() != old_server.public_key()
        # The CA was kept, so the client certificates from before the renewal still connect, as do the new.
        for client in (etcd_dir / "healthcheck-client", old_clients / "healthcheck-client"):
            healthy, output = member.health(client)
            assert healthy, (client, output)
        renewed_client = (etcd_dir / "healthcheck-client.crt").read_bytes()
        assert (old_clients / "healthcheck-client.crt").read_bytes() != renewed_client
