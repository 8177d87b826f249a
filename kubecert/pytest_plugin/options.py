"""The plugin's options (from the one table in kubecert/options.py) and the validated settings made from them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kubecert.inventory.facts import NodeFacts
from kubecert.options import CHECK_OPTIONS, FACT_OPTIONS, Option, values_of
from kubecert.profiles import MAX_DAYS, ProfileError, check_spec, declared_facts
from kubecert.reports.baseline import Baseline, BaselineError
from kubecert.reports.baseline import load as load_baseline
from kubecert.reports.outputs import FORMATS, ReportPaths
from kubecert.targets import fleetfile

DEFAULT_TARGET = "reference"
GROUP = "kubecert"
# Under plain pytest, with no report option, the canonical JSON goes here (under the rootdir, beside
# .pytest_cache), so every run that checked something leaves its evidence.
DEFAULT_JSON = Path("reports") / "kubecert.json"


@dataclass(frozen=True)
class Settings:
    targets: tuple[str, ...]
    profile: str
    reports: ReportPaths
    baseline: Baseline | None  # read (and refused if unusable) before any target is opened
    at: dt.datetime | None
    allow_disruptive: bool
    rule_patterns: tuple[str, ...]
    overrides: dict[str, Any]  # profile parameters set on the command line
    facts: NodeFacts  # node facts declared in the profile file and on the command line
    target_options: dict[str, Any]  # what the user told the targets (option name → value)
    target_profiles: dict[str, str] = field(default_factory=dict)  # target URI → its own profile (inventory)
    mode: str = "auto"  # auto, fleet (one check per target) or per-check (one per rule and target)


def add_options(parser: pytest.Parser, options: Iterable[Option] = CHECK_OPTIONS) -> None:
    group = parser.getgroup(GROUP, "kubecert: Kubernetes PKI conformance")
    for option in options:
        option.add_to_pytest(group)


def parse_at(text: str) -> dt.datetime:
    """A date or date-time, in UTC (without a zone it is UTC): every report writes it so."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise pytest.UsageError(f"--at {text!r}: expected a date like 2027-01-31 or 2027-01-31T12:00:00Z") from None
    try:
        return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    except OverflowError:
        raise pytest.UsageError(f"--at {text!r}: in UTC that is outside the years 0001 to 9999") from None


def settings_from(config: pytest.Config, target_options: Iterable[Option]) -> Settings:
    values = values_of(CHECK_OPTIONS, config.option)
    profile = values["profile"]
    try:
        check_spec(profile)
        facts = _facts(values).over(declared_facts(profile))
    except (ProfileError, ValueError) as exc:
        raise pytest.UsageError(str(exc)) from None
    overrides: dict[str, Any] = {}
    if values["min-remaining"] is not None:
        if values["min-remaining"] > MAX_DAYS:
            raise pytest.UsageError(f"--min-remaining {values['min-remaining']}: at most {MAX_DAYS} days (a century, "
                                    "longer than any certificate is meant to live)")
        overrides["min_remaining_days"] = values["min-remaining"]
    if values["fleet"] and values["per-check"]:
        raise pytest.UsageError("--fleet and --per-check ask for different modes: give one")
    entries = _entries(values)
    return Settings(
        targets=tuple(e.target for e in entries),
        target_profiles={e.target: e.profile for e in entries if e.profile is not None},
        mode="fleet" if values["fleet"] else "per-check" if values["per-check"] else "auto",
        profile=profile,
        reports=ReportPaths.resolve(
            {fmt.option: Path(values[fmt.option]) for fmt in FORMATS if values[fmt.option]},
            Path(values["output-dir"]) if values["output-dir"] else None,
            default_json=config.rootpath / DEFAULT_JSON),
        baseline=_baseline(values),
        at=parse_at(values["at"]) if values["at"] else None,
        allow_disruptive=bool(values["allow-disruptive"]),
        rule_patterns=tuple(values["rule"]),
        overrides=overrides,
        facts=facts,
        target_options=values_of(target_options, config.option),
    )


def _baseline(values: dict[str, Any]) -> Baseline | None:
    """The --baseline file's entries; an acceptance that expires is judged on the day the dates are (--at)."""
    if not values["baseline"]:
        return None
    try:
        accepted = load_baseline(Path(values["baseline"]))
    except BaselineError as exc:
        raise pytest.UsageError(str(exc)) from None
    if values["at"]:
        accepted.as_of = parse_at(values["at"]).date()
    return accepted


def _entries(values: dict[str, Any]) -> list[fleetfile.Entry]:
    """The targets to check: --target's, then the inventory file's, this shard's share of them."""
    entries = [fleetfile.Entry(uri) for uri in values["target"]]
    if values["inventory"]:
        try:
            entries += fleetfile.load(Path(values["inventory"]))
        except fleetfile.InventoryFileError as exc:
            raise pytest.UsageError(str(exc)) from None
        for entry in entries:
            if entry.profile is not None:
                try:
                    check_spec(entry.profile)
                except (ProfileError, ValueError) as exc:
                    raise pytest.UsageError(f"--inventory {values['inventory']}: {entry.target}: {exc}") from None
        if not entries:
            raise pytest.UsageError(f"--inventory {values['inventory']}: it lists no target")
    elif not entries:
        entries = [fleetfile.Entry(DEFAULT_TARGET)]
    chosen = fleetfile.select(entries, values["shard"])
    if not chosen:
        raise pytest.UsageError(f"--shard {values['shard'].index}/{values['shard'].count}: no target falls in it "
                                f"({len(entries)} targets)")
    return chosen


def _facts(values: dict[str, Any]) -> NodeFacts:
    """The node facts given on the command line."""
    return NodeFacts.declared({field: values[name] for name, field in FACT_OPTIONS.items()}, where="command line")
