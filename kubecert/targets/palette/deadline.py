"""A wall-clock deadline for a whole HTTP exchange: connect, headers and body together.

requests' timeouts bound each socket operation, so a server that sends one byte a second keeps a request
alive for as long as it likes (427 s were seen). The client's sockets are therefore tracked as urllib3
connects them, and a timer shuts them down when an exchange's deadline passes: the blocked read fails at
once, and the exchange reports the deadline instead of hanging.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import weakref
from collections.abc import Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class WatchedAdapter(HTTPAdapter):
    """An HTTPAdapter that knows its sockets, so that a deadline can cut them."""

    def __init__(self) -> None:
        self.sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        remember = self._remember

        class Watched(HTTPConnection):
            def connect(self) -> None:
                super().connect()
                remember(self.sock)

        class WatchedTls(HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                remember(self.sock)

        self.poolmanager.pool_classes_by_scheme = {
            "http": type("WatchedPool", (HTTPConnectionPool,), {"ConnectionCls": Watched}),
            "https": type("WatchedTlsPool", (HTTPSConnectionPool,), {"ConnectionCls": WatchedTls}),
        }

    def _remember(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self.sockets.add(sock)

    def cut(self) -> None:
        """Shut every socket down: whatever is blocked reading one fails now."""
        with self._lock:
            sockets = list(self.sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Deadline:
    """``with deadline.running():`` cuts the adapter's sockets if the block outlives ``seconds``."""

    def __init__(self, adapter: WatchedAdapter, seconds: float) -> None:
        self.adapter = adapter
        self.seconds = seconds
        self.expired = False

    def _expire(self) -> None:
        self.expired = True
        self.adapter.cut()

    @contextlib.contextmanager
    def running(self) -> Iterator[Deadline]:
        timer = threading.Timer(self.seconds, self._expire)
        timer.daemon = True
        timer.start()
        try:
            yield self
        finally:
            timer.cancel()

    def message(self, what: str) -> str:
        return (f"{what} got no complete answer within {self.seconds:g} s, so the connection was cut (a server "
                "that answers a little at a time?)")
