"""Running the reference API: the platform, its worker thread, uvicorn over HTTPS, and beside it the
Kubernetes-style API where the clusters' SpectroCluster objects live (its kubeconfig is ``kubeconfig``).

``ReferenceApiServer.start()`` serves from a background thread (the embedded reference target, tests);
``serve_forever()`` serves from the calling thread until SIGINT or SIGTERM (``kubecert reference serve``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from kubecert.reference.api.app import create_app
from kubecert.reference.api.cluster_api import ClusterApiServer
from kubecert.reference.api.cluster_pki import cluster_pki
from kubecert.reference.api.tls import DEFAULT_NAMES, ServerTls, server_tls
from kubecert.reference.pki.keys import FreshKeys, KeyFactory
from kubecert.reference.platform.engine import Platform, Timing
from kubecert.reference.platform.worker import PlatformWorker

_START_TIMEOUT_S = 30.0
# How long an idle HTTP/1.1 connection stays open. uvicorn's default, 5 s, equals the palette client's
# default poll interval: the server closed a connection just as the client sent its next request on
# it, and the client saw "Remote end closed connection without response". Well above any poll
# interval, an idle connection is never closed under a client that polls.
KEEP_ALIVE_S = 75


@dataclass(frozen=True)
class ServerSettings:
    state_file: Path
    api_key: str = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    timing: Timing = field(default_factory=Timing)
    faults: frozenset[str] = frozenset()
    rate: float = 200.0  # requests a second before 429
    rate_per_address: float = 0.0  # requests a second from one client address before 429 (0: no such limit)
    keep_alive_s: int = KEEP_ALIVE_S
    ca_days: int = 3652
    leaf_days: int = 365


class ReferenceApiServer:
    def __init__(self, settings: ServerSettings, *, keys: KeyFactory | None = None) -> None:
        self.settings = settings
        self.platform = Platform(settings.state_file, keys=keys or FreshKeys(), timing=settings.timing,
                                 faults=settings.faults, ca_days=settings.ca_days, leaf_days=settings.leaf_days)
        self.worker = PlatformWorker(self.platform)
        names = tuple(dict.fromkeys((settings.host, *DEFAULT_NAMES)))
        self.tls: ServerTls = server_tls(Path(f"{settings.state_file}.tls"), names)
        self.cluster_api = ClusterApiServer(self.platform, cluster_pki(Path(f"{settings.state_file}.kube")),
                                            Path(f"{settings.state_file}.kubeconfig"), host=settings.host)
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the server is not listening")
        return int(self._socket.getsockname()[1])

    @property
    def kubeconfig(self) -> Path:
        """The cluster-admin's kubeconfig of the Kubernetes-style API, written when the server starts."""
        return self.cluster_api.kubeconfig

    @property
    def url(self) -> str:
        host = self.settings.host
        return f"https://{f'[{host}]' if ':' in host else host}:{self.port}"

    def _prepare(self) -> uvicorn.Server:
        family = socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio turns Nagle off only on sockets that say they are TCP, and with
        # Nagle on, every answer's body waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.settings.host, self.settings.port))
        sock.listen(128)
        self._socket = sock
        app = create_app(self.platform, self.worker, self.settings.api_key, rate=self.settings.rate,
                         rate_per_address=self.settings.rate_per_address)
        config = uvicorn.Config(
            app, ssl_certfile=str(self.tls.cert_file), ssl_keyfile=str(self.tls.key_file), log_level="warning",
            access_log=False, lifespan="off", timeout_graceful_shutdown=1, server_header=False,
            timeout_keep_alive=self.settings.keep_alive_s,
        )
        self.worker.start()
        self.cluster_api.start()
        self._server = uvicorn.Server(config)
        return self._server

    def start(self) -> None:
        server = self._prepare()
        sock = self._socket
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name="kubecert-reference-api")
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the reference API server did not start")
            time.sleep(0.01)

    def serve_forever(self, on_ready: Callable[[], None] | None = None) -> None:
        server = self._prepare()
        assert self._socket is not None
        if on_ready is not None:
            on_ready()
        server.run(sockets=[self._socket])
        self._shutdown()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._shutdown()

    def _shutdown(self) -> None:
        self.cluster_api.stop()
        self.worker.stop()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
        self.platform.close()
