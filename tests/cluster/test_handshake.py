"""The TLS handshake kubecert reads a served certificate with (KC-CL-01's API server, KC-CL-05's components) is
hostile input: a server that answers a byte at a time is cut off at the timeout (Python's ssl module bounds a
handshake as a whole, not each byte: this holds kubecert to it), and one that sends what is not TLS, or
nothing, is an error naming the address."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from kubecert.targets.cluster.handshake import handshake_certificate, served_certificate
from kubecert.targets.errors import TargetUnavailable

HANG_GUARD_S = 60.0  # how long the test waits for an answer at all: a bound, not a measurement
# A TLS 1.2 handshake record header announcing 16 KiB: the client waits for all of it, a byte every 0.1 s.
_RECORD_START = bytes([0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00, 0x3F, 0xFC])


@contextmanager
def trickling_server(stop: threading.Event) -> Iterator[int]:
    """A server on loopback that answers every connection with a handshake record, one byte every 0.1 s, then
    a byte of nothing that ends it, forever; its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)

    def trickle(connection: socket.socket) -> None:
        with connection:
            step = 0
            while not stop.is_set():
                byte = _RECORD_START[step] if step < len(_RECORD_START) else 0
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return
                step += 1
                stop.wait(0.1)

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=trickle, args=(connection,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        server.join(5)
        listener.close()


def test_a_server_that_trickles_its_handshake_is_cut_off_at_the_deadline() -> None:
    stop = threading.Event()
    outcome: list[BaseException | bytes] = []
    with trickling_server(stop) as port:
        def dial() -> None:
            try:
                outcome.append(served_certificate(f"https://127.0.0.1:{port}", timeout=1.0))
            except BaseException as exc:  # whatever it is, the test says it
                outcome.append(exc)

        dialler = threading.Thread(target=dial, daemon=True)
        dialler.start()
        dialler.join(HANG_GUARD_S)
        assert not dialler.is_alive(), "the handshake never ended: each byte restarted its timeout"
    assert len(outcome) == 1 and isinstance(outcome[0], TargetUnavailable), outcome
    message = str(outcome[0])
    assert message.startswith(f"no TLS handshake with 127.0.0.1:{port}: ") and "timed out" in message, message


def test_what_is_not_tls_is_an_error_naming_the_address() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def answer() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n\x1b[31mred\x1b[0m")
                time.sleep(0.2)

        threading.Thread(target=answer, daemon=True).start()
        with pytest.raises(TargetUnavailable, match=rf"^no TLS handshake with 127\.0\.0\.1:{port}: ") as raised:
            handshake_certificate("127.0.0.1", port, timeout=5.0)
    assert "\x1b" not in str(raised.value)


def test_nothing_listening_is_an_error_naming_the_address() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: the connection is refused
        with pytest.raises(TargetUnavailable, match=rf"no TLS handshake with 127\.0\.0\.1:{port}: .*refused"):
            handshake_certificate("127.0.0.1", port, timeout=5.0)
