"""Collecting results on the controller and writing the reports when the session ends."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from kubecert.pytest_plugin.session import KubecertSession
from kubecert.reports import canonical, html
from kubecert.reports.results import STATUSES, ProfileRecord, Report, Result, TargetRecord


class Reporter:
    """Registered on the controller only; under xdist it sees every worker's reports."""

    def __init__(self, config: pytest.Config, session: KubecertSession) -> None:
        self.config = config
        self.session = session
        self.results: dict[str, Result] = {}
        self.targets: dict[str, dict[str, Any]] = {}
        self.durations: defaultdict[str, float] = defaultdict(float)
        self.written: list[Path] = []
        self.report: Report | None = None

    def _paths(self) -> list[Path]:
        settings = self.session.settings
        return [p for p in (settings.json_path, settings.html_path) if p is not None]

    def clear_stale(self) -> None:
        """A report left from an earlier run must not pass for this run's if this one dies early."""
        for path in self._paths():
            path.unlink(missing_ok=True)
            _partial(path).unlink(missing_ok=True)

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
        self.report = canonical.build(
            results=results, targets=[_target(t) for t in self.targets.values()], profile=self._profile(),
            started_at=self.session.started_at, finished_at=dt.datetime.now(dt.UTC), complete=complete,
            at=self.session.settings.at,
        )
        self.config.hook.pytest_kubecert_report_ready(report=self.report, config=self.config)
        settings = self.session.settings
        for path, render in ((settings.json_path, canonical.dumps), (settings.html_path, html.render)):
            if path is None:
                continue
            destination = path if complete else _partial(path)
            canonical.write_atomic(destination, render(self.report))
            self.written.append(destination)

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
        for path in self.written:
            write(f"report: {path}")


def _target(described: dict[str, Any]) -> TargetRecord:
    return TargetRecord(**{**described, "profile": ProfileRecord(**described["profile"])})


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")
