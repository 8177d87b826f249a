"""Collecting results on the controller and writing the reports when the session ends.

Each result goes to the run's spool (kubecert/reports/spool.py) when its check ends: a check per (rule, target)
when its teardown is reported (its result takes pytest's duration), a fleet check's results at once. The reports
are written from the spool, a result at a time, so memory does not grow with a fleet's results.

Every catalog check the session selected must end with a result: one that gave none (its worker died) is
reported as an error, never left out. An interrupted run writes every report as ``PATH.partial``,
marked incomplete, JUnit included; a report that cannot be written is said plainly and the run exits 2.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from kubecert.pytest_plugin.closing import ClosingLine
from kubecert.pytest_plugin.options import command_run
from kubecert.pytest_plugin.outcomes import CHECK_KIND, FLEET_CHECK, attached
from kubecert.pytest_plugin.owed import CheckNames, Owed, owed_by
from kubecert.pytest_plugin.session import READS_KEY, KubecertSession
from kubecert.pytest_plugin.terminal import COMPACT_PLUGIN, baseline_lines, summary_lines
from kubecert.reports import canonical, outputs
from kubecert.reports.citations import rule_fields
from kubecert.reports.redact import redact_command_line
from kubecert.reports.report_lock import ReportLock, ReportLockError, this_run
from kubecert.reports.results import ProfileRecord, Report, Result, Status, TargetRecord
from kubecert.reports.spool import ResultSpool
from kubecert.reports.tally import Tally
from kubecert.rules import catalog


def _report_order(key: tuple[str, str, str]) -> tuple[str, tuple[str, int], str]:
    nodeid, rule, target = key
    return target, canonical.rule_order(rule), nodeid


class Reporter:
    """Registered on the controller only; under xdist it sees every worker's reports."""

    def __init__(self, config: pytest.Config, session: KubecertSession) -> None:
        self.config = config
        self.session = session
        self.spool = ResultSpool()
        self.pending: defaultdict[str, dict[tuple[str, str], Result]] = defaultdict(dict)  # awaiting their teardown
        self.targets: dict[str, dict[str, Any]] = {}
        self.shown: dict[str, dict[str, Any]] = {}  # a target's certificate records by fingerprint (canonical.joined)
        self.durations: defaultdict[str, float] = defaultdict(float)  # by node id, until its teardown
        self.written: list[Path] = []
        self.failed_writes: list[str] = []
        self.expected: dict[tuple[str, str, str], Owed] = {}  # the results the selected checks owe
        self.names: CheckNames | None = None
        self.readers: defaultdict[str, list[str]] = defaultdict(list)  # target → the xdist workers that read it
        self.report: Report | None = None
        self.closing = ClosingLine()
        self.baseline = session.settings.baseline
        self.lock = ReportLock(session.settings.reports.paths.values())

    def _junit(self) -> Path | None:
        """pytest's own --junitxml, when given under plain pytest (kubecert writes its own with --kubecert-junitxml)."""
        xmlpath = getattr(self.config.option, "xmlpath", None)
        return Path(xmlpath) if xmlpath else None

    def check_outputs(self) -> None:
        """Every report path is writable and no other run writes a report this one will (they are held until
        written: report_lock.py), or the run stops now with a usage error. (The baseline was read with the
        options, before any target was opened.)"""
        settings = self.session.settings
        found = settings.reports.problems() + outputs.problems([("--junitxml", self._junit())])
        if found:
            raise pytest.UsageError("cannot write the reports:\n  " + "\n  ".join(found))
        try:
            self.lock.acquire(this_run(self._command_line()))
        except ReportLockError as exc:
            raise pytest.UsageError(str(exc)) from None

    @pytest.hookimpl
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.lock.release()
        self.spool.close()

    def clear_stale(self) -> None:
        """A report left from an earlier run must not pass for this run's if this one dies early."""
        junit = self._junit()
        outputs.clear([*self.session.settings.reports.paths.values(), *([junit] if junit else [])])

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._expect(owed for item in session.items for owed in owed_by(item, self.session))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.names is None:  # the controller has node ids only (owed.py)
            self.names = CheckNames(self.session)
        self._expect(owed for nodeid in ids for owed in self.names.owed(nodeid))

    def _expect(self, owed: Iterable[Owed]) -> None:
        self.expected.update((o.key, o) for o in owed)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """What each xdist worker says it read: a target two workers read was read twice."""
        for target_id in getattr(node, "workeroutput", {}).get(READS_KEY, ()):
            self.readers[target_id].append(str(node.gateway.id))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """First of the hooks: a failure the baseline accepts is marked before anything shows it."""
        self.durations[report.nodeid] += report.duration
        self.closing.seen(report)
        results, _, target = attached(report)
        if target is not None:
            self._keep_target(target)
        if results and self.baseline is not None:
            results = [self.baseline.mark(r, target) for r in results]
            report.kubecert_results = results  # type: ignore[attr-defined]
        if getattr(report, CHECK_KIND, None) == FLEET_CHECK:  # a fleet check timed each rule itself
            for result in results:
                self._spool(report.nodeid, result)
        else:
            self.pending[report.nodeid].update(((r.rule, r.target), r) for r in results)
        if report.when == "teardown":
            self._settle(report.nodeid)

    def _settle(self, nodeid: str) -> None:
        """A check has ended: its results, with pytest's duration of it (setup, call and teardown), to the spool."""
        duration = round(self.durations.pop(nodeid, 0.0), 6)
        for result in self.pending.pop(nodeid, {}).values():
            self._spool(nodeid, dataclasses.replace(result, duration_s=duration))

    def _spool(self, nodeid: str, result: Result) -> None:
        shown = self.shown.get(result.target)
        if shown is None:
            shown = self.shown[result.target] = canonical.shown_certificates(self.targets.get(result.target, {}))
        self.spool.add((nodeid, result.rule, result.target), result, shown)

    def _keep_target(self, target: dict[str, Any]) -> None:
        known = self.targets.get(target["id"], {})
        # Keep the first observation seen: it is when the target was read, and what it showed then.
        if known.get("observed_at") and target.get("observed_at"):
            first = known if known["observed_at"] <= target["observed_at"] else target
            target = {**target, "observed_at": first["observed_at"], "certificates": first["certificates"]}
        elif known.get("observed_at"):
            target = {**target, "observed_at": known["observed_at"], "certificates": known["certificates"]}
        if target.get("certificates") is not known.get("certificates"):  # results already spooled keep their join
            self.shown.pop(target["id"], None)
        self.targets[target["id"]] = target

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        reports = self.session.settings.reports
        for nodeid in list(self.pending):  # checks whose teardown never came (an interrupted run)
            self._settle(nodeid)
        if not len(self.spool) and (not reports.paths or reports.default_json):
            return
        complete = exitstatus not in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        if complete:
            for result in self._missing():
                self._spool(result.nodeid, result)
        record = self.baseline.record(self.spool.kept.values()) if self.baseline is not None else None
        # Targets of one cluster share its notes: each is said once.
        notes = list(dict.fromkeys(note for target in self.session.targets.values() for note in target.notes))
        notes += [f"{target_id} was read by more than one worker ({', '.join(workers)})"
                  for target_id, workers in self.readers.items() if len(workers) > 1]
        self.report = canonical.assemble(
            self.spool, self.spool.by_status(), self.spool.by_rule(),
            targets=[TargetRecord.from_json(t) for t in self.targets.values()],
            profile=self._profile(), started_at=self.session.started_at, finished_at=dt.datetime.now(dt.UTC),
            complete=complete, at=self.session.settings.at, notes=notes, command_line=self._command_line(),
            host=socket.gethostname(), baseline=record,
        )
        self.closing.settle(Tally.of_report(self.report))  # as `kubecert check` counts it (options.CommandRun)
        self.config.hook.pytest_kubecert_report_ready(report=self.report, config=self.config)
        header = dataclasses.replace(self.report, results=[]).to_json()
        self.written, self.failed_writes = reports.write(header, complete, self.spool)
        junit = self._junit()
        if not complete and junit is not None:
            marked = outputs.mark_junit_incomplete(junit)
            if marked is not None:
                self.written.append(marked)
        if self.failed_writes:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # `kubecert check` exits 2: no report to trust

    def _command_line(self) -> list[str]:
        """The command as the user typed it: ``kubecert check ...`` when the command ran pytest, else pytest's."""
        run = command_run(self.config)
        typed = run.typed_argv if run is not None else ["pytest", *self.config.invocation_params.args]
        return redact_command_line(typed)

    def _missing(self) -> list[Result]:
        """An error for every selected catalog check that ended without a result."""
        missing = []
        for key in sorted(self.expected.keys() - self.spool.keys()):
            owed = self.expected[key]
            rule = catalog.get(owed.rule)
            missing.append(Result(
                rule=rule.id, target=owed.target, status=Status.ERROR, nodeid=owed.nodeid,
                message="the check ended without a result (its process stopped?); it was not judged",
                evidence=[], **rule_fields(rule),
            ))
        return missing

    def _profile(self) -> ProfileRecord:
        profiles = {json.dumps(t["profile"], sort_keys=True) for t in self.targets.values() if t.get("profile")}
        if len(profiles) == 1:
            return ProfileRecord(**json.loads(profiles.pop()))
        return ProfileRecord(self.session.settings.profile, {}, per_target=True)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report is None or not len(self.spool):
            return
        terminalreporter.section("kubecert")
        compact = self.config.pluginmanager.get_plugin(COMPACT_PLUGIN)
        failing = [self.spool.kept[key] for key in sorted(self.spool.kept, key=_report_order)]
        for line, markup in summary_lines(dict(sorted(self.spool.by_target.items())), failing,
                                          getattr(compact, "folded", None)):
            terminalreporter.write_line(line, **markup)
        if not self.report.complete:
            terminalreporter.write_line("the run did not finish: reports are written as partial", yellow=True)
        for note in self.report.notes or ():
            terminalreporter.write_line(f"NOTE: {note}", yellow=True)
        if self.report.baseline is not None:
            for line, markup in baseline_lines(self.report.baseline):
                terminalreporter.write_line(line, **markup)
        for path in self.written:
            terminalreporter.write_line(f"report: {path}")
        left_out = self.session.settings.reports.left_out
        if left_out:
            terminalreporter.write_line(f"not written: {', '.join(left_out)} ({outputs.INSTALL})")
        for failure in self.failed_writes:
            terminalreporter.write_line(f"kubecert: could not write the report {failure}", red=True)
        tally = self.closing.tally
        if tally is None:
            return
        if command_run(self.config) is not None:  # the command's exit code is kubecert's (cli.run_check)
            self.closing.install(terminalreporter, 2 if self.failed_writes else tally.exit_code())
        else:
            terminalreporter.write_line(f"kubecert: {tally.line()}")

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.closing.seen(report)
