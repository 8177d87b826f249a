"""kubecert's pytest11 entry point: the hooks, and nothing else (the work is in this package's modules).

Loaded into every pytest run of the environment, it stays inert unless the run asks for kubecert
(activation.py): then options come from the one table (kubecert/options.py) plus every target kind's; checks
are generated from the catalog (collect.py); the gates (capability, disruptive opt-in) run before a check's
fixtures touch its target; results and reports are reporting.py's.
"""

from __future__ import annotations

from collections.abc import Generator
from types import ModuleType
from typing import Any

import pytest

from kubecert.options import CHECK_OPTIONS, Option, unique
from kubecert.pytest_plugin import hookspecs
from kubecert.pytest_plugin.activation import gives_an_option, names_the_suite, suite_items
from kubecert.pytest_plugin.collect import (
    DEPRECATED_DISRUPTIVE_MARKER,
    DISRUPTIVE_MARKER,
    CatalogChecks,
    catalog_items,
    mark_group,
)
from kubecert.pytest_plugin.distribution import DISTRIBUTIONS, scheduler
from kubecert.pytest_plugin.fleet import FleetCheck, fleet_items, fleet_wanted, mark_last_checks
from kubecert.pytest_plugin.judging import gate, selected
from kubecert.pytest_plugin.live import leave_progress_to_live_logging, show_progress, stop_showing_progress
from kubecert.pytest_plugin.options import add_options, command_run, settings_from
from kubecert.pytest_plugin.outcomes import (
    CATALOG_CHECK,
    CHECK_KIND,
    FLEET_CHECK,
    RULE_MARKER,
    TARGET_KEY,
    VERDICT_KEY,
    attach,
    detach,
    from_wire,
    keep_quiet_errors_short,
    result_of,
    rule_id_of,
    target_id_of,
    to_wire,
)
from kubecert.pytest_plugin.reporting import Reporter
from kubecert.pytest_plugin.session import READS_KEY, SESSION_KEY, KubecertSession, kubecert_session
from kubecert.pytest_plugin.signals import restore_signals, stop_on_signals
from kubecert.pytest_plugin.terminal import TERMINAL_OPTIONS, register_compact
from kubecert.rules import catalog
from kubecert.targets.registry import BUILTIN_KINDS, Registry, TargetKind, entry_point_kinds

KIND_HOOK = "pytest_kubecert_target_kinds"
KIND_OPTIONS = "kubecert.kind-options"


class KindOptions:
    """Adds the options of target kinds as the plugins that declare them are registered (the hook's own
    results come too late: options must exist before the command line is parsed), and knows every option
    kubecert added: one of them given is what makes a run kubecert's."""

    def __init__(self, parser: pytest.Parser, kinds: list[TargetKind]) -> None:
        self.parser = parser
        self.added: dict[str, Option] = {o.name: o for o in (*CHECK_OPTIONS, *TERMINAL_OPTIONS)}
        self._add(kinds)

    def _add(self, kinds: list[TargetKind]) -> None:
        options = unique([o for kind in kinds for o in kind.options if o.name not in self.added])
        add_options(self.parser, options)
        self.added.update((o.name, o) for o in options)

    @pytest.hookimpl
    def pytest_plugin_registered(self, plugin: Any) -> None:
        declare = getattr(plugin, KIND_HOOK, None)
        if callable(declare) and not isinstance(plugin, KindOptions):
            self._add(list(declare()))

    def kinds(self, config: pytest.Config) -> list[TargetKind]:
        return [kind for kinds in config.hook.pytest_kubecert_target_kinds() for kind in kinds]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    add_options(parser, (*CHECK_OPTIONS, *TERMINAL_OPTIONS))
    pluginmanager.register(KindOptions(parser, [*BUILTIN_KINDS, *entry_point_kinds()]), KIND_OPTIONS)


def _kind_options(config: pytest.Config) -> KindOptions:
    kind_options = config.pluginmanager.get_plugin(KIND_OPTIONS)
    assert isinstance(kind_options, KindOptions)
    return kind_options


def _asked_for(config: pytest.Config) -> bool:
    """Whether this run is kubecert's (activation.py); a run that only collects the suite becomes one then."""
    return (command_run(config) is not None or gives_an_option(config, _kind_options(config).added.values())
            or names_the_suite(config))


