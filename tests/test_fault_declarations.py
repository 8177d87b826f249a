"""A fault's declaration is the one place that says what it does to the rules: what it leaves unjudged is
derived from what it takes away, against the catalog, so a rule added later is covered without an edit to
the fault; and no test keeps a table of its own about faults."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubecert.capabilities import Action, Capability
from kubecert.reference import faults as faults_module
from kubecert.reference.faults import Fault, Layer, all_faults
from kubecert.reference.kube.faults import FAULTS as CLUSTER_FAULTS
from kubecert.reference.matrix import Cell, build, fault_id
from kubecert.reference.platform.faults import FAULTS as PLATFORM_FAULTS
from kubecert.rules.catalog import Rule, all_rules, get

TESTS = Path(__file__).resolve().parent
RULE_ID_PREFIX = "KC-"


def _added(like: str, rule_id: str, **changes: object) -> Rule:
    """A new rule, as a contributor would add it to the catalog: another rule's entry under a new ID."""
    return dataclasses.replace(get(like), id=rule_id, **changes)  # type: ignore[arg-type]


def test_a_rule_needing_what_a_fault_takes_away_is_unjudged_under_it_with_no_edit_to_the_fault(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cut_off, stalled, named = (CLUSTER_FAULTS["kubeconfig-other-ca"], PLATFORM_FAULTS["provisioning-stalls"],
                               PLATFORM_FAULTS["renew-waits-for-repave"])
    before = {fault.name: fault.unjudged for fault in (cut_off, stalled, named)}
    assert before["kubeconfig-other-ca"] == ("KC-CL-02", "KC-CL-03", "KC-CL-04", "KC-CL-05", "KC-CL-06")
    declarations = [dataclasses.asdict(fault) for fault in (cut_off, stalled, named)]

    new_cluster_rule = _added("KC-CL-05", "KC-CL-99")  # needs the cluster API, as KC-CL-05 does
    new_renewal_rule = _added("KC-RPV-02", "KC-RPV-99")  # acts through a renewal of the API
    planned_rule = _added("KC-CL-05", "KC-CL-98", planned=True)  # not implemented: judged by nothing
    unrelated_rule = _added("KC-API-02", "KC-API-99")  # reads the listing only
    catalog = [*all_rules(), new_cluster_rule, new_renewal_rule, planned_rule, unrelated_rule]
    monkeypatch.setattr(faults_module, "all_rules", lambda: catalog,
                        raising=False)  # where nothing derives, the claim below fails, not this line

    assert cut_off.unjudged == (*before["kubeconfig-other-ca"], "KC-CL-99")
    assert stalled.unjudged == (*before["provisioning-stalls"], "KC-RPV-99")
    assert named.unjudged == before["renew-waits-for-repave"]  # named one by one: it does not grow
    assert [dataclasses.asdict(fault) for fault in (cut_off, stalled, named)] == declarations

    # The matrix and the tests' judging read the same derived set.
    matrix = build(catalog, all_faults())
    assert [fault_id(f) for f in matrix.faults_with("KC-CL-99", Cell.UNJUDGED)] == ["cluster:kubeconfig-other-ca"]
    assert [fault_id(f) for f in matrix.faults_with("KC-RPV-99", Cell.UNJUDGED)] == ["platform:provisioning-stalls"]
    assert matrix.faults_with("KC-API-99", Cell.UNJUDGED) == []
    assert cut_off.disagreements({"KC-CL-01": "failed", "KC-CL-99": "error"}) == []
    assert cut_off.disagreements({"KC-CL-01": "failed", "KC-CL-99": "passed"}) == [
        "KC-CL-99 passed, which the fault declares unjudged"]


def test_what_a_fault_takes_away_it_fails_may_fail_or_keeps_is_not_unjudged() -> None:
    rules = [_added("KC-CL-01", "KC-X-01"), _added("KC-CL-01", "KC-X-02"), _added("KC-CL-01", "KC-X-03"),
             _added("KC-CL-01", "KC-X-04"), _added("KC-HA-01", "KC-X-05")]
    fault = Fault(name="f", layer=Layer.CLUSTER, fails=("KC-X-01",), description="d", may_also_fail=("KC-X-02",),
                  takes_away=frozenset({Capability.CLUSTER_API}), keeps=("KC-X-03",),
                  unjudged_named=("KC-X-05", "KC-X-99"), note="why")
    assert fault.unjudged_in(rules) == ("KC-X-04", "KC-X-05", "KC-X-99")  # a name the catalog lacks stays seen


@pytest.mark.parametrize(("declaration", "words"), [
    ({"takes_away": frozenset({"cluster-api"})}, "takes away 'cluster-api', which is no capability or action"),
    ({"takes_away": frozenset({Action.API_RENEWAL}), "keeps": ("KC-RPV-01",)}, "without a note saying why"),
    ({"unjudged_named": ("KC-RPV-07",)}, "without a note saying why"),
])
def test_a_fault_takes_away_only_what_the_catalog_knows_and_says_why_it_names_rules(
        declaration: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Fault(name="f", layer=Layer.PLATFORM, fails=("KC-RPV-08",), description="d", **declaration)  # type: ignore[arg-type]


# --- no test keeps a table about faults


def _fault_tables(source: str, fault_names: frozenset[str]) -> Iterator[tuple[int, str]]:
    """Literals in a test module that hold what faults declare: a dict keyed by fault names, a row pairing a fault
    with a rule, or a module-level collection of faults (a property of those faults kept outside them)."""
    tree = ast.parse(source)

    def strings(node: ast.AST) -> list[str]:
        return [item.value for item in ast.walk(node) if isinstance(item, ast.Constant) and isinstance(item.value, str)]

    for node in ast.walk(tree):
        if isinstance(node, ast.Dict) and any(
                isinstance(key, ast.Constant) and key.value in fault_names for key in node.keys):
            yield node.lineno, "a dict keyed by fault names"
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            direct = [item.value for item in node.elts if isinstance(item, ast.Constant)]
            if any(name in fault_names for name in direct) and any(
                    isinstance(text, str) and text.startswith(RULE_ID_PREFIX) for text in strings(node)):
                yield node.lineno, "a row pairing a fault with a rule"
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            found = [text for text in strings(statement.value) if text in fault_names]
            if len(found) > 1:
                yield statement.lineno, f"a module-level collection of faults ({', '.join(found)})"


def _fault_names() -> frozenset[str]:
    return frozenset(fault.name for fault in all_faults())


def test_no_test_keeps_a_table_of_faults_beside_their_declarations() -> None:
    names = _fault_names()
    found = [f"{path.relative_to(TESTS)}:{line}: {what}" for path in sorted(TESTS.rglob("*.py"))
             for line, what in _fault_tables(path.read_text(encoding="utf-8"), names)]
    assert found == [], "say it in the fault's declaration instead:\n" + "\n".join(found)


def test_the_table_guard_sees_the_tables_that_were_moved_into_the_declarations() -> None:
    """The shapes the declarations replaced: IN_PLACE (platform faults checked in place too), a parametrized
    table of cluster faults with their rules and offenders, and the tree faults' CHECKS."""
    platform = sorted(name for name, fault in PLATFORM_FAULTS.items() if fault.also_in_place)
    cluster = next(name for name in CLUSTER_FAULTS)
    tree = next(fault.name for fault in all_faults() if fault.layer is Layer.TREE)
    moved = (f"IN_PLACE = {tuple(platform)!r}\n"
             f"@pytest.mark.parametrize(('fault', 'rule'), [({cluster!r}, 'KC-CL-06')])\n"
             "def test_it(fault, rule): pass\n"
             f"CHECKS = {{{tree!r}: ('KC-VAL-01', 'pki/apiserver.crt')}}\n")
    assert sorted(_fault_tables(moved, _fault_names())) == [
        (1, f"a module-level collection of faults ({', '.join(platform)})"), (2, "a row pairing a fault with a rule"),
        (4, "a dict keyed by fault names")]
    assert list(_fault_tables(f"for name in {tuple(platform)!r}:\n    run(name)\n", _fault_names())) == []
