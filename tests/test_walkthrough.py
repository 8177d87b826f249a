"""The README's first-run walkthrough, run as written: each command of its block exits with the code its
comment gives (``# exits 1: ...``). The commands are read from the README, so the documentation and this test
cannot drift apart."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from support import validate_every_report

ROOT = Path(__file__).resolve().parent.parent


def walkthrough() -> list[list[str]]:
    return [words for words, _ in walkthrough_with_exits()]


def walkthrough_with_exits() -> list[tuple[list[str], int]]:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    body = block.split("```sh\n", 1)[1].split("```", 1)[0]
    steps = []
    for line in body.splitlines():
        command, _, comment = line.partition("#")
        if command.strip():
            said = re.match(r"\s*exits (\d+)", comment)
            assert said, f"the walkthrough's line {line!r} does not say its exit code (# exits N)"
            steps.append((shlex.split(command), int(said.group(1))))
    return steps


def test_the_walkthrough_has_the_commands_a_first_run_needs() -> None:
    verbs = [" ".join(words[:3]) for words in walkthrough()]
    assert verbs[0] == "kubecert reference pki" and "kubecert check --target" in verbs
    assert all(words[0] == "kubecert" for words in walkthrough())


def test_the_readme_walkthrough_passes_as_written(tmp_path: Path) -> None:
    outputs = []
    for words, expected in walkthrough_with_exits():
        run = subprocess.run([sys.executable, "-m", "kubecert", *words[1:]], cwd=tmp_path, capture_output=True,
                             text=True, timeout=300, check=False, env={**os.environ, "NO_COLOR": "1"})
        assert run.returncode == expected, f"{shlex.join(words)} exited {run.returncode}:\n{run.stdout}{run.stderr}"
        outputs.append(run.stdout)
    assert (tmp_path / "demo-reports" / "kubecert.html").is_file()
    assert validate_every_report(tmp_path) == 1
    # the baseline accepted what the first check failed: the walkthrough shows a baseline at work
    report = json.loads((tmp_path / "demo-reports" / "kubecert.json").read_text())
    accepted = [r["rule"] for r in report["results"] if r.get("accepted")]
    assert accepted == ["KC-EXP-01"], accepted
