"""One option table: each option is declared once and reaches both ``kubecert check`` and pytest, the
options of a target kind another plugin adds included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from kubecert.cli import build_parser, handed_settings, main, pytest_arguments
from kubecert.options import CHECK_OPTIONS, Kind, Option, unique
from kubecert.pytest_plugin import options as plugin_options
from kubecert.pytest_plugin.options import Settings
from kubecert.targets.registry import BUILTIN_KINDS

from support import run_suite, statuses

VENDOR = """
    from kubecert.options import Option
    from kubecert.targets import PkiTarget, TargetKind

    class Exported(PkiTarget):
        scheme = "exported"

        def __init__(self, uri, profile, options, facts=None):
            super().__init__(uri, profile, options, facts)
            self.region = options.get("vendor-region")

        def location(self):
            return {**super().location(), "region": str(self.region)}

    def pytest_kubecert_target_kinds():
        return [TargetKind("exported", Exported, "palette", "certificates a vendor exports",
                           options=(Option("vendor-region", "exported: the vendor's region", "REGION"),))]
"""


def test_every_check_option_has_help_and_is_declared_once() -> None:
    options = unique([*CHECK_OPTIONS, *(o for kind in BUILTIN_KINDS for o in kind.options)])
    assert all(o.help and o.name == o.name.lower() for o in options)
    with pytest.raises(ValueError, match="declared twice"):
        unique([Option("x", "one"), Option("x", "another")])


def test_the_command_hands_its_settings_over_and_words_only_to_xdist_workers(tmp_path: Path) -> None:
    argv = ["check", "--target", "pki:/x/pki", "--node-name", "cp-9", "--extra-san", "a.example",
            "--extra-san", "b.example", "--external-etcd", "--min-remaining", "45", "--renew-command", "true",
            "--ca-bundle", "ca.pem", "--insecure-skip-tls-verify", "--json", str(tmp_path / "r.json")]
    args = build_parser().parse_args(argv)
    settings = handed_settings(args).settings
    assert settings.targets == ("pki:/x/pki",) and settings.overrides == {"min_remaining_days": 45}
    assert settings.facts.node_name == "cp-9" and settings.facts.external_etcd
    assert settings.facts.extra_sans == ("a.example", "b.example")
    assert settings.target_options["renew-command"] == "true" and settings.target_options["ca-bundle"] == "ca.pem"
    assert settings.target_options["insecure-skip-tls-verify"] and not settings.allow_disruptive
    assert settings.reports.paths == {"json": tmp_path / "r.json"}
    assert not [word for word in pytest_arguments(args) if word.startswith("--kubecert-")]
    # xdist's workers get the controller's command line and nothing else: the settings go there as words.
    passed = pytest_arguments(build_parser().parse_args([*argv, "--", "-n", "2"]))
    joined = " ".join(passed)
    for expected in ("--kubecert-target pki:/x/pki", "--kubecert-node-name cp-9", "--kubecert-extra-san a.example",
                     "--kubecert-extra-san b.example", "--kubecert-min-remaining 45",
                     "--kubecert-renew-command true", "--kubecert-ca-bundle ca.pem",
                     f"--kubecert-json {tmp_path}/r.json"):
        assert expected in joined, expected
    assert "--kubecert-external-etcd" in passed and "--kubecert-insecure-skip-tls-verify" in passed
    assert "--kubecert-allow-disruptive" not in passed  # a flag not given is not passed


def parses_counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """A spy on the one function that parses a run's options into its settings: the targets of each call."""
    calls: list[tuple[str, ...]] = []
    parse = plugin_options.parse_settings

    def spy(*args: Any, **kwargs: Any) -> Settings:
        settings = parse(*args, **kwargs)
        calls.append(settings.targets)
        return settings

    monkeypatch.setattr(plugin_options, "parse_settings", spy)
    return calls


def test_the_options_are_parsed_once_a_run_through_the_command(reference_tree: Any, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls = parses_counted(monkeypatch)
    monkeypatch.chdir(tmp_path)
    target = f"pki:{reference_tree.root / 'pki'}"
    assert main(["check", "-q", "--target", target, "--profile", "palette", "--rule", "KC-VAL-*", "--json",
                 str(tmp_path / "r.json")]) == 0
    assert calls == [(target,)]
    report = json.loads((tmp_path / "r.json").read_text())
    assert {r["rule"] for r in report["results"]} == {"KC-VAL-01", "KC-VAL-02", "KC-VAL-03", "KC-VAL-04"}


def test_the_options_are_parsed_once_a_run_under_pytest(pytester: pytest.Pytester, reference_tree: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls = parses_counted(monkeypatch)
    target = f"pki:{reference_tree.root / 'pki'}"
    _, report = run_suite(pytester, "--kubecert-target", target, "--kubecert-rule", "KC-VAL-*")
    assert calls == [(target,)] and len(report["results"]) == 4


def test_a_bad_value_is_a_usage_error_on_both_sides(pytester: pytest.Pytester,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["check", "--min-remaining", "-1"])
    assert exited.value.code == 3 and "--min-remaining" in capsys.readouterr().err
    result = pytester.runpytest("--pyargs", "kubecert.conformance", "--kubecert-min-remaining", "soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_a_plugin_kinds_options_reach_pytest(pytester: pytest.Pytester, reference_tree: Any) -> None:
    pytester.syspathinsert()
    pytester.makepyfile(vendor_kinds=textwrap.dedent(VENDOR))
    result = pytester.runpytest("-p", "vendor_kinds", "--help")
    result.stdout.fnmatch_lines(["*--kubecert-vendor-region=REGION*"])
    run, report = run_suite(pytester, "-p", "vendor_kinds", "--kubecert-target",
                            f"exported:{reference_tree.root / 'pki'}", "--kubecert-vendor-region", "eu-1",
                            "--kubecert-rule", "KC-VAL-*", "--kubecert-profile", "palette")
    assert set(statuses(report).values()) == {"passed"}, run.stdout.str()
    assert report["targets"][0]["location"]["region"] == "eu-1"


def test_a_plugin_kinds_options_reach_the_command(tmp_path: Path, reference_tree: Any) -> None:
    (tmp_path / "vendor_kinds.py").write_text(textwrap.dedent(VENDOR))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "kubecert", "check", "--plugin", "vendor_kinds", "--target",
         f"exported:{reference_tree.root / 'pki'}", "--vendor-region", "eu-1", "--rule", "KC-VAL-*",
         "--profile", "palette", "-q", "--json", "r.json", "--html", "r.html", "--junitxml", "r.xml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    helped = subprocess.run([sys.executable, "-m", "kubecert", "check", "--plugin", "vendor_kinds", "--help"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
                            env=env)
    assert "--vendor-region REGION" in helped.stdout and "exported: the vendor's region" in helped.stdout


def test_an_unknown_plugin_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from kubecert.cli import main

    assert main(["check", "--plugin", "no_such_kubecert_plugin"]) == 3
    assert "--plugin no_such_kubecert_plugin: cannot import it" in capsys.readouterr().err


def test_option_kinds_turn_into_pytest_arguments() -> None:
    assert Option("a", "h", kind=Kind.FLAG).pytest_args(True) == ["--kubecert-a"]
    assert Option("a", "h", kind=Kind.FLAG).pytest_args(False) == []
    assert Option("a", "h", kind=Kind.REPEAT).pytest_args(["x", "y"]) == ["--kubecert-a", "x", "--kubecert-a", "y"]
    assert Option("a", "h").pytest_args(None) == []
