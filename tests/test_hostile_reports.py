"""Reports and baselines read back are hostile input: a corpus of damaged, malformed, oversized and
misnamed files, built here, through every command that reads one (``report merge``, ``baseline write
--report``, ``check --baseline``).

Every file must be refused with exit 3 and one message that names the file and the field (or what the file
is), with no traceback and no raw control character; nothing may be written (the previous set of reports, or
the previous baseline, stays as it was) and nothing started, as the audit guard (tests/audit.py) sees it.
The corpus runs in one audited child process (tests/audited_batch.py) under a timeout, so a reader that
hangs on a FIFO or /dev/zero fails the test instead of stalling it.
"""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import audit
import audited_batch
import jsonschema
import pytest
from report_sets import PREVIOUS, contents, previous_set

from kubecert.reports import validate
from kubecert.reports.baseline import DOCUMENT_SCHEMA, MAX_BASELINE_BYTES
from kubecert.reports.reading import MAX_DEPTH, MAX_REPORT_BYTES
from kubecert.reports.schema import shipped
from kubecert.reports.versions import BASELINE

from support import validated

TEMP = os.path.realpath(tempfile.gettempdir())
_WRONG = {"string": 7, "integer": "7", "number": "7.5", "boolean": "no", "array": "abc", "object": [1, 2]}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Case:
    name: str
    says: str  # what the refusal must say about the field or the file
    make: Callable[[Path], Path]  # writes the hostile file in the folder given; its path
    document: Any = None  # the JSON document it holds, when it is one


