"""Serving the reference cluster's API over mutual TLS on loopback: one listener per control-plane node.

Each listener stands for that node's kube-apiserver: it serves the node's own apiserver.crt and
verifies client certificates against the node's ca.crt (``--client-ca-file``) when one is offered
(``CERT_OPTIONAL``, Go's VerifyClientCertIfGiven). Like kube-apiserver it reads apiserver.crt again when the
file changes. The first node's listener is the cluster endpoint the admin kubeconfig names. The standard
library's server is used because it hands the verified client certificate to the request, which ASGI
servers do not. Beside the API servers run each node's other static pods and its kubelet (static_pods.py).

A renewal restarts every renewed node's static pods (unless a fault says otherwise): a restarted API
server drops its open connections, as a restarted static pod does.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from kubecert.reference.kube.cluster import ReferenceCluster
from kubecert.reference.kube.handler import ApiRequestHandler
from kubecert.reference.kube.routes import ClusterApi
from kubecert.reference.kube.serving import HANDSHAKE_TIMEOUT_S, ServingFiles
from kubecert.reference.kube.static_pods import APISERVER, StaticPods
from kubecert.reference.pki.manifests import url

MAX_BODY_BYTES = 1024 * 1024
_POLL_S = 0.05  # how soon a stopped listener notices


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
        self.serving = ServingFiles(files, follows_files=True)
        self._connections: set[Any] = set()  # the open TLS connections
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
            connection = self.serving.context().wrap_socket(request, server_side=True)
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
        """A restart: serve the files as they are now on new connections and close the open ones."""
        self.serving.load()
        self.close_connections()

    def close_connections(self) -> None:
        with self._connections_lock:
            open_now = list(self._connections)
        for connection in open_now:
            # The plain socket's shutdown: SSLSocket.shutdown would tear down TLS state another thread is using.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(connection, socket.SHUT_RDWR)


class ClusterServer:
    """The cluster's API servers, static pods and kubelets on ``host`` (loopback: the certificates name
    127.0.0.1 and localhost). etcd is the real one where it is on PATH and ``real_etcd`` (the default).

    ``start()`` serves from background threads and writes the admin kubeconfig for ``url``; ``stop()``
    closes everything. Also a context manager.
    """

    def __init__(self, cluster: ReferenceCluster, *, host: str = "127.0.0.1", port: int = 0,
                 max_body: int = MAX_BODY_BYTES, real_etcd: bool = True) -> None:
        self.cluster = cluster
        self.host = host
        self.requested_port = port
        self.max_body = max_body
        self.real_etcd = real_etcd
        self.listeners: list[NodeListener] = []
        self._threads: list[threading.Thread] = []
        self.api: ClusterApi | None = None
        self.static_pods: StaticPods | None = None

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
            self.static_pods = StaticPods(self.cluster, self.host, real_etcd=self.real_etcd)
            started = self.static_pods.start()
        except BaseException:
            self._close_listeners()
            raise
        self.api = ClusterApi(self.cluster, self.url, served=self)
        for listener in self.listeners:
            listener.api = self.api
        self.cluster.write_admin_kubeconfig(self.url)
        self.cluster.add_restart_hook(self.restart_static_pods)
        for listener in self.listeners:
            thread = threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": _POLL_S}, daemon=True,
                                      name=f"kubecert-cluster-{listener.node}")
            thread.start()
            self._threads.append(thread)
        self.cluster.serving_started(started)

    def restart_static_pods(self, nodes: tuple[str, ...]) -> None:
        """What kubeadm asks after a renewal: every static pod of ``nodes`` restarted."""
        for node in nodes:
            for component in self.static_pods.components(node) if self.static_pods is not None else ():
                self.restart(node, component)

    def restart(self, node: str, component: str) -> None:
        """One static pod of one node restarted (``crictl stop`` on its container: the kubelet starts it again)."""
        if self.static_pods is not None:
            self.static_pods.restart(node, component)
        if component == APISERVER:
            for listener in self.listeners:
                if listener.node == node:
                    listener.reload()

    # --- what the API shows of the served nodes (routes.ServedNodes)

    def mirror_pods(self) -> list[dict[str, Any]]:
        return self.static_pods.mirror_pods(self._apiserver_port) if self.static_pods is not None else []

    def node_endpoint(self, node: str) -> tuple[str, int] | None:
        """Where the served node's kubelet listens: the node is reached on this host's loopback."""
        port = self.static_pods.kubelet_port(node) if self.static_pods is not None else None
        return (self.host, port) if port is not None else None

    def _apiserver_port(self, node: str) -> int | None:
        return next((listener.port for listener in self.listeners if listener.node == node), None)

    def stop(self) -> None:
        self.cluster.remove_restart_hook(self.restart_static_pods)
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
        if self.static_pods is not None:
            self.static_pods.stop()
            self.static_pods = None

    def __enter__(self) -> ClusterServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
