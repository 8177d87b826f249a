"""Profiles: the parameters a rule reads, as the kubeadm and Palette sources set them or a user's file does.

A profile also carries what the user declares about the cluster (node name, service range, extra SANs,
external etcd); the target's own files refine those where they say more.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from kubecert.inventory.load import Declarations

AUTO = "auto"
RENEWAL_MODES = ("in-place", "repave")
FILE_MODE_STRICTNESS = ("kubeadm", "cis")


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and the parameter."""


@dataclass(frozen=True)
class Profile:
    name: str
    leaf_days: int = 365
    ca_days: int = 3650
    backdate_seconds: int = 300  # how far NotBefore may precede issuance (kubeadm: 5 minutes)
    clock_skew_seconds: int = 300  # tolerated difference between kubecert's clock and the target's
    min_remaining_days: int = 30
    renewal_mode: str = "in-place"
    renewal_deadline_seconds: int = 1800
    file_modes: str = "kubeadm"
    # What the user declares about the cluster.
    node_name: str | None = None
    advertise_address: str | None = None
    service_cidr: str | None = None
    dns_domain: str | None = None
    extra_sans: tuple[str, ...] = ()
    external_etcd: bool = False

    def parameters(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values.pop("name")
        values["extra_sans"] = list(self.extra_sans)
        return values

    def declarations(self) -> Declarations:
        return Declarations(
            node_name=self.node_name, advertise_address=self.advertise_address, service_cidr=self.service_cidr,
            dns_domain=self.dns_domain, extra_sans=self.extra_sans, external_etcd=self.external_etcd,
        )

    def with_overrides(self, overrides: Mapping[str, Any], origin: str = "option") -> Profile:
        return _validated(dataclasses.replace(self, **_checked(overrides, origin)), origin)


BUILTIN: dict[str, Profile] = {
    # kubeadm constants.go: CertificateValidityPeriod 365 d, CACertificateValidityPeriod 3650 d.
    "kubeadm": Profile("kubeadm", leaf_days=365, ca_days=3650, renewal_mode="in-place"),
    # Palette's page: CA "valid for 3652 days"; manual renewal repaves (the 2023 behaviour of the page).
    "palette": Profile("palette", leaf_days=365, ca_days=3652, renewal_mode="repave"),
}

_FIELD_TYPES: dict[str, Any] = {f.name: f.type for f in fields(Profile)}
_INT_FIELDS = {n for n, t in _FIELD_TYPES.items() if t == "int"}
_OPTIONAL_STR = {n for n, t in _FIELD_TYPES.items() if t == "str | None"}


def resolve(spec: str, target_default: str) -> Profile:
    """The profile named by ``spec``: a built-in name, ``auto`` (the target's default) or a YAML file."""
    if spec == AUTO:
        return BUILTIN[target_default]
    if spec in BUILTIN:
        return BUILTIN[spec]
    return load_file(Path(spec))


def check_spec(spec: str) -> None:
    """Fail early, before any target is touched, when ``spec`` names no usable profile."""
    if spec != AUTO and spec not in BUILTIN:
        load_file(Path(spec))


def load_file(path: Path) -> Profile:
    """A user's profile: ``extends`` a built-in (default kubeadm) and overrides any parameter."""
    if not path.is_file():
        known = ", ".join([AUTO, *BUILTIN])
        raise ProfileError(f"profile {str(path)!r} is neither a built-in profile ({known}) nor a file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read the profile: {exc}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ProfileError(f"{path}: a profile is a mapping of parameter names to values")
    document = dict(document)
    base_name = document.pop("extends", "kubeadm")
    if base_name not in BUILTIN:
        raise ProfileError(f"{path}: extends: {base_name!r} is not a built-in profile ({', '.join(BUILTIN)})")
    name = str(document.pop("name", path.stem))
    base = dataclasses.replace(BUILTIN[base_name], name=name)
    return base.with_overrides(document, origin=str(path))


def _checked(overrides: Mapping[str, Any], origin: str) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, raw in overrides.items():
        value = raw
        if key not in _FIELD_TYPES or key == "name":
            known = ", ".join(sorted(k for k in _FIELD_TYPES if k != "name"))
            raise ProfileError(f"{origin}: unknown profile parameter {key!r} (known: {known})")
        if key in _INT_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ProfileError(f"{origin}: {key} must be a whole number ≥ 0, got {value!r}")
        elif key in _OPTIONAL_STR:
            if value is not None and not isinstance(value, str):
                raise ProfileError(f"{origin}: {key} must be text, got {value!r}")
        elif key == "extra_sans":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ProfileError(f"{origin}: extra_sans must be a list of names and addresses")
            value = tuple(value)
        elif key == "external_etcd" and not isinstance(value, bool):
            raise ProfileError(f"{origin}: external_etcd must be true or false, got {value!r}")
        elif key in ("renewal_mode", "file_modes") and not isinstance(value, str):
            raise ProfileError(f"{origin}: {key} must be text, got {value!r}")
        checked[key] = value
    return checked


def _validated(profile: Profile, origin: str) -> Profile:
    if profile.renewal_mode not in RENEWAL_MODES:
        raise ProfileError(f"{origin}: renewal_mode must be one of {', '.join(RENEWAL_MODES)}")
    if profile.file_modes not in FILE_MODE_STRICTNESS:
        raise ProfileError(f"{origin}: file_modes must be one of {', '.join(FILE_MODE_STRICTNESS)}")
    if profile.leaf_days == 0 or profile.ca_days == 0:
        raise ProfileError(f"{origin}: leaf_days and ca_days must be at least 1")
    if profile.service_cidr is not None:
        try:
            ipaddress.ip_network(profile.service_cidr, strict=False)
        except ValueError:
            raise ProfileError(f"{origin}: service_cidr {profile.service_cidr!r} is not a network") from None
    if profile.advertise_address is not None:
        try:
            ipaddress.ip_address(profile.advertise_address)
        except ValueError:
            raise ProfileError(f"{origin}: advertise_address {profile.advertise_address!r} is not an IP") from None
    return profile
