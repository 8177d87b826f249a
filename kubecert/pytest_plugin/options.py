"""The plugin's options (from the one table in kubecert/options.py) and the validated settings made from them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kubecert.inventory.facts import NodeFacts
from kubecert.options import CHECK_OPTIONS, FACT_OPTIONS, Option, values_of
from kubecert.profiles import MAX_DAYS, ProfileError, check_spec, declared_facts
from kubecert.reports.outputs import FORMATS, ReportPaths
from kubecert.reports.tally import Tally
from kubecert.rules.catalog import all_rules
from kubecert.rules.selection import NoRuleMatches, chosen_rules
from kubecert.targets import fleetfile

if TYPE_CHECKING:
    from kubecert.reports.baseline import Baseline
    from kubecert.reports.results import Report

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


class CommandRun:
    """What ``kubecert check`` hands the plugin as an object (``pytest.main(args, plugins=[it])``): the settings
    it parsed, once; how its terminal shows the run; the command line as the user typed it (for the report). It
    takes the finished report's count back, so the command judges the run without reading a file."""

    def __init__(self, settings: Settings, typed_argv: Sequence[str], compact: bool, compact_quiet: bool) -> None:
        self.settings = settings
        self.typed_argv = ["kubecert", *typed_argv]
        self.compact, self.compact_quiet = compact, compact_quiet
        self.tally: Tally | None = None

    def pytest_kubecert_report_ready(self, report: Report, config: pytest.Config) -> None:
        self.tally = Tally.of_report(report)


def command_run(config: pytest.Config) -> CommandRun | None:
    """The settings ``kubecert check`` handed this run, if it did (none under plain pytest, nor on an xdist worker)."""
    return next((p for p in config.pluginmanager.get_plugins() if isinstance(p, CommandRun)), None)


def settings_from(config: pytest.Config, target_options: Iterable[Option]) -> Settings:
    """The settings of a run that pytest started (plain pytest, or an xdist worker): from pytest's options."""
    options = list(target_options)
    return parse_settings(values_of([*CHECK_OPTIONS, *options], config.option), options,
                          default_json=config.rootpath / DEFAULT_JSON)


def parse_settings(values: Mapping[str, Any], target_options: Iterable[Option],
                   default_json: Path | None) -> Settings:
    """The one parse of a run's options (option name → value, as argparse or pytest read them) into its settings,
    checked: ``kubecert check`` calls it with its own values, a run pytest started with pytest's."""
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
    try:
        chosen_rules(all_rules(), values["rule"])
    except NoRuleMatches as exc:
        raise pytest.UsageError(str(exc)) from None
    entries = _entries(values)
    return Settings(
        targets=tuple(e.target for e in entries),
        target_profiles={e.target: e.profile for e in entries if e.profile is not None},
        mode="fleet" if values["fleet"] else "per-check" if values["per-check"] else "auto",
        profile=profile,
        reports=ReportPaths.resolve(
            {fmt.option: Path(values[fmt.option]) for fmt in FORMATS if values[fmt.option]},
            Path(values["output-dir"]) if values["output-dir"] else None, default_json=default_json),
        baseline=_baseline(values),
        at=parse_at(values["at"]) if values["at"] else None,
        allow_disruptive=bool(values["allow-disruptive"]),
        rule_patterns=tuple(values["rule"]),
        overrides=overrides,
        facts=facts,
        target_options={o.name: values.get(o.name) for o in target_options},
    )


def _baseline(values: Mapping[str, Any]) -> Baseline | None:
    """The --baseline file's entries; an acceptance that expires is judged on the day the dates are (--at)."""
    if not values["baseline"]:
        return None
    from kubecert.reports.baseline import BaselineError
    from kubecert.reports.baseline import load as load_baseline  # a run without --baseline never needs it

    try:
        accepted = load_baseline(Path(values["baseline"]))
    except BaselineError as exc:
        raise pytest.UsageError(str(exc)) from None
    if values["at"]:
        accepted.as_of = parse_at(values["at"]).date()
    return accepted


def _entries(values: Mapping[str, Any]) -> list[fleetfile.Entry]:
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


def _facts(values: Mapping[str, Any]) -> NodeFacts:
    """The node facts given on the command line."""
    return NodeFacts.declared({field: values[name] for name, field in FACT_OPTIONS.items()}, where="command line")
