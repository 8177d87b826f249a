"""An HTTPS server on loopback with a reference node's API server certificate (so a kubeconfig of the
cluster verifies it), answering as a test's handler says: for what the reference API would never answer."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kubecert.reference.kube import ReferenceCluster


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
