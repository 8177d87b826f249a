"""The plugin's command-line options and the validated settings made from them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubecert.plugins.targets import builtin_options
from kubecert.rules.profiles import ProfileError, check_spec

DEFAULT_TARGET = "reference"


@dataclass(frozen=True)
class Settings:
    targets: tuple[str, ...]
    profile: str
    json_path: Path | None
    html_path: Path | None
    at: dt.datetime | None
    allow_disruptive: bool
    rule_patterns: tuple[str, ...]
    overrides: dict[str, Any]  # profile parameters set on the command line
    target_options: dict[str, Any]  # what the user told the targets (TargetOption name → value)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("kubecert", "kubecert: Kubernetes PKI conformance")
    group.addoption("--kubecert-target", action="append", default=[], metavar="URI",
                    help="target to check (repeatable): pki:PATH, reference[:pki]. Default: reference")
    group.addoption("--kubecert-profile", default="auto", metavar="NAME|FILE",
                    help="auto (per target), kubeadm, palette, or a YAML profile file")
    group.addoption("--kubecert-json", metavar="PATH", help="write the canonical JSON report here")
    group.addoption("--kubecert-html", metavar="PATH", help="write the HTML report here")
    group.addoption("--kubecert-min-remaining", type=int, metavar="DAYS",
                    help="expiry horizon of KC-EXP-01 (profile default 30)")
    group.addoption("--kubecert-at", metavar="DATE",
                    help="judge dates as of DATE (2027-01-31 or 2027-01-31T12:00:00Z) instead of now")
    group.addoption("--kubecert-allow-disruptive", action="store_true",
                    help="run checks that change the target (renewal, repave, upgrade)")
    group.addoption("--kubecert-rule", action="append", default=[], metavar="PATTERN",
                    help="run only rules matching PATTERN, e.g. KC-EXP-01 or 'KC-VAL-*' (repeatable)")
    group.addoption("--kubecert-node-name", metavar="NAME", help="the node's name, if its files do not say")
    group.addoption("--kubecert-advertise-address", metavar="IP", help="the node's API advertise address")
    group.addoption("--kubecert-service-cidr", metavar="CIDR", help="the service range, if no manifest says")
    group.addoption("--kubecert-dns-domain", metavar="DOMAIN", help="the cluster DNS domain (cluster.local)")
    group.addoption("--kubecert-extra-san", action="append", default=[], metavar="SAN",
                    help="a SAN the apiserver certificate must carry (repeatable)")
    group.addoption("--kubecert-external-etcd", action="store_true",
                    help="the cluster uses external etcd: no etcd certificates are expected")
    for option in builtin_options():
        group.addoption(f"--kubecert-{option.name}", **option.argument())


def parse_at(text: str) -> dt.datetime:
    """A date or date-time; without a zone it is UTC."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise pytest.UsageError(f"--at {text!r}: expected a date like 2027-01-31 or 2027-01-31T12:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def settings_from(config: pytest.Config) -> Settings:
    option = config.option
    profile = option.kubecert_profile
    try:
        check_spec(profile)
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    overrides: dict[str, Any] = {}
    if option.kubecert_min_remaining is not None:
        if option.kubecert_min_remaining < 0:
            raise pytest.UsageError("--min-remaining must be 0 or more days")
        overrides["min_remaining_days"] = option.kubecert_min_remaining
    for name in ("node_name", "advertise_address", "service_cidr", "dns_domain"):
        value = getattr(option, f"kubecert_{name}")
        if value:
            overrides[name] = value
    if option.kubecert_extra_san:
        overrides["extra_sans"] = tuple(option.kubecert_extra_san)
    if option.kubecert_external_etcd:
        overrides["external_etcd"] = True
    return Settings(
        targets=tuple(option.kubecert_target) or (DEFAULT_TARGET,),
        profile=profile,
        json_path=Path(option.kubecert_json) if option.kubecert_json else None,
        html_path=Path(option.kubecert_html) if option.kubecert_html else None,
        at=parse_at(option.kubecert_at) if option.kubecert_at else None,
        allow_disruptive=bool(option.kubecert_allow_disruptive),
        rule_patterns=tuple(option.kubecert_rule),
        overrides=overrides,
        target_options={o.name: getattr(option, o.dest) for o in builtin_options()},
    )