def _active(config: pytest.Config) -> bool:
    return SESSION_KEY in config.stash


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, object, object]:
    # With -n, send all checks of one target to one worker: each target is observed once per run,
    # and a disruptive check never runs beside another check of the same target. A wrapper, so that
    # this runs before xdist's own hook turns an unset --dist into "load". Not in a run that is not kubecert's.
    option = config.option
    if getattr(option, "numprocesses", None) and getattr(option, "dist", "no") == "no" and _asked_for(config):
        option.dist = "loadgroup"
    return (yield)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") not in DISTRIBUTIONS or not _active(config):
        return None
    return scheduler(config, log, kubecert_session(config).targets)


def pytest_configure(config: pytest.Config) -> None:
    # kubecert's own markers are known in every run (a suite may mark a check of its own, and --markers lists
    # them); the rest only in a run that asks for kubecert.
    config.addinivalue_line("markers", f"{RULE_MARKER}(id, family=...): the catalog rule (e.g. KC-VAL-01) a check "
                                       "enforces; select with -m \"kubecert_rule(family='validity')\"")
    config.addinivalue_line("markers", f"{DISRUPTIVE_MARKER}: the check changes its target (needs --allow-disruptive)")
    if _asked_for(config):
        activate(config)


def activate(config: pytest.Config) -> None:
    """Start kubecert's session: the targets, the fixtures, and on the controller the reports and the terminal."""
    config.addinivalue_line("markers", f"{DEPRECATED_DISRUPTIVE_MARKER}: deprecated, the same as {DISRUPTIVE_MARKER}")
    kind_options = _kind_options(config)
    registry = Registry([*BUILTIN_KINDS, *entry_point_kinds(), *kind_options.kinds(config)])
    run = command_run(config)  # `kubecert check` parsed its options once; a run pytest started parses pytest's
    settings = run.settings if run is not None else settings_from(config, registry.options())
    show_progress(config)  # before any target is opened: opening one may warn
    session = KubecertSession.start(settings, registry)
    config.stash[SESSION_KEY] = session
    fixtures: ModuleType = __import__("kubecert.pytest_plugin.fixtures", fromlist=["*"])
    config.pluginmanager.register(fixtures, "kubecert.fixtures")
    if not hasattr(config, "workerinput"):  # reports are the controller's business
        reporter = Reporter(config, session)
        try:
            reporter.check_outputs()
        except pytest.UsageError:
            session.close()
            raise
        reporter.clear_stale()
        config.pluginmanager.register(reporter, "kubecert.reporter")
        register_compact(config)
        stop_on_signals(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    leave_progress_to_live_logging(session.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # An xdist worker's targets (servers, temporary folders) are released before it tells the controller it
    # has finished: the controller kills a worker that has not exited 10 s after that, and releasing many
    # targets at unconfigure could take longer and leave their folders behind.
    if hasattr(session.config, "workerinput") and SESSION_KEY in session.config.stash:
        state = session.config.stash[SESSION_KEY]
        session.config.workeroutput[READS_KEY] = state.read_targets()  # type: ignore[attr-defined]
        state.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    restore_signals(config)
    if SESSION_KEY in config.stash:
        config.stash[SESSION_KEY].close()
    stop_showing_progress(config)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> list[pytest.Item] | None:
    if not isinstance(obj, CatalogChecks):
        return None
    if not _active(collector.config):  # the suite collected from a folder above it: the run is kubecert's now
        activate(collector.config)
    state = kubecert_session(collector.config)
    if fleet_wanted(state.settings.mode, state.targets):
        return fleet_items(collector, state)
    return catalog_items(collector, state.targets, state.settings.rule_patterns)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A check written by hand (a marked test using kubecert_target) runs once per target its rule concerns."""
    if "kubecert_target" not in metafunc.fixturenames or not _active(metafunc.config):
        return
    targets = kubecert_session(metafunc.config).targets
    ids = list(targets)
    marker = metafunc.definition.get_closest_marker(RULE_MARKER)
    if marker is not None and marker.args:
        try:
            needs = catalog.get(str(marker.args[0])).capabilities
        except catalog.UnknownRule:
            needs = ()  # reported as a usage error when the items are collected
        # When the rule concerns no target, pytest needs a parameter all the same; those items are
        # deselected at collection.
        ids = [i for i in ids if targets[i].concerns(needs)] or ids
    metafunc.parametrize("kubecert_target", ids, ids=ids, indirect=True)


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Once every plugin has taken what it wants of a report (the reporter its results, xdist its copy for
    the controller), the results and target description leave it: pytest keeps every report until the
    session ends, and a fleet's would hold every result twice."""
    detach(report)


@pytest.hookimpl(wrapper=True)
def pytest_report_to_serializable(config: pytest.Config, report: object) -> Generator[None, object, object]:
    """On an xdist worker: a check's results cross to the controller as text, and only there (outcomes.to_wire)."""
    data = yield
    if isinstance(data, dict) and _active(config):
        to_wire(data)
    return data


@pytest.hookimpl(wrapper=True)
def pytest_report_from_serializable(config: pytest.Config, data: object) -> Generator[None, object, object]:
    """On the xdist controller: a worker's report carries its check's results as objects again."""
    report = yield
    if isinstance(report, pytest.TestReport) and _active(config):
        from_wire(report)
    return report


@pytest.hookimpl(tryfirst=True)  # before xdist names each item's group in its node id
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _active(config):
        return
    state = kubecert_session(config)
    items += suite_items(session)
    kept, deselected = [], []
    for item in items:
        rule_id = rule_id_of(item)
        if rule_id is None:
            kept.append(item)
            continue
        try:
            rule = catalog.get(rule_id)
        except catalog.UnknownRule as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc.args[0]}") from None
        target_id = target_id_of(item)
        unconcerned = target_id is not None and not state.targets[target_id].concerns(rule.capabilities)
        if unconcerned or not selected(rule_id, state.settings.rule_patterns):
            deselected.append(item)
            continue
        if target_id is not None:
            mark_group(item, state.targets[target_id].lock_key)
        kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    # Read-only checks first: they judge the platform as found, before anything changes it.
    kept.sort(key=_is_disruptive)
    items[:] = kept


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def mark_last_fleet_checks(items: list[pytest.Item]) -> None:
    """After every selection (-m, -k, --rule): the last check of a target lets its observation go."""
    mark_last_checks(items)


def _is_disruptive(item: pytest.Item) -> bool:
    rule_id = rule_id_of(item)
    return rule_id is not None and catalog.get(rule_id).disruptive


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The gates, before any fixture acts on the target (judging.gate): a rule of another role is not
    applicable, whatever the target could offer for it."""
    rule_id, target_id = rule_id_of(item), target_id_of(item)
    if rule_id is None or target_id is None or not _active(item.config):
        return
    stopped = gate(kubecert_session(item.config), catalog.get(rule_id), target_id)
    if stopped is not None:
        item.stash[VERDICT_KEY] = stopped  # the result is made from it: skipped or not applicable, and why
        pytest.skip(stopped.message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    if not _active(item.config):
        return (yield)
    if rule_id_of(item) is not None:
        keep_quiet_errors_short(call)
    report = yield
    if TARGET_KEY in item.stash:  # a check kubecert made: every report of it says so, across xdist too
        setattr(report, CHECK_KIND, FLEET_CHECK if isinstance(item, FleetCheck) else CATALOG_CHECK)
    options: list[tuple[str, ...]] = []
    if isinstance(item, FleetCheck):
        results, options = (item.results, item.options) if report.when == "call" else ([], [])
    else:
        result = result_of(item, report, call)
        results = [result] if result is not None else []
        verdict = item.stash.get(VERDICT_KEY, None)
        options = [verdict.options if verdict is not None else ()] if result is not None else []
        if result is not None:
            # On the item, so that the teardown report (the one JUnit XML reads) carries them too.
            item.user_properties.extend([
                ("kubecert_rule", result.rule), ("kubecert_target", result.target),
                ("kubecert_status", str(result.status)),
            ])
    if isinstance(item, FleetCheck) and report.when == "call":
        item.results, item.options = [], []  # the report carries them on; the item lives until the session ends
    if results:
        target = kubecert_session(item.config).targets[results[0].target]
        attach(report, results, target.describe(), options)
        if isinstance(item, FleetCheck) and item.last_of_target:
            target.release_observation()
    return report
