"""Collecting results on the controller and writing the reports when the session ends.

Every catalog check the session selected must end with a result: one that gave none (its worker died)
is reported as an error, never left out. An interrupted run writes every report as ``PATH.partial``,
marked incomplete, JUnit included; a report that cannot be written is said plainly and the run exits 2.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from kubecert.pytest_plugin.session import KubecertSession
from kubecert.reports import canonical, html, outputs
from kubecert.reports.results import STATUSES, ProfileRecord, Report, Result, Status, TargetRecord
from kubecert.rules import catalog

CATALOG_ITEM = re.compile(r"::(KC-[A-Z0-9]+-\d{2})\[(.*)\]$")


class Reporter:
    """Registered on the controller only; under xdist it sees every worker's reports."""

    def __init__(self, config: pytest.Config, session: KubecertSession) -> None:
        self.config = config
        self.session = session
        self.results: dict[str, Result] = {}
        self.targets: dict[str, dict[str, Any]] = {}
        self.durations: defaultdict[str, float] = defaultdict(float)
        self.written: list[Path] = []
        self.failed_writes: list[str] = []
        self.expected: set[str] = set()  # node ids of the catalog checks the session selected
        self.report: Report | None = None

    def _paths(self) -> list[Path]:
        settings = self.session.settings
        return [p for p in (settings.json_path, settings.html_path) if p is not None]

    def _junit(self) -> Path | None:
        xmlpath = getattr(self.config.option, "xmlpath", None)
        return Path(xmlpath) if xmlpath else None

    def check_outputs(self) -> None:
        """Every report path is writable, or the run stops now with a usage error."""
        settings = self.session.settings
        found = outputs.problems([("--json", settings.json_path), ("--html", settings.html_path),
                                  ("--junitxml", self._junit())])
        if found:
            raise pytest.UsageError("cannot write the reports:\n  " + "\n  ".join(found))

    def clear_stale(self) -> None:
        """A report left from an earlier run must not pass for this run's if this one dies early."""
        junit = self._junit()
        outputs.clear([*self._paths(), *([junit] if junit else [])])

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.expected.update(item.nodeid for item in session.items if CATALOG_ITEM.search(item.nodeid))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.expected.update(nodeid for nodeid in ids if CATALOG_ITEM.search(nodeid))

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.durations[report.nodeid] += report.duration
        result = getattr(report, "kubecert_result", None)
        if result is not None:
            self.results[report.nodeid] = Result.from_json(result)
            target = getattr(report, "kubecert_target", None)
            if target is not None:
                known = self.targets.get(target["id"], {})
                # Keep the first observation time seen: it is when the target was read.
                if known.get("observed_at") and target.get("observed_at"):
                    target = {**target, "observed_at": min(known["observed_at"], target["observed_at"])}
                self.targets[target["id"]] = target

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.results and not self._paths():
            return
        complete = exitstatus not in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        results = [dataclasses.replace(result, duration_s=round(self.durations.get(nodeid, 0.0), 6))
                   for nodeid, result in self.results.items()]
        if complete:
            results += self._missing()
        # Targets of one cluster share its notes: each is said once.
        notes = list(dict.fromkeys(note for target in self.session.targets.values() for note in target.notes))
        self.report = canonical.build(
            results=results, targets=[_target(t) for t in self.targets.values()], profile=self._profile(),
            started_at=self.session.started_at, finished_at=dt.datetime.now(dt.UTC), complete=complete,
            at=self.session.settings.at, notes=notes,
        )
        self.config.hook.pytest_kubecert_report_ready(report=self.report, config=self.config)
        settings = self.session.settings
        for path, render in ((settings.json_path, canonical.dumps), (settings.html_path, html.render)):
            if path is None:
                continue
            destination = path if complete else outputs.partial(path)
            try:
                canonical.write_atomic(destination, render(self.report))
            except OSError as exc:
                self.failed_writes.append(f"{destination}: {exc.strerror or exc}")
                continue
            self.written.append(destination)
        junit = self._junit()
        if not complete and junit is not None:
            marked = outputs.mark_junit_incomplete(junit)
            if marked is not None:
                self.written.append(marked)
        if self.failed_writes:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # `kubecert check` exits 2: no report to trust

    def _missing(self) -> list[Result]:
        """An error for every selected catalog check that ended without a result."""
        missing = []
        for nodeid in sorted(self.expected - self.results.keys()):
            match = CATALOG_ITEM.search(nodeid)
            if match is None or match.group(2) not in self.session.targets:
                continue
            rule = catalog.get(match.group(1))
            missing.append(Result(
                rule=rule.id, target=match.group(2), status=Status.ERROR, nodeid=nodeid.split("@", 1)[0],
                message="the check ended without a result (its process stopped?); it was not judged",
                evidence=[], citation=f"{rule.citation} [{', '.join(rule.sources)}]",
            ))
        return missing

    def _profile(self) -> ProfileRecord:
        profiles = {json.dumps(t["profile"], sort_keys=True) for t in self.targets.values() if t.get("profile")}
        if len(profiles) == 1:
            return ProfileRecord(**json.loads(profiles.pop()))
        return ProfileRecord(self.session.settings.profile, {}, per_target=True)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report is None or not self.report.results:
            return
        write = terminalreporter.write_line
        terminalreporter.section("kubecert")
        by_target: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for result in self.report.results:
            by_target[result.target][result.status] += 1
        for target, counts in by_target.items():
            parts = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
            write(f"{target}: {parts}")
        if not self.report.complete:
            write("the run did not finish: reports are written as partial")
        for note in self.report.notes or ():
            write(f"NOTE: {note}")
        for path in self.written:
            write(f"report: {path}")
        for failure in self.failed_writes:
            write(f"kubecert: could not write the report {failure}")


def _target(described: dict[str, Any]) -> TargetRecord:
    return TargetRecord(**{**described, "profile": ProfileRecord(**described["profile"])})