def _written(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path
    return make


def _json_case(name: str, says: str, document: Any) -> Case:
    return Case(name, says, _written(f"{name}.json", json.dumps(document).encode()), document)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    reference = schema.get("$ref")
    return root["$defs"][reference.rsplit("/", 1)[-1]] if reference else schema


def _kind(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """The schema of a field's value when not null."""
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return _kind(next(c for c in schema["anyOf"] if c.get("type") != "null"), root)
    return schema


def _set(document: Any, path: list[str | int], value: Any) -> Any:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


def _removed(document: Any, path: list[str | int]) -> Any:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _field(path: list[str | int]) -> str:
    text = ""
    for key in path:
        text = validate.field_path(text, key)
    return text


def schema_cases(prefix: str, document: dict[str, Any], root: dict[str, Any]) -> Iterator[Case]:
    """For every field the schema defines that ``document`` holds (lists: their first item): a value of the
    wrong kind, a value outside its enum or const, its absence when required; an unknown field in each closed
    object."""

    def walk(value: Any, schema: dict[str, Any], path: list[str | int]) -> Iterator[Case]:
        schema = _kind(schema, root)
        if schema.get("type") == "object" and isinstance(value, dict):
            for name, field in schema.get("properties", {}).items():
                where = [*path, name]
                if name not in value:
                    continue
                kind = _kind(field, root)
                label = f"{prefix}-{_field(where)}"
                if kind.get("type") in _WRONG:
                    yield _json_case(f"{label}-wrong-type", f"{_field(where)}: expected",
                                     _set(document, where, _WRONG[kind["type"]]))
                if "enum" in kind or "const" in kind:
                    yield _json_case(f"{label}-bogus", f"{_field(where)}: ", _set(document, where, "bogus"))
                if name in schema.get("required", ()):
                    yield _json_case(f"{label}-missing", f"{_field(where)}: missing", _removed(document, where))
                yield from walk(value[name], field, where)
            if schema.get("additionalProperties") is False:
                where = [*path, "kubecert_extra"]
                yield _json_case(f"{prefix}-{_field(where)}-unknown", f"{_field(where)}: not a field",
                                 _set(document, where, 1))
        elif schema.get("type") == "array" and isinstance(value, list) and value:
            yield from walk(value[0], schema.get("items", {}), [*path, 0])

    yield from walk(document, root, [])


def byte_cases(prefix: str, valid: dict[str, Any], number_at: list[str | int], text_at: list[str | int],
               facts_at: list[str | int], max_bytes: int) -> list[Case]:
    """What is wrong below the schema: encoding, JSON itself, numbers, nesting, sizes, duplicate keys."""
    data = json.dumps(valid).encode()
    number = _field(number_at)

    def with_number(literal: str) -> bytes:
        marker = "KUBECERT-NUMBER"
        return json.dumps(_set(valid, number_at, marker)).replace(f'"{marker}"', literal).encode()

    deep: Any = "bottom"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    duplicate = data.replace(b'{"schema"', b'{"schema": "x", "schema"', 1)
    nested_duplicate = json.dumps(_set(valid, text_at, "KUBECERT-TEXT")).replace(
        '"KUBECERT-TEXT"', '"a", "zz": 1, "zz": 2', 1).encode()
    return [
        Case(f"{prefix}-empty", "the file is empty", _written(f"{prefix}-empty.json", b"")),
        Case(f"{prefix}-blank", "the file is empty", _written(f"{prefix}-blank.json", b" \n\t\n")),
        Case(f"{prefix}-bom", "byte order mark", _written(f"{prefix}-bom.json", b"\xef\xbb\xbf" + data)),
        Case(f"{prefix}-utf16", "not UTF-8", _written(f"{prefix}-utf16.json", json.dumps(valid).encode("utf-16"))),
        Case(f"{prefix}-latin1", "not UTF-8",
             _written(f"{prefix}-latin1.json", data.replace(b'"schema"', b'"sch\xe9ma"'))),
        Case(f"{prefix}-truncated", "not JSON", _written(f"{prefix}-truncated.json", data[: len(data) // 2])),
        Case(f"{prefix}-trailing", "Extra data", _written(f"{prefix}-trailing.json", data + b" x")),
        Case(f"{prefix}-two-documents", "Extra data", _written(f"{prefix}-two-documents.json", data + data)),
        Case(f"{prefix}-nan", "NaN is not a JSON number", _written(f"{prefix}-nan.json", with_number("NaN"))),
        Case(f"{prefix}-infinity", "Infinity is not a JSON number",
             _written(f"{prefix}-infinity.json", with_number("Infinity"))),
        Case(f"{prefix}-minus-infinity", "-Infinity is not a JSON number",
             _written(f"{prefix}-minus-infinity.json", with_number("-Infinity"))),
        Case(f"{prefix}-1e999", "beyond what a number may be", _written(f"{prefix}-1e999.json", with_number("1e999"))),
        Case(f"{prefix}-huge-integer", "a number of 5000 characters",
             _written(f"{prefix}-huge-integer.json", with_number("9" * 5000))),
        Case(f"{prefix}-huge-number-in-{number}", f"{number}: ",
             _written(f"{prefix}-huge-number.json", with_number("1" + "0" * 39))),
        Case(f"{prefix}-deep-100000", "nested deeper than",
             _written(f"{prefix}-deep.json", b"[" * 100_000 + b"]" * 100_000)),
        Case(f"{prefix}-deep-in-a-field", "nested deeper than", _written(
            f"{prefix}-deep-field.json", json.dumps(_set(valid, facts_at, deep)).encode())),
        Case(f"{prefix}-duplicate-key", "appears twice", _written(f"{prefix}-duplicate.json", duplicate)),
        Case(f"{prefix}-nested-duplicate-key", '"zz" appears twice',
             _written(f"{prefix}-nested-duplicate.json", nested_duplicate)),
        Case(f"{prefix}-raw-control-character", "Invalid control character", _written(
            f"{prefix}-raw-control.json", data.replace(b'"schema"', b'"sch\x1bema"', 1))),
        _json_case(f"{prefix}-escaped-control-in-a-key", r"\x1b[2J", _set(valid, ["\x1b[2J"], 1)),
        _json_case(f"{prefix}-lone-surrogate", "lone surrogate", _set(valid, text_at, "ok\ud800")),
        _json_case(f"{prefix}-huge-string", f"{_field(text_at)}: {validate.MAX_STRING_CHARS + 1} characters",
                   _set(valid, text_at, "x" * (validate.MAX_STRING_CHARS + 1))),
        _json_case(f"{prefix}-array", "not a JSON object", [valid]),
        _json_case(f"{prefix}-string", "not a JSON object", "kubecert"),
        _json_case(f"{prefix}-null", "not a JSON object", None),
        _json_case(f"{prefix}-number", "not a JSON object", 3),
        Case(f"{prefix}-100-MB", "not JSON" if max_bytes >= 100 << 20 else f"over the {max_bytes}-byte bound",
             _sparse(f"{prefix}-100MB.json", 100 << 20)),
        Case(f"{prefix}-over-the-bound", f"over the {max_bytes}-byte bound",
             _sparse(f"{prefix}-over.json", max_bytes + 1)),
        Case(f"{prefix}-4-GB-sparse", f"is {4 << 30} bytes, over the", _sparse(f"{prefix}-4GB.json", 4 << 30)),
    ]


def _sparse(name: str, size: int) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        with path.open("wb") as handle:
            handle.truncate(size)
        return path
    return make


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "fifo.json")
    return folder / "fifo.json"


def _socket(folder: Path) -> Path:
    path = folder / "socket.json"
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))
    return path


def _link(name: str, to: str | Callable[[Path], str]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).symlink_to(to(folder) if callable(to) else to)
        return folder / name
    return make


def _elsewhere(folder: Path) -> str:
    other = folder.parent / "elsewhere"
    other.mkdir(exist_ok=True)
    (other / "notes.txt").write_text("not a report, written somewhere else\n")
    return str(other / "notes.txt")


def _loop(folder: Path) -> str:
    (folder / "loop-b.json").symlink_to(folder / "loop-a.json")
    return str(folder / "loop-b.json")


def _directory(folder: Path) -> Path:
    (folder / "directory.json").mkdir()
    return folder / "directory.json"


FILE_CASES = [
    Case("dev-zero", "is a character device, not a regular file", lambda _: Path("/dev/zero")),
    Case("fifo", "is a FIFO (named pipe), not a regular file", _fifo),
    Case("socket", "is a socket, not a regular file", _socket),
    Case("link-to-dev-zero", "(a link to /dev/zero): is a character device", _link("zero.json", "/dev/zero")),
    Case("link-elsewhere", "notes.txt): not JSON", _link("elsewhere.json", _elsewhere)),
    Case("dangling-link", "is a link to nothing", _link("dangling.json", "no-such-file")),
    Case("link-loop", "loop of symbolic links", _link("loop-a.json", _loop)),
    Case("directory", "is a directory, not a regular file", _directory),
    Case("missing", "does not exist", lambda folder: folder / "missing.json"),
]


@pytest.fixture(scope="module")
def good_report(tmp_path_factory: pytest.TempPathFactory, reference_tree: Any) -> dict[str, Any]:
    """A real run's report (two failures, certificates, evidence), with every optional field filled in."""
    folder = tmp_path_factory.mktemp("good")
    run = subprocess.run([sys.executable, "-m", "kubecert", "check", "-q", "--profile", "kubeadm", "--json", "a.json",
                          "--target", f"pki:{reference_tree.root / 'pki'}"], cwd=folder, capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == 1, run.stdout + run.stderr
    report = json.loads((folder / "a.json").read_text())
    report["notes"] = ["a note"]
    report["evaluated_as_of"] = report["finished_at"]
    report["baseline"] = {"path": "b.json", "entries": 1, "accepted": 0, "new": 1, "unpinned": 1,
                          "stale": [{"rule": "KC-VAL-02", "target": "t", "offender": "ca", "why": "gone"}]}
    report["results"][0]["accepted"] = False
    report["targets"][0]["certificates"][0]["machine"] = "m-1"
    report["results"].sort(key=lambda r: (not r["evidence"], r["status"] != "failed"))  # evidence first
    return validated(report)


GOOD_BASELINE = {"schema": "kubecert.baseline/v2", "written_from": "a.json", "accepted": [
    {"rule": "KC-VAL-02", "target": "/srv/pki", "offender": "ca", "observed": ["fingerprint_sha256=ab"],
     "reason": "ticket 42", "expires": "2031-01-31"}]}


def report_cases(report: dict[str, Any]) -> list[Case]:
    first_failed = next(n for n, r in enumerate(report["results"]) if r["evidence"])
    brief = [  # the findings of issue 20, each by name
        _json_case("rule-is-a-list", "results[0].rule: expected text", _set(report, ["results", 0, "rule"], ["x"])),
        _json_case("rule-not-an-id", 'results[0].rule: "]]>" is not of the form ^KC-',
                   _set(report, ["results", 0, "rule"], "]]>")),
        _json_case("status-bogus", 'results[0].status: "bogus" is not one of',
                   _set(report, ["results", 0, "status"], "bogus")),
        _json_case("message-null", "results[0].message: expected text, got null",
                   _set(report, ["results", 0, "message"], None)),
        _json_case("evidence-of-numbers", "results[0].evidence[0]: expected an object, got 1",
                   _set(report, ["results", 0, "evidence"], [1, 2])),
        _json_case("complete-no", 'complete: expected true or false, got "no"', _set(report, ["complete"], "no")),
        _json_case("notes-a-string", 'notes: expected a list, got "abc"', _set(report, ["notes"], "abc")),
        _json_case("evidence-status-bogus", f"results[{first_failed}].evidence[0].status: ",
                   _set(report, ["results", first_failed, "evidence", 0, "status"], "bogus")),
        _json_case("not-a-date", 'started_at: "yesterday" is not a date',
                   _set(report, ["started_at"], "yesterday")),
        _json_case("date-out-of-calendar", "targets[0].certificates[0].not_after: ",
                   _set(report, ["targets", 0, "certificates", 0, "not_after"], "2027-02-30T00:00:00Z")),
        _json_case("date-with-offset", "finished_at: ", _set(report, ["finished_at"], "2027-01-31T12:00:00+01:00")),
        _json_case("year-0", "observed_at: ", _set(report, ["observed_at"], "0000-01-01T00:00:00Z")),
        _json_case("horizon-of-a-billion-days", "profile.parameters.min_remaining_days: must be a whole number",
                   _set(report, ["profile", "parameters", "min_remaining_days"], 10**9)),
        _json_case("horizon-as-text", "targets[0].profile.parameters.min_remaining_days: must be a whole number",
                   _set(report, ["targets", 0, "profile", "parameters", "min_remaining_days"], "30")),
        _json_case("schema-v2", 'schema: "kubecert.report/v2" is a later major version',
                   _set(report, ["schema"], "kubecert.report/v2")),
    ]
    generated = list(schema_cases("report", report, shipped()))
    raw = byte_cases("report", report, ["summary", "passed"], ["results", 0, "message"],
                     ["results", first_failed, "evidence", 0, "kubecert_facts"], MAX_REPORT_BYTES)
    return brief + generated + raw + FILE_CASES


def baseline_cases() -> list[Case]:
    numbered = {**GOOD_BASELINE, "accepted": [{**GOOD_BASELINE["accepted"][0], "observed": ["KUBECERT-NUMBER"]}]}
    brief = [
        _json_case("baseline-expires-not-a-date", 'accepted[0].expires: "soon" is not a date',
                   _set(GOOD_BASELINE, ["accepted", 0, "expires"], "soon")),
        _json_case("baseline-expires-13th-month", "accepted[0].expires: ",
                   _set(GOOD_BASELINE, ["accepted", 0, "expires"], "2027-13-01")),
        _json_case("baseline-is-a-report", 'schema: "kubecert.report/v1" is not a version of kubecert.baseline',
                   _set(GOOD_BASELINE, ["schema"], "kubecert.report/v1")),
    ]
    generated = list(schema_cases("baseline", GOOD_BASELINE, DOCUMENT_SCHEMA))
    raw = byte_cases("baseline", numbered, ["accepted", 0, "observed", 0], ["accepted", 0, "reason"],
                     ["accepted", 0, "observed"], MAX_BASELINE_BYTES)
    return brief + generated + raw + FILE_CASES


def made(cases: list[Case], folder: Path) -> dict[str, tuple[Case, Path]]:
    folder.mkdir(exist_ok=True)
    found: dict[str, tuple[Case, Path]] = {}
    for case in cases:
        assert case.name not in found, f"two cases named {case.name}"
        found[case.name] = (case, case.make(folder))
    return found


def refusal_problems(case: Case, path: Path, run: dict[str, Any], cwd: Path) -> list[str]:
    """What is wrong with how ``run`` refused ``case``'s file: nothing, when it is refused as it must be."""
    shown = str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)
    err = run["stderr"]
    problems = []
    if run["raised"] or "Traceback" in err:
        problems.append(f"traceback: {run['raised'] or err}")
    if run["code"] != 3:
        problems.append(f"exit {run['code']}, not 3")
    if shown not in err:
        problems.append(f"the file {shown} is not named")
    if case.says not in err:
        problems.append(f"does not say {case.says!r}")
    if _CONTROL.search(err):
        problems.append("a raw control character on the terminal")
    seen = audit.Seen.from_json(json.dumps(run["events"]))
    written = own_writes(seen)
    if written or seen.processes:
        problems.append(f"wrote {written} / started {seen.processes}")
    return [f"{case.name}: {p} (stderr: {err.strip()[:300]!r})" for p in problems]


def own_writes(seen: audit.Seen) -> list[str]:
    """What a run wrote, but the anonymous files in which pytest (under check) buffers what it captures."""
    return [w for w in seen.writes if w != TEMP and os.path.dirname(w) != TEMP]


def test_the_corpora_are_large_and_their_schema_cases_are_invalid_to_a_real_validator(
    good_report: dict[str, Any]
) -> None:
    """Our own validator must not be the only judge: every case the schema speaks of is invalid to jsonschema."""
    reports, baselines = report_cases(good_report), baseline_cases()
    assert len(reports) >= 150 and len(baselines) >= 50
    for cases, schema in ((reports, shipped()), (baselines, DOCUMENT_SCHEMA)):
        for case in cases:
            if case.name.endswith(("-wrong-type", "-missing", "-unknown", "-bogus")):
                with pytest.raises(jsonschema.ValidationError):
                    jsonschema.validate(case.document, schema)


def test_every_hostile_report_is_refused_by_merge_and_baseline_write_and_nothing_is_written(
    tmp_path: Path, good_report: dict[str, Any]
) -> None:
    (tmp_path / "good.json").write_text(json.dumps(good_report))
    cases = made(report_cases(good_report), tmp_path / "cases")
    names = ["kubecert.json", "kubecert.html", "kubecert-junit.xml", "kubecert-oscal.json", "kubecert.prom"]
    before = previous_set(tmp_path / "previous", names)
    (tmp_path / "baseline.json").write_text(PREVIOUS)
    plan = []
    for _, path in cases.values():
        plan.append({"argv": ["report", "merge", "good.json", str(path), "--output-dir", "previous"],
                     "cwd": str(tmp_path)})
        plan.append({"argv": ["baseline", "write", "baseline.json", "--report", str(path)], "cwd": str(tmp_path)})
    runs = audited_batch.run(plan, tmp_path)
    problems = []
    for (case, path), merged, written in zip(cases.values(), runs[::2], runs[1::2], strict=True):
        problems += refusal_problems(case, path, merged, tmp_path)
        problems += refusal_problems(case, path, written, tmp_path)
    assert problems == [], "\n".join(problems)
    assert contents(tmp_path / "previous") == before
    assert (tmp_path / "baseline.json").read_text() == PREVIOUS


def test_every_hostile_baseline_is_refused_by_check_before_any_report_is_touched(
    tmp_path: Path, good_report: dict[str, Any], reference_tree: Any
) -> None:
    cases = made(baseline_cases(), tmp_path / "cases")
    # a report is no baseline either: the report corpus's files past their JSON checks are refused at "schema"
    reports = made([c for c in report_cases(good_report) if c not in FILE_CASES], tmp_path / "reports")
    before = previous_set(tmp_path / "previous", ["kubecert.json", "kubecert.html"])
    target = f"pki:{reference_tree.root / 'pki'}"
    everything = [*cases.values(), *((Case(c.name, _as_baseline(c), c.make), p) for c, p in reports.values())]
    plan = [{"argv": ["check", "--target", target, "--baseline", str(path), "-q", "--output-dir", "previous"],
             "cwd": str(tmp_path)} for _, path in everything]
    runs = audited_batch.run(plan, tmp_path)
    problems = []
    for (case, path), run in zip(everything, runs, strict=True):
        problems += refusal_problems(case, path, run, tmp_path)
    assert problems == [], "\n".join(problems)
    assert len(everything) >= 200
    assert contents(tmp_path / "previous") == before


def _as_baseline(case: Case) -> str:
    """What refusing a report's case as a baseline says: the same below the schema (the baseline's own size
    bound), else that its ``schema`` is not a baseline's."""
    if "-byte bound" in case.says or "100-MB" in case.name:
        return f"over the {MAX_BASELINE_BYTES}-byte bound"
    below_schema = ("empty", "byte order mark", "not UTF-8", "not JSON", "Extra data", "not a JSON number",
                    "beyond what", "a number of", "nested deeper", "appears twice", "Invalid control", "bytes, over",
                    "not a JSON object")
    return case.says if any(word in case.says for word in below_schema) else f"not a {BASELINE.current} file"


@pytest.mark.parametrize("command", ["merge", "baseline-write", "check"])
def test_a_hostile_file_is_refused_in_a_process_of_its_own_too(tmp_path: Path, good_report: dict[str, Any],
                                                               reference_tree: Any, command: str) -> None:
    """The batch runs every case in one process; one case per command as the user runs it, from its first line."""
    (tmp_path / "good.json").write_text(json.dumps(good_report))
    path = _fifo(tmp_path)
    argv = {"merge": ["report", "merge", "good.json", str(path), "--output-dir", "out"],
            "baseline-write": ["baseline", "write", "b.json", "--report", str(path)],
            # the default target, the reference platform, writes a folder of its own once opened: it must not be
            "check": ["check", "--baseline", str(path), "--output-dir", "out"]}[command]
    run, seen = audit.run_audited(argv, cwd=tmp_path, timeout=120)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "is a FIFO (named pipe), not a regular file" in run.stderr and "Traceback" not in run.stderr
    assert own_writes(seen) == [] and seen.processes == []
    assert not (tmp_path / "out").exists() and not (tmp_path / "b.json").exists()
