"""``python audited_batch.py PLAN RESULTS``: run many ``kubecert`` command lines in this one process, each with
the audit guard open around it (tests/audit.py), and write what each did to RESULTS.

PLAN is a JSON list of ``{"argv": [...], "cwd": "..."}``; RESULTS gets, for each, its exit code, what it
printed, what the guard saw and, when ``kubecert.cli.main`` raised instead of returning, the traceback. A
hostile corpus of hundreds of files runs here in seconds where a process per file would take minutes; the
caller runs this under a timeout, so a command that hangs fails the test instead of stalling it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import audit  # the folder of this file first, so the guard is the tests' own


def run_one(argv: list[str], cwd: str) -> dict[str, Any]:
    from kubecert.cli import main as kubecert

    out, err = io.StringIO(), io.StringIO()
    raised = None
    code: int | str | None = None
    before = os.getcwd()
    os.chdir(cwd)
    try:
        with audit.guard() as seen, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = kubecert(argv)
            except SystemExit as exc:
                code = exc.code
            except BaseException:
                raised = traceback.format_exc()
    finally:
        os.chdir(before)
    return {"argv": argv, "code": code if isinstance(code, int) else (0 if code is None else 1),
            "stdout": out.getvalue(), "stderr": err.getvalue(), "raised": raised,
            "events": json.loads(seen.to_json())}


def run(plan: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """What each command line of ``plan`` did, run here in a child process (the timeout guards against a hang)."""
    (folder / "plan.json").write_text(json.dumps(plan))
    subprocess.run([sys.executable, __file__, str(folder / "plan.json"), str(folder / "results.json")], check=True,
                   timeout=600, capture_output=True)
    return list(json.loads((folder / "results.json").read_text()))


def main() -> int:
    plan, results = Path(sys.argv[1]), Path(sys.argv[2])
    done = [run_one(case["argv"], case["cwd"]) for case in json.loads(plan.read_text())]
    results.write_text(json.dumps(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
