"""One judging path: layers pass data, not strings to be parsed back. Skips say why as data (the kind of
reason, the options that would let the check run), and nothing in the plugin reads a rule, a target or an
option back out of a message or a pytest report's text."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import kubecert
from kubecert.reports.results import Result

from support import LOSE_KC_VAL_02, by_rule, run_suite, statuses

PLUGIN = Path(kubecert.__file__).resolve().parent / "pytest_plugin"
# How the glue looked: a prefix put on skip reasons and read back, an option read out of a message's prose.
PARSED_BACK = (re.compile(r"not applicable: "), re.compile(r"\(\?:give\|pass\)"), re.compile(r"_OPTION_HINT"),
               re.compile(r"NOT_APPLICABLE_PREFIX"))


def test_the_plugin_parses_no_message_back() -> None:
    found = [f"{path.name}: {pattern.pattern}" for path in sorted(PLUGIN.glob("*.py"))
             for pattern in PARSED_BACK if pattern.search(path.read_text())]
    assert found == []


# How a node id was read: patterns over it (the rule and target cut out of ``KC-VAL-01[pki:/x]``).
NODE_ID_PATTERNS = (re.compile(r"^import re$|^from re import", re.MULTILINE), re.compile(r"CATALOG_ITEM|FLEET_ITEM"))


def test_the_plugin_reads_no_node_id_with_a_pattern() -> None:
    """Rule and target travel on the item and its reports as data: no regular expression in the plugin at all."""
    found = [f"{path.name}: {pattern.pattern}" for path in sorted(PLUGIN.glob("*.py"))
             for pattern in NODE_ID_PATTERNS if pattern.search(path.read_text())]
    assert found == []


# Beside the loss, a spy on the decoder of results in the controller, which writes what it decoded at the end.
LOSE_ONE = LOSE_KC_VAL_02 + """
import json, os

from kubecert.reports.results import Result

decoded = []
decode = Result.from_json


def spy(data):
    decoded.append(data["rule"])
    return decode(data)


Result.from_json = spy


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):
        with open(os.environ["DECODED_LOG"], "w") as log:
            json.dump(decoded, log)
"""


def decoded_results(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A spy on the one decoder of results: the rule of every result made an object again from its JSON."""
    decoded: list[str] = []
    decode = Result.from_json

    def spy(data: dict[str, Any]) -> Result:
        decoded.append(str(data["rule"]))
        return decode(data)

    monkeypatch.setattr(Result, "from_json", spy)
    return decoded


def test_without_xdist_results_stay_objects(pytester: pytest.Pytester, reference_tree: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    decoded = decoded_results(monkeypatch)
    _, report = run_suite(pytester, "--kubecert-target", f"pki:{reference_tree.root / 'pki'}",
                          "--kubecert-profile", "palette", "--kubecert-rule", "KC-VAL-*")
    assert set(statuses(report).values()) == {"passed"} and len(report["results"]) == 4
    assert decoded == []


def test_under_xdist_a_check_that_ends_without_a_result_is_found_by_name(
    pytester: pytest.Pytester, reference_tree: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The controller sees node ids only: a lost result is still an error of its own rule and target, a target
    whose path holds ``::`` and ``@`` included; and only there are results decoded from text."""
    folder = pytester.path / "a::b@c"
    shutil.copytree(reference_tree.root / "pki", folder / "pki", symlinks=True)
    pytester.makepyfile(lose_one=LOSE_ONE)
    log = pytester.path / "decoded.json"
    monkeypatch.setenv("DECODED_LOG", str(log))
    target = f"pki:{folder / 'pki'}"
    result, report = run_suite(pytester, "-p", "lose_one", "-p", "xdist", "-n", "1", "--kubecert-target", target,
                               "--kubecert-profile", "palette", "--kubecert-rule", "KC-VAL-*", subprocess=True)
    found = by_rule(report)
    assert set(found) == {"KC-VAL-01", "KC-VAL-02", "KC-VAL-03", "KC-VAL-04"}, result.stdout.str()
    assert found["KC-VAL-02"]["status"] == "error" and found["KC-VAL-02"]["target"] == target
    assert "ended without a result" in found["KC-VAL-02"]["message"]
    assert found["KC-VAL-02"]["nodeid"].endswith(f"::KC-VAL-02[{target}]")
    assert {found[r]["status"] for r in ("KC-VAL-01", "KC-VAL-03", "KC-VAL-04")} == {"passed"}
    assert sorted(json.loads(log.read_text())) == ["KC-VAL-01", "KC-VAL-03", "KC-VAL-04"]
