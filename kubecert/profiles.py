"""Profiles: the policy rules judge by (validity periods, the expiry horizon, how renewal proceeds), as the
kubeadm and Palette sources set them or a user's file does.

A profile is policy only. A profile file may also state what the cluster's files do not say (node name,
service range, extra SANs, external etcd): those are node facts (kubecert.inventory.NodeFacts) and are
returned beside the profile, never inside it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

from kubecert.inventory.facts import NodeFacts
from kubecert.text import escaped

AUTO = "auto"
# How a renewal through a management API must proceed: "auto" judges it by the mode the platform shows (a
# repave replaces the control-plane machines, an in-place renewal keeps them); the others pin one.
RENEWAL_MODES = (AUTO, "in-place", "repave")
FILE_MODE_STRICTNESS = ("kubeadm", "cis")
MAX_PROFILE_BYTES = 64 * 1024
# A century bounds every period and horizon (in days, or in seconds for the *_seconds ones): no certificate is
# meant to live longer, and dates a run computes from today stay within the years datetime can hold (to 9999).
MAX_DAYS = 36_500


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

    def parameters(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values.pop("name")
        return values

    def with_overrides(self, overrides: Mapping[str, Any], origin: str = "option") -> Profile:
        return _validated(dataclasses.replace(self, **_checked(overrides, origin)), origin)


BUILTIN: dict[str, Profile] = {
    # kubeadm constants.go: CertificateValidityPeriod 365 d, CACertificateValidityPeriod 3650 d.
    "kubeadm": Profile("kubeadm", leaf_days=365, ca_days=3650, renewal_mode="in-place"),
    # Palette's page: CA "valid for 3652 days". Renewal repaved in 2023 and renews in place since 4.2: which one a
    # platform does is seen when it renews.
    "palette": Profile("palette", leaf_days=365, ca_days=3652, renewal_mode=AUTO),
}

_FIELD_TYPES: dict[str, Any] = {f.name: f.type for f in fields(Profile) if f.name != "name"}
_INT_FIELDS = {n for n, t in _FIELD_TYPES.items() if t == "int"}


def resolve(spec: str, target_default: str) -> Profile:
    """The profile named by ``spec``: a built-in name, ``auto`` (the target's default) or a YAML file."""
    if spec == AUTO:
        return BUILTIN[target_default]
    if spec in BUILTIN:
        return BUILTIN[spec]
    return load_file(Path(spec))[0]


def declared_facts(spec: str) -> NodeFacts:
    """What a profile file declares about the cluster; nothing for a built-in profile."""
    if spec == AUTO or spec in BUILTIN:
        return NodeFacts()
    return load_file(Path(spec))[1]


def check_spec(spec: str) -> None:
    """Fail early, before any target is touched, when ``spec`` names no usable profile."""
    if spec != AUTO and spec not in BUILTIN:
        load_file(Path(spec))


@cache
def load_file(path: Path) -> tuple[Profile, NodeFacts]:
    """A user's profile: ``extends`` a built-in (default kubeadm) and overrides any parameter; node facts
    it declares come back beside it."""
    if not os.path.lexists(path):
        known = ", ".join([AUTO, *BUILTIN])
        raise ProfileError(f"profile {str(path)!r} is neither a built-in profile ({known}) nor a file")
    # PyYAML only for a profile file: the catalog reads the parameters' names from here, and `kubecert rules`
    # reads no YAML.
    from kubecert.inventory.safe_yaml import YamlError, load_bounded
    from kubecert.userfiles import UserFileError, read_user_file

    try:
        document = load_bounded(read_user_file(path, "profile", MAX_PROFILE_BYTES).data, max_bytes=MAX_PROFILE_BYTES)
    except UserFileError as exc:
        raise ProfileError(str(exc)) from None
    except YamlError as exc:
        raise ProfileError(f"{path}: {exc}") from None
    if not isinstance(document, dict):
        raise ProfileError(f"{path}: a profile is a mapping of parameter names to values")
    document = {str(k): v for k, v in document.items()}
    base_name = document.pop("extends", "kubeadm")
    if not isinstance(base_name, str) or base_name not in BUILTIN:
        raise ProfileError(f"{path}: extends: {base_name!r} is not a built-in profile ({', '.join(BUILTIN)})")
    name = document.pop("name", path.stem)
    if not isinstance(name, str | int):
        raise ProfileError(f"{path}: name must be text, got {name!r}")
    facts = {key: document.pop(key) for key in NodeFacts.FIELDS if key in document}
    try:
        declared = NodeFacts.declared(facts, where=str(path), source=f"declared in {path.name}")
    except ValueError as exc:
        raise ProfileError(str(exc)) from None
    base = dataclasses.replace(BUILTIN[base_name], name=str(name))
    return base.with_overrides(document, origin=str(path)), declared


def _checked(overrides: Mapping[str, Any], origin: str) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in _FIELD_TYPES:
            known = ", ".join(sorted([*_FIELD_TYPES, *NodeFacts.FIELDS]))
            raise ProfileError(f"{origin}: unknown profile parameter {key!r} (known: {known})")
        problem = parameter_problem(key, value)
        if problem is not None:
            raise ProfileError(f"{origin}: {key} {problem}")
        checked[key] = value
    return checked


def parameter_problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be the profile parameter ``name`` (a known one), or None."""
    if name in _INT_FIELDS:
        bound = MAX_DAYS if name.endswith("_days") else MAX_DAYS * 86_400
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= bound:
            return f"must be a whole number from 0 to {bound}, got {_brief(value)}"
    elif not isinstance(value, str):
        return f"must be text, got {_brief(value)}"
    return None


def _brief(value: Any) -> str:
    text = repr(value)
    return escaped(text if len(text) <= 60 else text[:60] + "…")


def parameters_problem(parameters: Mapping[str, Any]) -> str | None:
    """The first known parameter of ``parameters`` whose value cannot be one (parameters of a report read back)."""
    for name, value in parameters.items():
        problem = parameter_problem(name, value) if name in _FIELD_TYPES else None
        if problem is not None:
            return f"{name}: {problem}"
    return None


def _validated(profile: Profile, origin: str) -> Profile:
    if profile.renewal_mode not in RENEWAL_MODES:
        raise ProfileError(f"{origin}: renewal_mode must be one of {', '.join(RENEWAL_MODES)}")
    if profile.file_modes not in FILE_MODE_STRICTNESS:
        raise ProfileError(f"{origin}: file_modes must be one of {', '.join(FILE_MODE_STRICTNESS)}")
    if profile.leaf_days == 0 or profile.ca_days == 0:
        raise ProfileError(f"{origin}: leaf_days and ca_days must be at least 1")
    return profile
