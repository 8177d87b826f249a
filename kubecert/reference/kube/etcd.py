"""etcd for each served control-plane node of the reference cluster: the real one (Debian's etcd-server)
where it is on PATH, else a stand-in that serves what etcd serves.

The real etcd is started as kubeadm's manifest starts it, on loopback ports of its own: the node's etcd
server and peer certificates, client-certificate authentication on both, a data folder of the server's
own. It reads its key pair again for every new connection, so it serves etcd/server.crt as it is on disk,
renewed or not; the stand-in does the same. Each member is one node's own single-member cluster: what
kubecert reads of it is its certificate, not its data. The process gets no environment of the caller
(etcd takes its flags from ETCD_* variables too). It lives no longer than the server: a watchdog (a small
Python process) starts it and ends it once the server's end of a pipe closes, whether the server stopped
it or was itself killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from kubecert.reference.kube.serving import HandshakeListener, ServingFiles, free_port
from kubecert.reference.pki.tree import PkiTree

READY_WITHIN_S = 30.0
STOP_WITHIN_S = 10.0  # the watchdog's own wait after SIGTERM, too
# Runs ARGV with an empty environment until its standard input ends, then stops it (SIGTERM, then SIGKILL).
_WATCHDOG = """
import subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, env={})
try:
    sys.stdin.buffer.read()
finally:
    child.terminate()
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
"""
START_ATTEMPTS = 3  # another process may take a free port between the probe and etcd's listen


class EtcdMember:
    """One node's etcd on ``host``: ``start`` it, read ``port``, ``restart`` it, ``stop`` it."""

    def __init__(self, node: str, root: Path, work: Path, host: str, *, real: bool) -> None:
        self.node = node
        self.tree = PkiTree(root)
        self.work = work
        self.host = host
        self.binary = shutil.which("etcd") if real else None
        self.port = 0
        self.peer_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._standin: HandshakeListener | None = None

    @property
    def real(self) -> bool:
        """Whether the real etcd serves (else the stand-in)."""
        return self._process is not None

    def start(self) -> None:
        if self.binary is not None:
            for _ in range(START_ATTEMPTS):
                if self._started_real():
                    return
            self.binary = None  # the stand-in then, as where etcd is not installed
        self._standin = HandshakeListener((self.host, self.port), ServingFiles(self._files, follows_files=True))
        self.port = self._standin.port
        self._standin.start()

    def restart(self) -> None:
        """What restarting etcd's static pod does: a new process on the same ports, reading the files anew."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self._standin is not None:
            self._standin.stop()
            self._standin = None
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()  # the watchdog stops etcd, then ends
        try:
            process.wait(timeout=STOP_WITHIN_S + 5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_WITHIN_S)

    def _files(self) -> tuple[Path, Path, Path]:
        return self.tree.cert_path("etcd-server"), self.tree.key_path("etcd-server"), self.tree.cert_path("etcd-ca")

    def _started_real(self) -> bool:
        assert self.binary is not None
        self.port = self.port or free_port(self.host)
        self.peer_port = self.peer_port or free_port(self.host)
        client, peer = f"https://{self.host}:{self.port}", f"https://{self.host}:{self.peer_port}"
        tree, data = self.tree, self.work / "etcd-data"
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        command = [
            self.binary, "--name", self.node, "--data-dir", str(data),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"{self.node}={peer}", "--initial-cluster-state", "new",
            "--client-cert-auth", "--trusted-ca-file", str(tree.cert_path("etcd-ca")),
            "--cert-file", str(tree.cert_path("etcd-server")), "--key-file", str(tree.key_path("etcd-server")),
            "--peer-client-cert-auth", "--peer-trusted-ca-file", str(tree.cert_path("etcd-ca")),
            "--peer-cert-file", str(tree.cert_path("etcd-peer")), "--peer-key-file", str(tree.key_path("etcd-peer")),
            "--snapshot-count", "10000",
        ]
        with (self.work / "etcd.log").open("ab") as log:
            process = subprocess.Popen([sys.executable, "-I", "-c", _WATCHDOG, *command], stdin=subprocess.PIPE,
                                       stdout=log, stderr=subprocess.STDOUT, env={}, start_new_session=True)
        self._process = process
        deadline = time.monotonic() + READY_WITHIN_S
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(self.host, self.port):
                return True
            time.sleep(0.05)
        self.stop()
        self.port = self.peer_port = 0  # taken by another process, most likely: new ones next time
        return False


def _answers(host: str, port: int) -> bool:
    """Whether a TLS handshake with ``host:port`` completes (etcd listens once it is ready to serve)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=1.0) as raw, context.wrap_socket(raw):
            return True
    except (OSError, ssl.SSLError):
        return False
