"""The ``kubecert`` command: ``check`` runs the conformance suite, ``rules`` lists the catalog,
``reference`` drives the reference implementation.

Exit codes of ``check``: 0 every rule passed (skips allowed), 1 a rule failed, 2 a check could not run
(error, target unreachable, nothing collected, interrupted), 3 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import textwrap
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from kubecert._version import __version__
from kubecert.options import CHECK_OPTIONS, Option

if TYPE_CHECKING:
    from kubecert.rules import Rule
    from kubecert.targets.registry import TargetKind

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_USAGE = 0, 1, 2, 3
DEFAULT_JUNIT = Path("reports") / "kubecert-junit.xml"


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on bad usage; kubecert's usage errors are 3 (2 means a check could not run)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser(kinds: Sequence[TargetKind] = ()) -> argparse.ArgumentParser:
    """The command; ``kinds`` are target kinds beyond the built-in ones (from --plugin modules)."""
    parser = _Parser(prog="kubecert", description="Check how a Kubernetes platform manages its PKI certificates.")
    parser.add_argument("--version", action="version", version=f"kubecert {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser("check", help="run the conformance suite against targets",
                                description="Run every rule against each target and write the reports. "
                                            "Arguments after -- go to pytest.")
    for option in _options(kinds):
        option.add_to_argparse(check)
    check.add_argument("--junitxml", type=Path, default=DEFAULT_JUNIT, metavar="PATH",
                       help="JUnit XML report (default: %(default)s)")
    check.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                       help="a pytest plugin module that adds target kinds (pytest_kubecert_target_kinds); its "
                            "kinds' options become options here (repeatable)")
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


def _options(kinds: Sequence[TargetKind]) -> list[Option]:
    from kubecert.options import unique
    from kubecert.targets.registry import BUILTIN_KINDS, entry_point_kinds

    return unique([*CHECK_OPTIONS, *(o for k in (*BUILTIN_KINDS, *entry_point_kinds(), *kinds) for o in k.options)])


def plugin_kinds(argv: Sequence[str]) -> tuple[list[str], list[TargetKind]]:
    """The --plugin modules named before ``--``, and the target kinds they declare."""
    head = list(argv[: list(argv).index("--")] if "--" in argv else argv)
    modules = [head[i + 1] for i, word in enumerate(head[:-1]) if word == "--plugin"]
    modules += [word.split("=", 1)[1] for word in head if word.startswith("--plugin=")]
    kinds: list[TargetKind] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise SystemExit(f"kubecert: error: --plugin {name}: cannot import it ({exc})") from None
        declare = getattr(module, "pytest_kubecert_target_kinds", None)
        kinds.extend(declare() if callable(declare) else [])
    return modules, kinds


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        _, kinds = plugin_kinds(words)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    parser = build_parser(kinds)
    args = parser.parse_args(words)
    args.kinds = kinds
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
        "-p", "no:cacheprovider", "-rfEs", "--junitxml", str(args.junitxml),
    ]
    for module in args.plugin:
        argv += ["-p", module]
    argv += ["-q"] if args.quiet else ["-v"]
    for option in _options(getattr(args, "kinds", ())):
        argv += option.pytest_args(getattr(args, option.dest))
    return argv + list(args.pytest_args)


def run_check(args: argparse.Namespace) -> int:
    import pytest

    code = pytest.main(pytest_arguments(args))
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    if code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
        return EXIT_ERROR
    from kubecert.reports import canonical

    try:
        report = canonical.load(Path(args.kubecert_json))
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
              + (f"; needs: {', '.join(rule.capabilities)}" if rule.capabilities else "")
              + (f"; nodes: {', '.join(rule.roles)}" if rule.roles else ""))
        if rule.note:
            print(textwrap.indent(textwrap.fill(f"note: {rule.note}", 100), "    "))
    return EXIT_OK


def rules_markdown(rules: Sequence[Rule]) -> str:
    """The catalog as the README shows it (a test keeps the two the same)."""
    lines = ["| ID | rule | sources | needs | nodes |", "|---|---|---|---|---|"]
    for rule in rules:
        needs = ", ".join(rule.capabilities) + (" (disruptive)" if rule.disruptive else "")
        lines.append(f"| {rule.id} | {rule.title} | {', '.join(rule.sources)} | {needs} | {', '.join(rule.roles)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
