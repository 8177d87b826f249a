"""The certificate a server presents, read in a TLS handshake that trusts nothing: kubecert judges it
itself (chain, dates, names), so a certificate that would fail verification is still seen and named.

The connection and the handshake each end within the timeout: Python's ssl module bounds a handshake on a
socket with a timeout as a whole (one deadline, not one per byte). Nothing is sent but the handshake (no
client certificate, no request), and the certificate list is bounded by OpenSSL's own limit (100 KiB).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import urllib.parse

from kubecert.targets.errors import TargetUnavailable

HANDSHAKE_TIMEOUT_S = 10.0


def host_and_port(server: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(server)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{server!r} is not an https:// address")
    return parts.hostname, parts.port or 443


def served_certificate(server: str, *, server_name: str | None = None, timeout: float = HANDSHAKE_TIMEOUT_S) -> bytes:
    """DER of the certificate ``server`` (an https:// URL) presents, asked for ``server_name`` (default: the
    server's host) as clients ask; TargetUnavailable when none comes."""
    host, port = host_and_port(server)
    return handshake_certificate(host, port, server_name=server_name or host, timeout=timeout)


def handshake_certificate(host: str, port: int, *, server_name: str | None = None,
                          timeout: float = HANDSHAKE_TIMEOUT_S) -> bytes:
    """DER of the certificate ``host:port`` presents; TargetUnavailable saying why when none comes."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # what is served is judged by the rules, not refused here
    sni = None if server_name is None or _is_address(server_name) else server_name
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=sni) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise TargetUnavailable(f"no TLS handshake with {where}: {exc.strerror or exc}") from None
    if not der:
        raise TargetUnavailable(f"{where} presented no certificate")
    return der


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
