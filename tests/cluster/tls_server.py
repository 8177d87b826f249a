"""An HTTPS server on loopback with a reference node's API server certificate (so a kubeconfig of the
cluster verifies it), answering as a test's handler says: for what the reference API would never answer; and
kubecert's client of it, with the served cluster's admin credentials."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.reference.pki.kubeconfig import parse_kubeconfig, render_kubeconfig
from kubecert.targets.cluster.access import access_from_file
from kubecert.targets.cluster.client import ClusterClient
from kubecert.targets.cluster.trust import KubeconfigTrust


@contextmanager
def serving_as_api_server(cluster: ReferenceCluster, handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The server's https:// URL while the block runs; it serves cp-1's certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cluster.serving_files("cp-1")[:2])
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"https://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


@contextmanager
def client_of(url: str, served: ClusterServer, folder: Path) -> Iterator[ClusterClient]:
    """kubecert's client of the server at ``url``, as the served cluster's admin (its kubeconfig in ``folder``)."""
    document = parse_kubeconfig(served.admin_kubeconfig.read_bytes())
    document["clusters"][0]["cluster"]["server"] = url
    kubeconfig = folder / "hostile.conf"
    kubeconfig.write_bytes(render_kubeconfig(document))
    client = ClusterClient(access_from_file(kubeconfig, None, KubeconfigTrust()))
    try:
        yield client
    finally:
        client.close()
