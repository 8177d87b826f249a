"""The docs say what the code does: the README's rule table, quick start and CI command."""

from __future__ import annotations

import re
from pathlib import Path

from kubecert.cli import rules_markdown
from kubecert.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_rule_table_is_the_catalog() -> None:
    table = README.split("<!-- rules:start -->\n", 1)[1].split("<!-- rules:end -->", 1)[0].strip()
    assert table == rules_markdown(all_rules()), "regenerate it: kubecert rules --markdown"


def test_quick_start_has_exactly_the_two_commands_ci_runs() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make check", "make test"]
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_test_modules_have_unique_basenames() -> None:
    # pytest's default import mode needs unique basenames across test folders without __init__.py.
    names = [path.name for path in (ROOT / "tests").rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
