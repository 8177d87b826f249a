"""What is known of a node beyond its certificates (its name, address, service range, ...), in one place:
what the user declares and what the node's own files say, each value with where it came from."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

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
    kubernetes_version: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    FIELDS: ClassVar[tuple[str, ...]] = (
        "node_name", "advertise_address", "service_cidr", "dns_domain", "extra_sans", "external_etcd",
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
        for name in ("node_name", "advertise_address", "service_cidr", "dns_domain"):
            if name in chosen and not isinstance(chosen[name], str):
                raise ValueError(f"{origin}: {name} must be text, got {chosen[name]!r}")
        if "service_cidr" in chosen:
            try:
                ipaddress.ip_network(chosen["service_cidr"], strict=False)
            except ValueError:
                raise ValueError(f"{origin}: service_cidr {chosen['service_cidr']!r} is not a network") from None
        if "advertise_address" in chosen:
            try:
                ipaddress.ip_address(chosen["advertise_address"])
            except ValueError:
                raise ValueError(f"{origin}: advertise_address {chosen['advertise_address']!r} is not an IP") from None
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
    def first_service_ip(self) -> str | None:
        if self.service_cidr is None:
            return None
        network = ipaddress.ip_network(self.service_cidr, strict=False)
        return str(network.network_address + 1)
