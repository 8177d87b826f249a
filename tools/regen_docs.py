"""`make regen`: rewrite the two generated docs from the data, README.md's rule table (what `kubecert rules
--markdown` prints, between the rules markers) and docs/detection-matrix.md (what `python -m
kubecert.reference.matrix` prints). tests/test_docs.py and tests/test_detection_matrix.py fail until they are
current, saying `run make regen`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kubecert.reference.matrix import build, render_markdown
from kubecert.rules import all_rules
from kubecert.rules.commands import rules_markdown

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MATRIX = ROOT / "docs" / "detection-matrix.md"
START, END = "<!-- rules:start -->\n", "<!-- rules:end -->"


class MarkersMissing(ValueError):
    pass


def readme_with_rule_table(readme: str, table: str) -> str:
    """``readme`` with ``table`` between its rules markers, each once, in that order."""
    if readme.count(START) != 1 or readme.count(END) != 1 or readme.index(START) > readme.index(END):
        raise MarkersMissing(f"README.md needs one {START.strip()} line before one {END} line")
    head, rest = readme.split(START, 1)
    return f"{head}{START}{table}\n{END}{rest.split(END, 1)[1]}"


def _replace(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` whole or not at all; whether it changed."""
    if path.read_text(encoding="utf-8") == text:
        return False
    staged = path.with_name(f".{path.name}.regen")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)
    return True


def main() -> int:
    readme = readme_with_rule_table(README.read_text(encoding="utf-8"), rules_markdown(all_rules()))
    generated = {README: readme, MATRIX: render_markdown(build())}  # both made before either is written
    for path, text in generated.items():
        print(f"{path.relative_to(ROOT)}: {'rewritten' if _replace(path, text) else 'current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
