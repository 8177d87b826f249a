"""The rule × fault matrix: every implemented rule is failed by a fault, every fault names only rules that
exist and are implemented, every fault is run by its layer's tests, and the published page is the data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubecert.reference import matrix
from kubecert.reference.faults import Fault, Layer, all_faults
from kubecert.reference.matrix import Cell, build, fault_id, render_markdown
from kubecert.rules import all_rules
from kubecert.rules.catalog import Rule

from support import FAULT_RUNS, REQUIREMENTS, faults_of

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "detection-matrix.md"


def test_published_matrix_is_generated_from_the_data() -> None:
    assert PAGE.read_text() == render_markdown(build()), "docs/detection-matrix.md is not current: run make regen"


def test_the_page_says_it_is_generated_and_how_to_regenerate_it(capsys: pytest.CaptureFixture[str]) -> None:
    head = PAGE.read_text().splitlines()[:5]
    assert matrix.REGENERATE == "make regen"
    assert any("do not edit" in line and matrix.REGENERATE in line for line in head), head
    matrix.main()  # what the regeneration command runs
    assert capsys.readouterr().out == PAGE.read_text()


def test_every_implemented_rule_is_failed_by_a_fault_of_the_reference() -> None:
    table = build()
    assert [r.id for r in table.rules] == [r.id for r in all_rules() if r.implemented]
    missing = [rule.id for rule in table.rules if not table.faults_with(rule.id, Cell.FAILS)]
    assert missing == [], f"{missing}: give each a named fault of the reference that fails it"


def test_faults_name_only_implemented_rules() -> None:
    implemented = {r.id for r in all_rules() if r.implemented}
    stray = {
        f"{fault_id(fault)} {what} {rule}"
        for fault in all_faults()
        for what, rules in (("fails", fault.fails), ("may also fail", fault.may_also_fail),
                            ("leaves unjudged", fault.unjudged))
        for rule in rules if rule not in implemented
    }
    assert stray == set(), "a fault names a rule that is not an implemented rule of the catalog"


def test_each_fault_names_a_rule_once_and_faults_are_unique_within_their_layer() -> None:
    for fault in all_faults():
        named = [*fault.fails, *fault.may_also_fail, *fault.unjudged]
        assert len(named) == len(set(named)), (fault_id(fault), named)
        assert fault.fails, fault_id(fault)
    ids = [fault_id(fault) for fault in all_faults()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_fault_is_run_by_the_tests_of_its_layer() -> None:
    """Each layer's tests parametrize over faults_of(layer); a layer without a run, a fault outside the
    layers, or a requirement no run knows how to meet would leave a registered fault never run."""
    assert set(FAULT_RUNS) == set(Layer)
    run = {fault_id(fault) for layer in FAULT_RUNS for fault in faults_of(layer, Fault).values()}
    assert run == {fault_id(fault) for fault in all_faults()}
    for fault in all_faults():
        assert fault.requires <= REQUIREMENTS.keys(), (fault_id(fault), fault.requires)
    for layer, module in FAULT_RUNS.items():
        source = (ROOT / module).read_text()
        assert re.search(rf"\bfaults_of\(Layer\.{layer.name}\b", source), f"{module} does not run faults_of({layer})"


# --- the matrix itself, on made-up rules and faults


def _rule(rule_id: str, *, implemented: bool = True, title: str = "a title") -> Rule:
    return Rule(id=rule_id, family="x", title=title, statement="s", sources=("PAL",), citation="c", parameters=(),
                capabilities=(), disruptive=False, note="", planned=not implemented)


def test_cells_say_fails_before_may_fail_before_unjudged_and_rows_are_implemented_rules() -> None:
    rules = [_rule("KC-A-01"), _rule("KC-A-02"), _rule("KC-A-03", implemented=False)]
    faults = [
        Fault(name="f", layer=Layer.TREE, fails=("KC-A-01",), description="d",
              may_also_fail=("KC-A-01", "KC-A-02")),
        Fault(name="f", layer=Layer.PLATFORM, fails=("KC-A-02",), description="d", unjudged_named=("KC-A-01",),
              note="n"),
        Fault(name="g", layer=Layer.RENEWER, fails=("KC-A-03",), description="d"),
    ]
    table = build(rules, faults)
    assert [r.id for r in table.rules] == ["KC-A-01", "KC-A-02"]
    assert table.cells == {
        ("KC-A-01", "tree:f"): Cell.FAILS, ("KC-A-02", "tree:f"): Cell.MAY_FAIL,
        ("KC-A-02", "platform:f"): Cell.FAILS, ("KC-A-01", "platform:f"): Cell.UNJUDGED,
        ("KC-A-03", "renewer:g"): Cell.FAILS,  # kept, so that a fault naming a rule no row has is seen
    }
    assert [fault_id(f) for f in table.faults_with("KC-A-02", Cell.FAILS)] == ["platform:f"]
    assert table.cell("KC-A-02", faults[2]) is None
    assert (table.count(Cell.FAILS), table.count(Cell.MAY_FAIL), table.count(Cell.UNJUDGED)) == (3, 1, 1)


def test_the_page_has_a_row_per_rule_and_per_fault_and_escapes_table_syntax() -> None:
    rules = [_rule("KC-A-01", title="keys | certificates"), _rule("KC-A-02")]
    faults = [Fault(name="f", layer=Layer.TREE, fails=("KC-A-01",), description="breaks a | b"),
              Fault(name="g", layer=Layer.PLATFORM, fails=("KC-A-02",), description="d", unjudged_named=("KC-A-01",),
                    note="n")]
    page = render_markdown(build(rules, faults))
    assert ("2 implemented rules × 2 faults (1 tree, 1 platform): 4 cells, of which 2 say *fails*, 0 *may fail* "
            "and 1 *unjudged*") in page
    assert "| KC-A-01 | keys \\| certificates | `tree:f` |  | `platform:g` |" in page
    assert "| KC-A-02 | a title | `platform:g` |  |  |" in page
    assert "| `f` | breaks a \\| b | KC-A-01 |  |  |" in page
    assert "| `g` | d | KC-A-02 |  | KC-A-01 |" in page
    assert "### renewer" not in page  # a layer without faults has no table


def test_a_fault_disagrees_with_verdicts_that_break_its_declaration() -> None:
    fault = Fault(name="f", layer=Layer.TREE, fails=("KC-A-01", "KC-A-02"), description="d",
                  may_also_fail=("KC-A-03",), unjudged_named=("KC-A-04",), note="n")
    held = {"KC-A-01": "failed", "KC-A-02": "failed", "KC-A-03": "error", "KC-A-04": "error", "KC-A-05": "passed",
            "KC-A-06": "not_applicable"}
    assert fault.disagreements(held) == []
    assert fault.disagreements({**held, "KC-A-03": "failed", "KC-A-04": "not_applicable"}) == []
    assert fault.disagreements({**held, "KC-A-03": "passed"}) == []  # may, and need not
    broken = {**held, "KC-A-02": "passed", "KC-A-04": "passed", "KC-A-05": "failed", "KC-A-06": "skipped"}
    del broken["KC-A-01"]
    assert fault.disagreements(broken) == [
        "KC-A-01 did not fail (no verdict)", "KC-A-02 did not fail (passed)",
        "KC-A-05 failed, which the fault does not declare",
        "KC-A-06 was not judged (skipped), which the fault does not declare",
        "KC-A-04 passed, which the fault declares unjudged",
    ]
    assert fault.disagreements({**held, "KC-A-04": "failed"}) == ["KC-A-04 failed, which the fault does not declare"]
