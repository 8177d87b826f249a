"""kubecert's pytest11 entry point: options, one item per (rule, target), the gates, and the reports."""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Generator
from types import ModuleType

import pytest

from kubecert.plugins import hookspecs
from kubecert.plugins.options import add_options, settings_from
from kubecert.plugins.reporting import Reporter
from kubecert.plugins.session import SESSION_KEY, KubecertSession, kubecert_session
from kubecert.plugins.targets import Registry
from kubecert.plugins.verdicts import RULE_MARKER, result_of, rule_id_of, target_id_of
from kubecert.rules import catalog


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, object, object]:
    # With -n, send all checks of one target to one worker: each target is observed once per run,
    # and a disruptive check never runs beside another check of the same target. A wrapper, so that
    # this runs before xdist's own hook turns an unset --dist into "load".
    option = config.option
    if getattr(option, "numprocesses", None) and getattr(option, "dist", "no") == "no":
        option.dist = "loadgroup"
    return (yield)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{RULE_MARKER}(id): the catalog rule (e.g. KC-VAL-01) a check enforces")
    registry = Registry()
    for kinds in config.hook.pytest_kubecert_target_kinds():
        for kind in kinds:
            registry.add(kind)
    session = KubecertSession.start(settings_from(config), registry)
    config.stash[SESSION_KEY] = session
    fixtures: ModuleType = __import__("kubecert.fixtures", fromlist=["*"])
    config.pluginmanager.register(fixtures, "kubecert.fixtures")
    if not hasattr(config, "workerinput"):  # reports are the controller's business
        reporter = Reporter(config, session)
        reporter.clear_stale()
        config.pluginmanager.register(reporter, "kubecert.reporter")


def pytest_unconfigure(config: pytest.Config) -> None:
    if SESSION_KEY in config.stash:
        config.stash[SESSION_KEY].close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kubecert_target" not in metafunc.fixturenames:
        return
    targets = kubecert_session(metafunc.config).targets
    ids = list(targets)
    marker = metafunc.definition.get_closest_marker(RULE_MARKER)
    if marker is not None and marker.args:
        try:
            needs = catalog.get(str(marker.args[0])).capabilities
        except catalog.UnknownRule:
            needs = ()  # reported as a usage error when the items are collected
        # One item per (rule, target) the rule concerns. When it concerns none, pytest needs a parameter
        # all the same; those items are deselected at collection.
        ids = [i for i in ids if targets[i].concerns(needs)] or ids
    metafunc.parametrize("kubecert_target", ids, ids=ids, indirect=True, scope="session")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = kubecert_session(config)
    patterns = state.settings.rule_patterns
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
        if unconcerned or (patterns and not any(fnmatch.fnmatchcase(rule_id, p) for p in patterns)):
            deselected.append(item)
            continue
        if target_id is not None:
            group = "kubecert-" + hashlib.sha256(target_id.encode()).hexdigest()[:12]
            item.add_marker(pytest.mark.xdist_group(group))
        kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    # Read-only checks first: they judge the platform as found, before anything changes it.
    kept.sort(key=_is_disruptive)
    items[:] = kept


def _is_disruptive(item: pytest.Item) -> bool:
    rule_id = rule_id_of(item)
    return rule_id is not None and catalog.get(rule_id).disruptive


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The gates, before any fixture touches the target: capability, then the disruptive opt-in."""
    rule_id, target_id = rule_id_of(item), target_id_of(item)
    if rule_id is None or target_id is None:
        return
    state = kubecert_session(item.config)
    rule = catalog.get(rule_id)
    missing = state.targets[target_id].missing_capability(rule.capabilities)
    if missing:
        pytest.skip(missing)
    if rule.disruptive and not state.disruptive_allowed(target_id):
        pytest.skip(f"{rule.id} changes the target; pass --allow-disruptive to run it")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    result = result_of(item, report, call)
    if result is not None:
        target = kubecert_session(item.config).targets[result["target"]]
        # Plain attributes of a report travel from xdist workers to the controller with it.
        report.kubecert_result = result  # type: ignore[attr-defined]
        report.kubecert_target = target.describe()  # type: ignore[attr-defined]
        # On the item, so that the teardown report (the one JUnit XML reads) carries them too.
        item.user_properties.extend([
            ("kubecert_rule", result["rule"]), ("kubecert_target", result["target"]),
            ("kubecert_status", result["status"]),
        ])
    return report
