"""The ``kubecert`` command: ``check`` runs the conformance suite, ``rules`` lists the catalog,
``reference`` drives the reference implementation.

Exit codes of ``check``: 0 every rule passed (skips allowed), 1 a rule failed, 2 a check could not run
(error, target unreachable, nothing collected, interrupted), 3 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import pytest

from kubecert._version import __version__
from kubecert.plugins.targets import builtin_options
from kubecert.rules import Rule

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_USAGE = 0, 1, 2, 3
DEFAULT_REPORT_DIR = Path("reports")


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on bad usage; kubecert's usage errors are 3 (2 means a check could not run)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kubecert", description="Check how a Kubernetes platform manages its PKI certificates.")
    parser.add_argument("--version", action="version", version=f"kubecert {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser("check", help="run the conformance suite against targets",
                                description="Run every rule against each target and write the reports. "
                                            "Arguments after -- go to pytest.")
    check.add_argument("--target", action="append", default=[], metavar="URI",
                       help="pki:PATH or reference (default: reference, a fresh reference platform)")
    check.add_argument("--profile", default="auto", metavar="auto|kubeadm|palette|FILE")
    check.add_argument("--json", type=Path, default=DEFAULT_REPORT_DIR / "kubecert.json", metavar="PATH",
                       help="canonical JSON report (default: %(default)s)")
    check.add_argument("--html", type=Path, default=DEFAULT_REPORT_DIR / "kubecert.html", metavar="PATH",
                       help="HTML report (default: %(default)s)")
    check.add_argument("--junitxml", type=Path, default=DEFAULT_REPORT_DIR / "kubecert-junit.xml", metavar="PATH",
                       help="JUnit XML report (default: %(default)s)")
    check.add_argument("--allow-disruptive", action="store_true",
                       help="run checks that change the target (renewal, repave, upgrade)")
    check.add_argument("--min-remaining", type=int, metavar="DAYS", help="expiry horizon (profile default 30)")
    check.add_argument("--at", metavar="DATE", help="judge dates as of DATE instead of now")
    check.add_argument("--rule", action="append", default=[], metavar="PATTERN",
                       help="only rules matching PATTERN, e.g. 'KC-EXP-*' (repeatable)")
    check.add_argument("--node-name", metavar="NAME")
    check.add_argument("--advertise-address", metavar="IP")
    check.add_argument("--service-cidr", metavar="CIDR")
    check.add_argument("--dns-domain", metavar="DOMAIN")
    check.add_argument("--extra-san", action="append", default=[], metavar="SAN")
    check.add_argument("--external-etcd", action="store_true")
    for option in builtin_options():
        check.add_argument(f"--{option.name}", **option.argument())
    check.add_argument("-q", "--quiet", action="store_true", help="less output from pytest")
    check.add_argument("pytest_args", nargs="*", metavar="-- PYTEST ARGS")
    check.set_defaults(handler=run_check)

    rules = commands.add_parser("rules", help="list the rule catalog")
    rules.add_argument("--json", action="store_true", help="print the catalog as JSON")
    rules.add_argument("--markdown", action="store_true", help="print the catalog as a Markdown table")
    rules.set_defaults(handler=run_rules)

    from kubecert.reference.cli import register as register_reference

    register_reference(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("kubecert: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `kubecert rules | head`: the reader has all it wanted
        sys.stderr.close()
        return EXIT_OK


def pytest_arguments(args: argparse.Namespace) -> list[str]:
    """The pytest command line that ``kubecert check`` stands for."""
    suite = resources.files("kubecert.conformance")
    argv = [
        "--pyargs", "kubecert.conformance",
        "-c", str(suite.joinpath("pytest.ini")), "--rootdir", str(suite),
        "-p", "no:cacheprovider", "-rfEs",
        "--kubecert-profile", args.profile,
        "--kubecert-json", str(args.json), "--kubecert-html", str(args.html),
        "--junitxml", str(args.junitxml),
    ]
    argv += ["-q"] if args.quiet else ["-v"]
    for target in args.target:
        argv += ["--kubecert-target", target]
    for pattern in args.rule:
        argv += ["--kubecert-rule", pattern]
    for san in args.extra_san:
        argv += ["--kubecert-extra-san", san]
    if args.allow_disruptive:
        argv.append("--kubecert-allow-disruptive")
    if args.external_etcd:
        argv.append("--kubecert-external-etcd")
    for name in ("min_remaining", "at", "node_name", "advertise_address", "service_cidr", "dns_domain"):
        value = getattr(args, name)
        if value is not None:
            argv += [f"--kubecert-{name.replace('_', '-')}", str(value)]
    for option in builtin_options():
        value = getattr(args, option.dest)
        if option.flag and value:
            argv.append(f"--kubecert-{option.name}")
        elif option.repeat:
            for item in value:
                argv += [f"--kubecert-{option.name}", str(item)]
        elif value is not None and not option.flag:
            argv += [f"--kubecert-{option.name}", str(value)]
    return argv + list(args.pytest_args)


def run_check(args: argparse.Namespace) -> int:
    code = pytest.main(pytest_arguments(args))
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    if code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
        return EXIT_ERROR
    from kubecert.reports import canonical

    try:
        report = canonical.load(args.json)
    except ValueError as exc:
        print(f"kubecert: no report to judge the run by: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return canonical.exit_code(report)


def run_rules(args: argparse.Namespace) -> int:
    from kubecert.rules import all_rules, sources

    rules = all_rules()
    if args.json:
        document = {"sources": {k: {"title": s.title, "url": s.url} for k, s in sources().items()},
                    "rules": [r.to_json() for r in rules]}
        print(json.dumps(document, indent=2))
        return EXIT_OK
    if args.markdown:
        print(rules_markdown(rules))
        return EXIT_OK
    implemented = sum(r.implemented for r in rules)
    print(f"{len(rules)} rules, {implemented} implemented in kubecert {__version__}\n")
    for rule in rules:
        mark = "implemented" if rule.implemented else "not implemented yet"
        flags = ["disruptive"] if rule.disruptive else []
        print(f"{rule.id}  {rule.title}  [{mark}{', ' + ', '.join(flags) if flags else ''}]")
        print(textwrap.indent(textwrap.fill(rule.statement, 100), "    "))
        print(f"    sources: {', '.join(rule.sources)}"
              + (f"; parameters: {', '.join(rule.parameters)}" if rule.parameters else "")
              + (f"; needs: {', '.join(rule.capabilities)}" if rule.capabilities else ""))
        if rule.note:
            print(textwrap.indent(textwrap.fill(f"note: {rule.note}", 100), "    "))
    return EXIT_OK


def rules_markdown(rules: Sequence[Rule]) -> str:
    """The catalog as the README shows it (a test keeps the two the same)."""
    lines = ["| ID | rule | sources | needs |", "|---|---|---|---|"]
    for rule in rules:
        needs = ", ".join(rule.capabilities) + (" (disruptive)" if rule.disruptive else "")
        lines.append(f"| {rule.id} | {rule.title} | {', '.join(rule.sources)} | {needs} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
