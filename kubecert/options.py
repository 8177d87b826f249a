"""Every option of a kubecert run, declared once: ``--NAME`` on ``kubecert check`` and ``--kubecert-NAME``
under pytest are made from the same ``Option``, with the same help, and land in the same place.

``CHECK_OPTIONS`` are the run's own; each target kind declares its options beside it (targets/registry.py),
and kinds that other plugins add bring theirs. Secrets never travel as option values: an option names
the environment variable or file that holds one. Nothing here imports pytest, so ``kubecert --help``
stays fast.
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PYTEST_PREFIX = "--kubecert-"
AUTO_FLEET_TARGETS = 16  # from this many targets on, a run judges in one check per target


class Kind(enum.Enum):
    VALUE = "value"  # --name VALUE
    FLAG = "flag"  # --name
    REPEAT = "repeat"  # --name VALUE, several times


@dataclass(frozen=True)
class Option:
    name: str  # e.g. "renew-command": --renew-command on the CLI, --kubecert-renew-command under pytest
    help: str
    metavar: str | None = None
    kind: Kind = Kind.VALUE
    type: Callable[[str], Any] | None = None  # converts the text; a ValueError or TypeError is a usage error
    default: Any = None  # under pytest and on the command line alike
    cli_default: Any = None  # the command's own default where it differs (report paths)

    @property
    def dest(self) -> str:
        return "kubecert_" + self.name.replace("-", "_")

    @property
    def pytest_flag(self) -> str:
        return PYTEST_PREFIX + self.name

    def _arguments(self, default: Any) -> dict[str, Any]:
        if self.kind is Kind.FLAG:
            return {"action": "store_true", "dest": self.dest, "help": self.help}
        arguments: dict[str, Any] = {
            "action": "append" if self.kind is Kind.REPEAT else "store",
            "default": [] if self.kind is Kind.REPEAT else default,
            "dest": self.dest, "metavar": self.metavar, "help": self.help,
        }
        if self.type is not None:
            arguments["type"] = self.type
        return arguments

    def add_to_argparse(self, parser: argparse.ArgumentParser | Any) -> None:
        default = self.cli_default if self.cli_default is not None else self.default
        parser.add_argument(f"--{self.name}", **self._arguments(default))

    def add_to_pytest(self, group: Any) -> None:
        group.addoption(self.pytest_flag, **self._arguments(self.default))

    def pytest_args(self, value: Any) -> list[str]:
        """How a value the command parsed is passed on to pytest."""
        if self.kind is Kind.FLAG:
            return [self.pytest_flag] if value else []
        if self.kind is Kind.REPEAT:
            return [part for item in value or () for part in (self.pytest_flag, str(item))]
        return [self.pytest_flag, str(value)] if value is not None else []


class OptionsHint(str):
    """Why a capability is missing, said with the options that would give it: the terminal folds the skips it
    causes by these options, never by reading the sentence."""

    options: tuple[str, ...]

    def __new__(cls, text: str, options: tuple[str, ...]) -> OptionsHint:
        hint = super().__new__(cls, text)
        hint.options = options
        return hint


def unique(options: Iterable[Option]) -> list[Option]:
    """Each option once (target kinds may share one, e.g. the reference and pki share the commands)."""
    seen: dict[str, Option] = {}
    for option in options:
        known = seen.setdefault(option.name, option)
        if known != option:
            raise ValueError(f"the option --{option.name} is declared twice, differently")
    return list(seen.values())


def values_of(options: Iterable[Option], namespace: Any) -> dict[str, Any]:
    """Option name → the value parsed into ``namespace`` (argparse's or pytest's)."""
    return {o.name: getattr(namespace, o.dest, None) for o in options}


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"{text} is less than 0")
    return value


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``INDEX/COUNT``, 0 <= INDEX < COUNT."""
        index, slash, count = text.partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            raise ValueError(f"{text!r}: expected INDEX/COUNT, e.g. 0/4") from None
        if not slash or shard.count < 1 or not 0 <= shard.index < shard.count:
            raise ValueError(f"{text!r}: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4")
        return shard

    def __str__(self) -> str:  # as it was given: the command hands it on to pytest as text
        return f"{self.index}/{self.count}"

    def keeps(self, position: int) -> bool:
        return position % self.count == self.index


