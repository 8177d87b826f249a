"""How the reference's components hold their serving certificates, and the TLS listeners that stand in for
those that only serve a handshake here (the kubelet's port; etcd where the real one is not installed).

A component either reads its files again when they change (kube-apiserver's dynamic serving certificate,
etcd's key pair read for every connection) or keeps what it loaded at start until it restarts (the
kubelet's kubelet.crt). ``ServingFiles`` is one such holder: the TLS context of the files as the component
last loaded them. A pair that is half written (a new certificate beside the old key) does not load: the
component keeps serving what it had, as kube-apiserver does while it logs "private key does not match".
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

HANDSHAKE_TIMEOUT_S = 10.0
# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: the handshake checks a client certificate's chain, not its dates.
# kube-apiserver's x509 authenticator refuses an expired client certificate with 401, after the handshake;
# so does the reference (auth.identity_of), so that clients see what they would see from the real one.
_NO_CHECK_TIME = 0x200000

Files = Callable[[], tuple[Path, Path, Path]]  # (certificate, key, client CA) as the component names them now


def tls_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.load_verify_locations(cafile=client_ca)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.verify_flags |= _NO_CHECK_TIME
    context.set_alpn_protocols(["http/1.1"])  # no HTTP/2: Go clients then speak HTTP/1.1
    return context


class ServingFiles:
    """The TLS context a component serves: loaded at start and on ``load``; with ``follows_files``, again
    whenever the certificate or key file changes."""

    def __init__(self, files: Files, *, follows_files: bool) -> None:
        self.files = files
        self.follows_files = follows_files
        self._lock = threading.Lock()
        self._loaded: tuple[ssl.SSLContext, tuple[Any, ...]] | None = None
        self.load()

    def load(self) -> None:
        """Load the files as they are now (a start, or a restart); OSError or SSLError when they do not."""
        files = self.files()
        context = tls_context(*files)
        with self._lock:
            self._loaded = context, _signature(files)

    def context(self) -> ssl.SSLContext:
        """The context to serve a new connection with."""
        with self._lock:
            assert self._loaded is not None
            context, signature = self._loaded
        if self.follows_files:
            files = self.files()
            if _signature(files) != signature:
                with contextlib.suppress(OSError, ssl.SSLError):  # half written: keep serving what was loaded
                    context = tls_context(*files)
                    with self._lock:
                        self._loaded = context, _signature(files)
        return context


def _signature(files: tuple[Path, ...]) -> tuple[Any, ...]:
    """What changes when a file is written anew (write_atomic replaces it: a new inode)."""
    found: list[Any] = []
    for path in files[:2]:
        try:
            status = os.stat(path)
        except OSError:
            found.append(None)
            continue
        found.append((status.st_ino, status.st_mtime_ns, status.st_size))
    return tuple(found)


class HandshakeListener(socketserver.ThreadingTCPServer):
    """A component that serves its certificate on ``address`` and nothing more: a handshake, then the
    connection closes (kubecert reads the certificate; what the component answers after is not the point)."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], serving: ServingFiles) -> None:
        self.serving = serving
        super().__init__(address, socketserver.BaseRequestHandler)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"kubecert-handshake-{self.port}")

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            with self.serving.context().wrap_socket(request, server_side=True):
                pass
        except (OSError, ValueError):
            pass  # the client went away or refused: nothing to serve

    def stop(self) -> None:
        if self._thread.is_alive():
            self.shutdown()
        self.server_close()


def free_port(host: str) -> int:
    """A port nothing listens on now (another process may take it before it is used: callers retry)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
