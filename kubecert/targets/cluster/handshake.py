"""The certificate a server presents, read in a TLS handshake that trusts nothing: kubecert judges it
itself (chain, dates, names), so a certificate that would fail verification is still seen and named."""

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
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # what is served is judged by the rules, not refused here
    name = server_name or host
    sni = None if _is_address(name) else name
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=sni) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise TargetUnavailable(f"no TLS handshake with {host}:{port}: {exc.strerror or exc}") from None
    if not der:
        raise TargetUnavailable(f"{host}:{port} presented no certificate")
    return der


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
