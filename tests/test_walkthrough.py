"""The README's first-run walkthrough, run as written: each command of its block exits 0. The commands are
read from the README, so the documentation and this test cannot drift apart."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from support import validate_every_report

ROOT = Path(__file__).resolve().parent.parent


def walkthrough() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    body = block.split("```sh\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in body.splitlines() if line.strip() and not line.startswith("#")]


def test_the_walkthrough_has_the_commands_a_first_run_needs() -> None:
    verbs = [" ".join(words[:3]) for words in walkthrough()]
    assert verbs[0] == "kubecert reference pki" and "kubecert check --target" in verbs
    assert all(words[0] == "kubecert" for words in walkthrough())


def test_the_readme_walkthrough_passes_as_written(tmp_path: Path) -> None:
    for words in walkthrough():
        run = subprocess.run([sys.executable, "-m", "kubecert", *words[1:]], cwd=tmp_path, capture_output=True,
                             text=True, timeout=300, check=False, env={**os.environ, "NO_COLOR": "1"})
        assert run.returncode == 0, f"{shlex.join(words)} exited {run.returncode}:\n{run.stdout}{run.stderr}"
    assert (tmp_path / "demo-reports" / "kubecert.html").is_file()
    assert validate_every_report(tmp_path) == 1