def shard_of(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ValueError as exc:  # argparse shows an ArgumentTypeError's own words
        raise argparse.ArgumentTypeError(str(exc)) from None


CHECK_OPTIONS: tuple[Option, ...] = (
    Option("target", "what to check (repeatable): pki:PATH, palette:URL, kubeconfig:PATH, reference[:PART]. "
           "Default: reference, "
           "a fresh reference platform", "URI", Kind.REPEAT),
    Option("profile", "the parameters rules read: auto (per target), kubeadm, palette, or a YAML profile file",
           "auto|kubeadm|palette|FILE", default="auto"),
    Option("inventory", "check the targets listed in FILE too (YAML: targets: [URI, {target: URI, profile: "
           "NAME|FILE}, ...])", "FILE"),
    Option("shard", "check only shard INDEX of COUNT (0-based): the targets whose position in the list "
           "(--target's, then the inventory's) modulo COUNT is INDEX", "INDEX/COUNT", type=shard_of),
    Option("fleet", "judge every rule of a target in one check per target (the default from "
           f"{AUTO_FLEET_TARGETS} targets on)", kind=Kind.FLAG),
    Option("per-check", "one check per rule and target, whatever the number of targets", kind=Kind.FLAG),
    # Reports: --output-dir gives every format its file name in one folder; a format's own option writes
    # that format there (and, without --output-dir, only the formats named). With none of them the command
    # writes every format into reports/, and plain pytest the JSON to reports/kubecert.json under the rootdir.
    Option("output-dir", "write every report into DIR: kubecert.json, kubecert.html, kubecert-junit.xml, and with "
           "kubecert[reports] kubecert-oscal.json and kubecert.prom (the command's default without any report "
           "option: reports)", "DIR"),
    Option("json", "write the canonical JSON report here (with --output-dir: instead of DIR/kubecert.json)", "PATH"),
    Option("html", "write the HTML evidence report here", "PATH"),
    Option("junitxml", "write the JUnit XML report here (one test case per rule and target)", "PATH"),
    Option("oscal", "write an OSCAL assessment-results document here (needs kubecert[reports])", "PATH"),
    Option("metrics", "write an OpenMetrics file for node-exporter's textfile collector here (needs "
           "kubecert[reports])", "PATH"),
    Option("baseline", "accept the failures recorded in FILE (kubecert baseline write): they are reported as "
           "accepted and only new failures fail the run", "FILE"),
    Option("min-remaining", "the expiry horizon of KC-EXP-01 in days (profile default 30)", "DAYS",
           type=non_negative_int),
    Option("at", "judge dates as of DATE (2027-01-31 or 2027-01-31T12:00:00Z) instead of now", "DATE"),
    Option("allow-disruptive", "run checks that change the target (renewal, repave, upgrade)", kind=Kind.FLAG),
    Option("rule", "only rules matching PATTERN, e.g. KC-EXP-01 or 'KC-VAL-*' (repeatable)", "PATTERN",
           Kind.REPEAT),
    # What the node's files do not say (node facts); they override a profile file's declarations.
    Option("node-name", "the node's name, if its files do not say", "NAME"),
    Option("advertise-address", "the node's API advertise address, if its manifests do not say", "IP"),
    Option("service-cidr", "the service range, if no manifest says (kubeadm: 10.96.0.0/12)", "CIDR"),
    Option("dns-domain", "the cluster DNS domain (kubeadm: cluster.local)", "DOMAIN"),
    Option("extra-san", "a SAN the apiserver certificate must carry (repeatable)", "SAN", Kind.REPEAT),
    Option("external-etcd", "the cluster uses external etcd: no etcd certificates are expected", kind=Kind.FLAG),
    Option("control-plane-endpoint", "the cluster's control-plane endpoint (kubeadm's controlPlaneEndpoint), if no "
           "kubeconfig on the node dials it: the apiserver certificate must name its host", "HOST[:PORT]"),
    Option("cluster-signing-duration", "how long kube-controller-manager signs the kubelets' certificates, where "
           "no manifest on the node says (a worker); default 8760h", "DURATION"),
)

# The node facts the options above declare: option name → NodeFacts field.
FACT_OPTIONS: Mapping[str, str] = {
    "node-name": "node_name", "advertise-address": "advertise_address", "service-cidr": "service_cidr",
    "dns-domain": "dns_domain", "extra-san": "extra_sans", "external-etcd": "external_etcd",
    "cluster-signing-duration": "cluster_signing_duration", "control-plane-endpoint": "control_plane_endpoint",
}
