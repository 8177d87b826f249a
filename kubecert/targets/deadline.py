"""A wall-clock deadline for a whole HTTP exchange: connect, headers and body together.

requests' timeouts bound each socket operation, so a server that sends one byte a second keeps a request
alive for as long as it likes (427 s were seen). The client's sockets are therefore tracked as urllib3
connects them, and a timer shuts them down when an exchange's deadline passes: the blocked read fails at
once, and the exchange reports the deadline instead of hanging.

A target's time budget bounds all its exchanges together: each one's deadline is the sooner of its own and
what is left of the budget.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager


class SocketWatch:
    """Knows the sockets a urllib3 PoolManager opens, so that a deadline can cut them."""

    def __init__(self) -> None:
        self.sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._refusing = False  # a deadline has passed: a socket connected now (a retry's) is shut at once

    def install(self, pools: PoolManager) -> None:
        """Make ``pools`` connect through connections that report their sockets here."""
        remember = self._remember

        class Watched(HTTPConnection):
            def connect(self) -> None:
                super().connect()
                remember(self.sock)

        class WatchedTls(HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                remember(self.sock)

        pools.pool_classes_by_scheme = {
            "http": type("WatchedPool", (HTTPConnectionPool,), {"ConnectionCls": Watched}),
            "https": type("WatchedTlsPool", (HTTPSConnectionPool,), {"ConnectionCls": WatchedTls}),
        }

    def _remember(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self.sockets.add(sock)
                refusing = self._refusing
            if refusing:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self, *, until_released: bool = False) -> None:
        """Shut every socket down: whatever is blocked reading one fails now. ``until_released``: and every
        socket connected after, until ``release``: a client that retries once its connection was cut (urllib3
        does) gets no new exchange past the deadline."""
        with self._lock:
            sockets = list(self.sockets)
            self._refusing = self._refusing or until_released
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def release(self) -> None:
        with self._lock:
            self._refusing = False


class WatchedAdapter(HTTPAdapter):
    """A requests adapter whose sockets a deadline can cut."""

    def __init__(self) -> None:
        self.watch = SocketWatch()
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.watch.install(self.poolmanager)

    def cut(self, *, until_released: bool = False) -> None:
        self.watch.cut(until_released=until_released)

    def release(self) -> None:
        self.watch.release()


class Deadline:
    """``with deadline.running():`` cuts the watched sockets if the block outlives ``seconds``."""

    def __init__(self, watched: WatchedAdapter | SocketWatch, seconds: float) -> None:
        self.watched = watched
        self.seconds = seconds
        self.expired = False

    def _expire(self) -> None:
        self.expired = True
        self.watched.cut(until_released=True)

    @contextlib.contextmanager
    def running(self) -> Iterator[Deadline]:
        timer = threading.Timer(self.seconds, self._expire)
        timer.daemon = True
        timer.start()
        try:
            yield self
        finally:
            timer.cancel()
            if self.expired:
                self.watched.release()

    def message(self, what: str) -> str:
        return (f"{what} got no complete answer within {self.seconds:g} s, so the connection was cut (a server "
                "that answers a little at a time?)")


class TimeBudget:
    """How long kubecert may spend on one target, counted from its first use. Waits that have their own bound
    (watching a renewal until its deadline) are set aside and not counted."""

    def __init__(self, seconds: float, option: str) -> None:
        self.seconds = seconds
        self.option = option  # the option that sets it, for the message
        self._started: float | None = None
        self._set_aside = 0.0
        self._aside_since: float | None = None
        self._depth = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._started is None:
                self._started = time.monotonic()

    def remaining(self) -> float:
        """Seconds left (infinite while set aside, the whole budget before the first use)."""
        with self._lock:
            if self._aside_since is not None:
                return float("inf")
            if self._started is None:
                return self.seconds
            return self.seconds - (time.monotonic() - self._started - self._set_aside)

    @property
    def spent(self) -> bool:
        return self.remaining() <= 0

    @contextlib.contextmanager
    def set_aside(self) -> Iterator[None]:
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                self._aside_since = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._aside_since is not None:
                    self._set_aside += time.monotonic() - self._aside_since
                    self._aside_since = None

    def message(self) -> str:
        return f"the target's time budget of {self.seconds:g} s ({self.option}) is spent"
