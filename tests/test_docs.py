"""The docs say what the code does: the README's rule table, quick start and CI command."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from kubecert.rules import all_rules
from kubecert.rules.commands import rules_markdown

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _regen_docs() -> ModuleType:
    """tools/regen_docs.py, what `make regen` runs."""
    spec = importlib.util.spec_from_file_location("regen_docs", ROOT / "tools" / "regen_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_rule_table_is_the_catalog() -> None:
    regen = _regen_docs()
    table = README.split(regen.START, 1)[1].split(regen.END, 1)[0].strip()
    assert table == rules_markdown(all_rules()), "README.md's rule table is not the catalog: run make regen"
    assert regen.readme_with_rule_table(README, rules_markdown(all_rules())) == README, "run make regen"


def test_regen_puts_the_table_between_the_markers_and_refuses_a_readme_without_them() -> None:
    regen = _regen_docs()
    readme = f"# title\n\n{regen.START}| old |\n{regen.END}\n\n## next\n"
    expected = f"# title\n\n{regen.START}| new |\n{regen.END}\n\n## next\n"
    assert regen.readme_with_rule_table(readme, "| new |") == expected
    for broken in ("# no markers\n", f"{regen.END}\n{regen.START}", readme + regen.START):
        with pytest.raises(regen.MarkersMissing, match=r"README\.md needs one <!-- rules:start --> line"):
            regen.readme_with_rule_table(broken, "| new |")


def test_make_regen_runs_the_regeneration() -> None:
    dry_run = subprocess.run(["make", "-n", "regen", "BIN=.venv/bin"], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=60).stdout
    assert "tools/regen_docs.py" in dry_run


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
