"""Serving the reference cluster's API over mutual TLS on loopback: one listener per control-plane node.

Each listener stands for that node's kube-apiserver: it serves the node's own apiserver.crt and
verifies client certificates against the node's ca.crt (``--client-ca-file``) when one is offered
(``CERT_OPTIONAL``, Go's VerifyClientCertIfGiven). The first node's listener is the cluster endpoint
the admin kubeconfig names. The standard library's server is used because it hands the verified
client certificate to the request, which ASGI servers do not.

A renewal "restarts" every API server: new connections get a context loaded from the renewed files,
and open connections are closed, as a restarted static pod drops them.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from kubecert.reference.kube.cluster import ReferenceCluster
from kubecert.reference.kube.handler import ApiRequestHandler
from kubecert.reference.kube.routes import ClusterApi
from kubecert.reference.pki.manifests import url

MAX_BODY_BYTES = 1024 * 1024
HANDSHAKE_TIMEOUT_S = 10.0
_POLL_S = 0.05  # how soon a stopped listener notices
# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: the handshake checks a client certificate's chain, not its dates.
# kube-apiserver's x509 authenticator refuses an expired client certificate with 401, after the handshake;
# so does the reference (auth.identity_of), so that clients see what they would see from the real one.
_NO_CHECK_TIME = 0x200000


def tls_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.load_verify_locations(cafile=client_ca)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.verify_flags |= _NO_CHECK_TIME
    context.set_alpn_protocols(["http/1.1"])  # no HTTP/2: Go clients then speak HTTP/1.1
    return context


class NodeListener(ThreadingHTTPServer):
    """One node's API server: TLS is set up per connection, in the connection's own thread, with the
    context current when it was accepted."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, node: str, address: tuple[str, int], files: Callable[[], tuple[Path, Path, Path]],
                 *, max_body: int = MAX_BODY_BYTES) -> None:
        self.node = node
        self.files = files
        self.max_body = max_body
        self.api: ClusterApi | None = None
        self.context = tls_context(*files())
        self._connections: set[ssl.SSLSocket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, ApiRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS lookup loopback does not need.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        # Headers and body go out as separate writes; with Nagle on, the body waits ~40 ms for an ACK.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return  # refused handshake (no common ground, a certificate of another CA): nothing to serve
        with self._connections_lock:
            self._connections.add(connection)
        try:
            ApiRequestHandler(connection, client_address, self)
        except OSError:
            pass  # the client went away, or a restart closed the connection
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            with contextlib.suppress(OSError):
                connection.close()

    def reload(self) -> None:
        """Serve the files as they are now on new connections and close the open ones."""
        self.context = tls_context(*self.files())
        self.close_connections()

    def close_connections(self) -> None:
        with self._connections_lock:
            open_now = list(self._connections)
        for connection in open_now:
            # The plain socket's shutdown: SSLSocket.shutdown would tear down TLS state another thread is using.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(connection, socket.SHUT_RDWR)


class ClusterServer:
    """The cluster's API servers on ``host`` (loopback: the certificates name 127.0.0.1 and localhost).

    ``start()`` serves from background threads and writes the admin kubeconfig for ``url``; ``stop()``
    closes everything. Also a context manager.
    """

    def __init__(self, cluster: ReferenceCluster, *, host: str = "127.0.0.1", port: int = 0,
                 max_body: int = MAX_BODY_BYTES) -> None:
        self.cluster = cluster
        self.host = host
        self.requested_port = port
        self.max_body = max_body
        self.listeners: list[NodeListener] = []
        self._threads: list[threading.Thread] = []
        self.api: ClusterApi | None = None

    @property
    def url(self) -> str:
        """The cluster endpoint: the first control-plane node's API server."""
        if not self.listeners:
            raise RuntimeError("the cluster is not being served")
        return url("https", self.host, self.listeners[0].port)

    @property
    def node_urls(self) -> dict[str, str]:
        """Each control-plane node's own API server."""
        return {listener.node: url("https", self.host, listener.port) for listener in self.listeners}

    @property
    def admin_kubeconfig(self) -> Path:
        return self.cluster.admin_kubeconfig_path

    def start(self) -> None:
        try:
            for index, node in enumerate(self.cluster.control_plane_nodes()):
                files = functools.partial(self.cluster.serving_files, node)
                address = (self.host, self.requested_port if index == 0 else 0)
                self.listeners.append(NodeListener(node, address, files, max_body=self.max_body))
        except BaseException:
            self._close_listeners()
            raise
        self.api = ClusterApi(self.cluster, self.url)
        for listener in self.listeners:
            listener.api = self.api
        self.cluster.write_admin_kubeconfig(self.url)
        self.cluster.add_restart_hook(self.reload)
        for listener in self.listeners:
            thread = threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": _POLL_S}, daemon=True,
                                      name=f"kubecert-cluster-{listener.node}")
            thread.start()
            self._threads.append(thread)

    def reload(self) -> None:
        """What restarting every node's kube-apiserver does to its serving certificate and connections."""
        for listener in self.listeners:
            listener.reload()

    def stop(self) -> None:
        self.cluster.remove_restart_hook(self.reload)
        # shutdown() waits for a poll interval; asking every listener at once makes that one wait, not one each.
        stoppers = [threading.Thread(target=listener.shutdown) for listener in self.listeners[:len(self._threads)]]
        for stopper in stoppers:
            stopper.start()
        for thread in (*stoppers, *self._threads):
            thread.join(5)
        self._close_listeners()
        self._threads.clear()

    def _close_listeners(self) -> None:
        for listener in self.listeners:
            listener.server_close()
            listener.close_connections()
        self.listeners.clear()

    def __enter__(self) -> ClusterServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
