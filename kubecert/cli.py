"""The ``kubecert`` command: ``check`` runs the conformance suite, ``rules`` lists the catalog,
``reference`` drives the reference implementation.

Exit codes of ``check``: 0 every rule passed (skips allowed), 1 a rule failed, 2 a check could not run
(error, target unreachable, nothing collected, interrupted), 3 usage error.

Start-up is kept short, since every command pays it: this module imports argparse and nothing else of
weight, not even typing or dataclasses (either would add a tenth or more to `kubecert --help`). A command's
arguments are added only when the command line names it, and what a command needs (the option table, pytest,
the reference PKI, cryptography) is imported when it runs.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from kubecert._version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING as type checkers read it, without importing typing
if TYPE_CHECKING:
    from kubecert.options import Option
    from kubecert.pytest_plugin.options import CommandRun
    from kubecert.targets.registry import TargetKind

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_USAGE = 0, 1, 2, 3
DEFAULT_OUTPUT_DIR = "reports"


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on bad usage; kubecert's usage errors are 3 (2 means a check could not run)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n{_nearest_options(self, message)}")


def _nearest_options(parser: argparse.ArgumentParser, message: str) -> str:
    """"did you mean --profile?" for each misspelled option of an "unrecognized arguments" error, looked up
    among the options of the parser and of the commands it has arguments for."""
    prefix = "unrecognized arguments: "
    if not message.startswith(prefix):
        return ""
    import difflib

    known = _option_strings(parser)
    hints = []
    for word in message[len(prefix):].split():
        near = difflib.get_close_matches(word.partition("=")[0], known, n=1) if word.startswith("--") else []
        if near:
            hints.append(f"{parser.prog}: {word}: did you mean {near[0]}?\n")
    return "".join(hints)


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    found = []
    for action in parser._actions:
        found += [option for option in action.option_strings if option.startswith("--")]
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                found += _option_strings(command)
    return found


class Command:
    """A command whose arguments another module adds. ``kubecert --help`` shows its name and help from here;
    ``arguments`` ("module:function", given the command's parser) is imported only when the command line
    names the command: the reference's parsers list its faults, which takes its whole PKI and cryptography.
    A plain class, not a dataclass, for start-up's sake."""

    def __init__(self, name: str, help: str, arguments: str, description: str | None = None) -> None:
        self.name, self.help, self.arguments, self.description = name, help, arguments, description

    def add_to(self, commands: argparse._SubParsersAction[_Parser], with_arguments: bool) -> None:
        parser = commands.add_parser(self.name, help=self.help, description=self.description)
        if with_arguments:
            module, _, function = self.arguments.partition(":")
            getattr(importlib.import_module(module), function)(parser)


COMMANDS_ELSEWHERE: tuple[Command, ...] = (
    Command("rules", "list the rule catalog, or the rules named", "kubecert.rules.commands:add_rules"),
    Command("baseline", "accept today's failures so that CI fails only on new ones",
            "kubecert.reports.commands:add_baseline"),
    Command("report", "work with reports written by kubecert check", "kubecert.reports.commands:add_report"),
    Command("reference", "the reference implementation (kubeadm-exact PKI)", "kubecert.reference.cli:add_commands",
            "The reference implementation: a platform that passes every rule, with opt-in faults."),
)


def build_parser(kinds: Sequence[TargetKind] = (), words: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command; ``kinds`` are target kinds beyond the built-in ones (from --plugin modules).

    Given the command line's ``words``, only the command they name gets its arguments; the others are listed
    with their help alone, and their modules (and the installed packages' target kinds) are not looked at.
    Without ``words``, every command gets them.
    """
    named = None if words is None else next((word for word in words if not word.startswith("-")), None)

    def wanted(name: str) -> bool:
        return words is None or name == named  # the top level takes no option with a value, so this is the command

    parser = _Parser(prog="kubecert", description="Check how a Kubernetes platform manages its PKI certificates.")
    parser.add_argument("--version", action="version", version=f"kubecert {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser("check", help="run the conformance suite against targets",
                                description="Run every rule against each target and write the reports. "
                                            "Arguments after -- go to pytest.")
    if wanted("check"):
        _add_check_arguments(check, kinds)

    for command in COMMANDS_ELSEWHERE:
        command.add_to(commands, wanted(command.name))
    return parser


def _add_check_arguments(check: argparse.ArgumentParser, kinds: Sequence[TargetKind]) -> None:
    for option in _options(kinds):
        option.add_to_argparse(check)
    check.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                       help="a pytest plugin module that adds target kinds (pytest_kubecert_target_kinds); its "
                            "kinds' options become options here (repeatable)")
    detail = check.add_mutually_exclusive_group()
    detail.add_argument("-q", "--quiet", action="store_true",
                        help="only what did not pass, the summary and the reports")
    detail.add_argument("-v", "--verbose", action="store_true",
                        help="pytest's own output: every check by its test id, each failure in full")
    check.add_argument("pytest_args", nargs="*", metavar="-- PYTEST ARGS")
    check.set_defaults(handler=run_check)


def _options(kinds: Sequence[TargetKind]) -> list[Option]:
    from kubecert.options import CHECK_OPTIONS, unique
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
    parser = build_parser(kinds, words)
    args = parser.parse_args(words)
    args.kinds = kinds
    args.argv = words
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("kubecert: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `kubecert rules | head`: the reader has all it wanted
        sys.stderr.close()
        return EXIT_OK


# kubecert's own pytest plugin, the module its pytest11 entry point names (pyproject.toml): a run loads no
# plugin through entry points, so it is named on the command line.
PLUGIN = "kubecert.pytest_plugin.plugin"
# Options that only pytest-xdist knows, each a way to ask for workers: given one, the run loads xdist. The
# others of xdist's come with one of these, or with -p xdist.
XDIST_OPTIONS = ("-n", "--numprocesses", "--maxprocesses", "--dist", "-d", "--tx")
AUTOLOAD_OFF = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


def pytest_arguments(args: argparse.Namespace) -> list[str]:
    """The pytest command line that ``kubecert check`` stands for (run with no plugin autoloaded). kubecert's own
    settings are not on it: the command hands them to the plugin as an object (kubecert.pytest_plugin.options.
    CommandRun). Only xdist's workers, which get the controller's command line and nothing else, need them as
    ``--kubecert-*`` words, so with xdist they are added and each worker reads them."""
    from importlib import resources

    suite = resources.files("kubecert.conformance")
    argv = [
        "--pyargs", "kubecert.conformance",
        "-c", str(suite.joinpath("pytest.ini")), "--rootdir", str(suite), "-p", "no:cacheprovider",
    ]
    for module in args.plugin:
        argv += ["-p", module]
    # pytest's plugin for unittest.TestCase classes imports unittest, and the suite has none.
    argv += ["-p", PLUGIN, "-p", "no:unittest"]
    if asks_for_xdist(args.pytest_args):
        argv += ["-p", "xdist"]
        values = check_values(args)
        argv += [word for option in _options(getattr(args, "kinds", ())) for word in option.pytest_args(
            values[option.name])]
    # kubecert's progress lines are shown once, by its own handler, as they come: pytest's log capture keeps none
    # of them to show again in a failed check's section (a --log-level after `--` still wins).
    argv += ["-o", "log_level=CRITICAL"]
    if getattr(args, "verbose", False):
        argv += ["-v", "-rfEs"]
    else:
        # kubecert's own lines (one per rule and target, skips folded, an error said once) instead of
        # pytest's: no progress letters, no tracebacks, no short summary.
        argv += ["-q", "--tb=no", "-rN"]
    return argv + list(args.pytest_args)


def check_values(args: argparse.Namespace) -> dict[str, object]:
    """Option name → the value the command line gave (or the command's default) for every option of a check."""
    from kubecert.reports.outputs import FORMATS

    # No report option at all: every format, into reports/.
    no_report_option = not any(getattr(args, f"kubecert_{fmt.option}") for fmt in FORMATS)
    values = {option.name: getattr(args, option.dest) for option in _options(getattr(args, "kinds", ()))}
    if values["output-dir"] is None and no_report_option:
        values["output-dir"] = DEFAULT_OUTPUT_DIR
    return values


def asks_for_xdist(pytest_args: Sequence[str]) -> bool:
    """Whether the arguments after ``--`` ask for xdist's workers (``-n 2``, ``-nauto``, ``--dist=load``...)."""
    for word in pytest_args:
        name = word.partition("=")[0]
        if name in XDIST_OPTIONS or (word.startswith("-n") and not word.startswith("--")):
            return True
    return False


@contextmanager
def no_plugin_autoload() -> Iterator[None]:
    """pytest loads no installed plugin by itself while a check runs (xdist's workers inherit it too): only
    kubecert's, the --plugin modules and what the arguments after ``--`` name. Every other plugin in the
    environment (anyio's, hypothesis's, ...) would cost start-up and could change how checks run."""
    before = os.environ.get(AUTOLOAD_OFF)
    os.environ[AUTOLOAD_OFF] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[AUTOLOAD_OFF]
        else:
            os.environ[AUTOLOAD_OFF] = before


class _StartupSetAside:
    """Sets what start-up made (modules, classes, the catalog, the collected items) aside from garbage collection
    while the checks run, and gives it back after: pytest collects garbage at the end of a run to find unraisable
    exceptions, and one full collection through every object of start-up took longer than reading a node.
    Garbage the checks make is collected as before; nothing is kept after the run (the command may run inside
    a process that goes on, such as a test). A process that set objects aside itself is left to its own way."""

    def __enter__(self) -> _StartupSetAside:
        self.ours = gc.get_freeze_count() == 0
        self.pytest_collection_finish()
        return self

    def pytest_collection_finish(self) -> None:
        if self.ours:
            gc.freeze()  # once before pytest starts, again for kubecert's plugin and the items made since

    def __exit__(self, *exc: object) -> None:
        if self.ours:
            gc.unfreeze()


def handed_settings(args: argparse.Namespace) -> CommandRun:
    """What the command hands the plugin: its options parsed once into the run's settings (a bad value is a usage
    error, said as pytest says its own), how the terminal shows the run, and the command line as typed."""
    from kubecert.options import CHECK_OPTIONS
    from kubecert.pytest_plugin.options import CommandRun, parse_settings

    own = {option.name for option in CHECK_OPTIONS}
    target_options = [o for o in _options(getattr(args, "kinds", ())) if o.name not in own]
    # Without any report option the command writes every format into reports/: no default file is needed.
    settings = parse_settings(check_values(args), target_options, default_json=None)
    verbose = bool(getattr(args, "verbose", False))
    return CommandRun(settings, getattr(args, "argv", ["check"]), compact=not verbose,
                      compact_quiet=bool(getattr(args, "quiet", False)))


def run_check(args: argparse.Namespace) -> int:
    import pytest

    try:
        run = handed_settings(args)
    except pytest.UsageError as exc:
        print(f"ERROR: {exc}\n", file=sys.stderr)
        return EXIT_USAGE
    with no_plugin_autoload(), _StartupSetAside() as set_aside:
        code = pytest.main(pytest_arguments(args), plugins=[run, set_aside])
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    if code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
        return EXIT_ERROR
    if run.tally is None:
        print("kubecert: the run made no report to judge it by", file=sys.stderr)
        return EXIT_ERROR
    return run.tally.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
