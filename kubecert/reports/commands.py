"""``kubecert baseline write`` and ``kubecert report merge``: what is done with reports after a run.

Every error the user can cause (a file that is not a report, conflicting reports, an unwritable path) is
one line naming the file, and exit code 3; nothing is left half-written. What the commands need is
imported when they run; their parsers are built only when the command line names them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from kubecert.reports.outputs import FORMATS

EXIT_OK, EXIT_USAGE = 0, 3
DEFAULT_REPORT = Path("reports") / "kubecert.json"


def add_baseline(base: argparse.ArgumentParser) -> None:
    """``baseline``'s verbs (kubecert/cli.py declares the command)."""
    verbs = base.add_subparsers(dest="baseline_command", required=True, metavar="COMMAND")
    write = verbs.add_parser("write", help="record the failures of a report in a baseline file",
                             description="Record every offender of every failed result of a canonical report; "
                                         "give the file to kubecert check --baseline.")
    write.add_argument("file", type=Path, metavar="FILE", help="the baseline to write")
    write.add_argument("--report", type=Path, default=DEFAULT_REPORT, metavar="PATH",
                       help="the canonical JSON report to take the failures from (default: %(default)s)")
    write.add_argument("--reason", metavar="TEXT", help="why these failures are accepted (kept with every entry)")
    write.add_argument("--expires", type=_date, metavar="DATE",
                       help="the last day the entries accept anything, e.g. 2027-01-31 (default: never)")
    write.set_defaults(handler=run_baseline_write)


def add_report(report: argparse.ArgumentParser) -> None:
    """``report``'s verbs (kubecert/cli.py declares the command)."""
    report_verbs = report.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    merge_parser = report_verbs.add_parser(
        "merge", help="merge the reports of runs of different targets into one set of reports",
        description="Merge canonical JSON reports of runs that checked different targets; every format is "
                    "rendered again from the merged report. Conflicting results for one rule and target are refused.")
    merge_parser.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json")
    merge_parser.add_argument("--output-dir", type=Path, metavar="DIR", help="write every format into DIR")
    for fmt in FORMATS:
        merge_parser.add_argument(f"--{fmt.option}", type=Path, metavar="PATH", help=f"write {fmt.file_name} here")
    merge_parser.set_defaults(handler=run_merge)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2027-01-31") from None


def _fail(message: str) -> int:
    print(f"kubecert: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_baseline_write(args: argparse.Namespace) -> int:
    from kubecert.atomic_files import write_atomic
    from kubecert.reports import baseline, canonical

    try:
        report = canonical.load(args.report, "--report")
    except ValueError as exc:
        return _fail(str(exc))
    entries = baseline.entries_of(report, args.reason, args.expires)
    try:
        write_atomic(args.file, baseline.dumps(entries, str(args.report)).encode(), canonical.REPORT_MODE)
    except OSError as exc:
        return _fail(f"{args.file}: cannot write the baseline: {exc.strerror or exc}")
    print(f"{args.file}: {len(entries)} accepted offenders from {args.report}")
    return EXIT_OK


def run_merge(args: argparse.Namespace) -> int:
    """Every input is read and validated, and the merge made, before anything is written; the output set is
    then written as a whole while its files are held (report_lock.py), so a refusal or a failure leaves
    the previous set as it was."""
    from kubecert.reports import canonical
    from kubecert.reports.merge import MergeError, merge
    from kubecert.reports.outputs import ReportPaths
    from kubecert.reports.redact import redact_command_line
    from kubecert.reports.report_lock import ReportLock, ReportLockError, this_run
    from kubecert.reports.tally import Tally, failing_lines

    chosen = {fmt.option: getattr(args, fmt.option) for fmt in FORMATS if getattr(args, fmt.option)}
    paths = ReportPaths.resolve(chosen, args.output_dir)
    if not paths.paths:
        return _fail("report merge: give --output-dir DIR or a path for at least one format")
    problems = paths.problems()
    if problems:
        return _fail("cannot write the reports:\n  " + "\n  ".join(problems))
    loaded = []
    for path in args.reports:
        try:
            loaded.append((path, canonical.load(path)))
        except ValueError as exc:
            return _fail(f"report merge: {exc}")
    command_line = redact_command_line(["kubecert", *getattr(args, "argv", ["report", "merge"])])
    try:
        merged = merge(loaded, command_line)
    except MergeError as exc:
        return _fail(f"report merge: {exc}")
    lock = ReportLock(paths.paths.values())
    try:
        lock.acquire(this_run(command_line))
    except ReportLockError as exc:
        return _fail(f"report merge: {exc}")
    try:
        written, failed = paths.write(merged, complete=True)
    finally:
        lock.release()
    for path in written:
        print(f"report: {path}")
    for failure in failed:
        print(f"kubecert: could not write the report {failure}", file=sys.stderr)
    code = canonical.exit_code(merged) if not failed else 2
    for line in failing_lines(merged):
        print(line)
    print(f"merged {len(loaded)} reports: {Tally.of_document(merged).line(code)}")
    return code
