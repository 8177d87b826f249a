"""What is known of a node beyond its certificates (its name, address, service range, ...), in one place:
what the user declares and what the node's own files say, each value with where it came from."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kubecert.capabilities import NodeRole

USER = "declared by the user"


@dataclass(frozen=True)
class NodeFacts:
    """What is known of a node beyond its certificates: one place for what the user declares and what
    the node's own files say. ``sources`` says where each value came from (a manifest, the user, kubeadm's
    default); a value nobody gave is None and its source "unknown"."""

    node_name: str | None = None
    advertise_address: str | None = None
    service_cidr: str | None = None
    dns_domain: str | None = None
    extra_sans: tuple[str, ...] = ()
    external_etcd: bool = False
    role: str | None = None  # a NodeRole: control-plane or worker
    cluster_signing_duration: str | None = None  # kube-controller-manager's, as Go writes a duration: 8760h0m0s
    control_plane_endpoint: str | None = None  # kubeadm's controlPlaneEndpoint: HOST[:PORT], [IPv6]:PORT
    kubernetes_version: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    # Facts a node file would have given but kubecert could not read (over a bound, or unreadable): why, by
    # fact. A rule that reads one is an error, never judged by a value from further down the list.
    unread: Mapping[str, str] = field(default_factory=dict)

    FIELDS: ClassVar[tuple[str, ...]] = (
        "node_name", "advertise_address", "service_cidr", "dns_domain", "extra_sans", "external_etcd", "role",
        "cluster_signing_duration", "control_plane_endpoint",
    )

    @classmethod
    def declared(cls, values: Mapping[str, Any], *, where: str, source: str = USER) -> NodeFacts:
        """Facts a user states (``where``: the profile file, the command line); ValueError names a value that
        cannot be one. ``source`` is how reports say where the values came from."""
        origin = where
        unknown = sorted(set(values) - set(cls.FIELDS))
        if unknown:
            raise ValueError(f"{origin}: unknown node fact {unknown[0]!r} (known: {', '.join(cls.FIELDS)})")
        chosen = {k: v for k, v in values.items() if v not in (None, (), [], False)}
        for name, check in _TEXT_FACTS.items():
            if name in chosen and not isinstance(chosen[name], str):
                raise ValueError(f"{origin}: {name} must be text, got {chosen[name]!r}")
            wrong = check(chosen[name]) if name in chosen else None
            if wrong:
                raise ValueError(f"{origin}: {name} {chosen[name]!r} {wrong}")
        if "extra_sans" in chosen:
            sans = chosen["extra_sans"]
            sans = [sans] if isinstance(sans, str) else sans
            if not isinstance(sans, list | tuple) or not all(isinstance(v, str) for v in sans):
                raise ValueError(f"{origin}: extra_sans must be a list of names and addresses")
            chosen["extra_sans"] = tuple(sans)
        if "external_etcd" in chosen and not isinstance(chosen["external_etcd"], bool):
            raise ValueError(f"{origin}: external_etcd must be true or false, got {chosen['external_etcd']!r}")
        return cls(**chosen, sources=dict.fromkeys(chosen, source))

    def over(self, base: NodeFacts) -> NodeFacts:
        """These facts where given, ``base``'s elsewhere (the command line over a profile file)."""
        values = {name: getattr(self, name) if name in self.sources else getattr(base, name) for name in self.FIELDS}
        sources = {**base.sources, **self.sources}
        return dataclasses.replace(base, **values, sources=sources)

    def source(self, name: str) -> str:
        return self.sources.get(name, "unknown")

    def as_dict(self) -> dict[str, Any]:
        """The declared values, for reports."""
        return {name: list(v) if isinstance(v := getattr(self, name), tuple) else v for name in self.FIELDS
                if name in self.sources}

    @property
    def signing_duration(self) -> dt.timedelta | None:
        return go_duration(self.cluster_signing_duration) if self.cluster_signing_duration else None

    @property
    def endpoint_host(self) -> str | None:
        """The control-plane endpoint's host: what kubeadm puts among the apiserver's SANs."""
        return endpoint_host(self.control_plane_endpoint) if self.control_plane_endpoint else None

    @property
    def first_service_ip(self) -> str | None:
        if self.service_cidr is None:
            return None
        network = ipaddress.ip_network(self.service_cidr, strict=False)
        return str(network.network_address + 1)


def _not_network(value: str) -> str | None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return "is not a network"
    return None


def _not_address(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "is not an IP"
    return None


def _not_role(value: str) -> str | None:
    return None if value in set(NodeRole) else f"is not a node role ({', '.join(NodeRole)})"


def split_endpoint(endpoint: str) -> tuple[str, str | None]:
    """(host, port or None) of ``HOST``, ``HOST:PORT``, ``IPv6``, ``[IPv6]`` or ``[IPv6]:PORT``, as kubeadm splits
    a controlPlaneEndpoint; ValueError when it is none of them."""
    if endpoint.startswith("["):
        host, closed, rest = endpoint[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError("is not HOST[:PORT] or [IPv6]:PORT")
        return host, rest[1:] if rest else None
    if endpoint.count(":") == 1:
        host, _, port = endpoint.partition(":")
        return host, port
    return endpoint, None


def endpoint_host(endpoint: str) -> str:
    """The host of a control-plane endpoint: what kubeadm puts among the apiserver's SANs."""
    try:
        return split_endpoint(endpoint)[0]
    except ValueError:
        return endpoint  # checked where it was given; said as it is


_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE)


def endpoint_problem(value: str) -> str | None:
    """What is wrong with ``value`` as a control-plane endpoint, or None."""
    try:
        host, port = split_endpoint(value)
    except ValueError as exc:
        return str(exc)
    if port is not None and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        return "has no valid port (1-65535)"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if len(host) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in host.split(".")):
            return "is neither an IP address nor a DNS name (HOST[:PORT], [IPv6]:PORT)"
    return None


def _not_duration(value: str) -> str | None:
    try:
        go_duration(value)
    except ValueError:
        return "is not a duration such as 8760h or 8760h0m0s"
    return None


# The facts given as text, and what each must be (None: any text).
_TEXT_FACTS: dict[str, Callable[[str], str | None]] = {
    "node_name": lambda _: None, "advertise_address": _not_address, "service_cidr": _not_network,
    "dns_domain": lambda _: None, "role": _not_role, "cluster_signing_duration": _not_duration,
    "control_plane_endpoint": endpoint_problem,
}

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_MAX_DURATION_CHARS = 64


class DurationTooLong(ValueError):
    """Longer than kubecert reads: Go might read it, so it is unknown rather than wrong."""


def go_duration(text: str) -> dt.timedelta:
    """A duration as Go's time.ParseDuration reads it (``8760h``, ``8760h0m0s``, ``1.5h``); ValueError names
    what is wrong. Only positive durations: a signing duration of zero or less signs nothing."""
    if len(text) > _MAX_DURATION_CHARS:
        raise DurationTooLong(f"{text[:_MAX_DURATION_CHARS]!r}... is {len(text)} characters, over kubecert's bound of "
                              f"{_MAX_DURATION_CHARS} for a duration; not read")
    position, seconds = 0, 0.0
    while position < len(text):
        match = _GO_PART.match(text, position)
        if match is None:
            raise ValueError(f"{text!r} is not a duration such as 8760h or 8760h0m0s")
        seconds += float(match.group(1)) * _GO_UNITS[match.group(2)]
        position = match.end()
    if not text or seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration such as 8760h")
    try:
        return dt.timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is a duration longer than any certificate can be valid") from None
