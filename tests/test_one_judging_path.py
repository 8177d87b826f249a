"""One judging path: layers pass data, not strings to be parsed back. Skips say why as data (the kind of
reason, the options that would let the check run), and nothing in the plugin reads a rule, a target or an
option back out of a message or a pytest report's text."""

from __future__ import annotations

import re
from pathlib import Path

import kubecert

PLUGIN = Path(kubecert.__file__).resolve().parent / "pytest_plugin"
# How the glue looked: a prefix put on skip reasons and read back, an option read out of a message's prose.
# (The node-id patterns CATALOG_ITEM and FLEET_ITEM are not gone yet: the reporter still finds a missing result's
# rule and target by them.)
PARSED_BACK = (re.compile(r"not applicable: "), re.compile(r"\(\?:give\|pass\)"), re.compile(r"_OPTION_HINT"),
               re.compile(r"NOT_APPLICABLE_PREFIX"))


def test_the_plugin_parses_no_message_back() -> None:
    found = [f"{path.name}: {pattern.pattern}" for path in sorted(PLUGIN.glob("*.py"))
             for pattern in PARSED_BACK if pattern.search(path.read_text())]
    assert found == []
