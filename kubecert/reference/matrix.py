"""The detection matrix: which named fault of the reference makes which rule fail, from the data alone.

Rows are the catalog's implemented rules, columns every fault of every layer (``layer:name``, as fault
names are unique only within a layer); a cell says what the fault declares of the rule: it fails it, it
may fail it too (depending on how the rule is implemented), or it leaves it unjudged. The project's tests
run every fault and hold it to what it declares, so the matrix is what those tests prove.

``python -m kubecert.reference.matrix`` prints the published page; ``make regen`` rewrites it
(docs/detection-matrix.md) with the README's rule table.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kubecert.reference.faults import Fault, Layer, all_faults
from kubecert.rules.catalog import Rule, all_rules

REGENERATE = "make regen"

_LAYER_WORDS = {
    Layer.TREE: "planted in a node's files before anything is checked (kubecert/reference/pki/faults.py)",
    Layer.RENEWER: "how the renewer misbehaves while it acts: renew, generate-csr, upgrade, check-expiration "
                   "(kubecert/reference/pki/renewal_faults.py)",
    Layer.PLATFORM: "how the Palette-like platform or its API misbehaves (kubecert/reference/platform/faults.py)",
    Layer.CLUSTER: "how the reference cluster, its nodes or its Kubernetes-style API misbehave "
                   "(kubecert/reference/kube/faults.py)",
}


class Cell(enum.StrEnum):
    """What a fault declares of a rule; a pair without a cell is a rule the fault must leave passing."""

    FAILS = "fails"
    MAY_FAIL = "may fail"
    UNJUDGED = "unjudged"


def fault_id(fault: Fault) -> str:
    return f"{fault.layer}:{fault.name}"


def _declared(fault: Fault, catalog: Sequence[Rule]) -> Iterable[tuple[str, Cell]]:
    """The rules ``fault`` declares (those it leaves unjudged derived against ``catalog``), strongest claim
    first: a rule it fails is not also one it may fail."""
    yield from ((rule, Cell.FAILS) for rule in fault.fails)
    yield from ((rule, Cell.MAY_FAIL) for rule in fault.may_also_fail)
    yield from ((rule, Cell.UNJUDGED) for rule in fault.unjudged_in(catalog))


@dataclass(frozen=True)
class Matrix:
    rules: tuple[Rule, ...]  # the implemented rules, in catalog order
    faults: tuple[Fault, ...]  # every fault, in layer order
    cells: Mapping[tuple[str, str], Cell]  # (rule ID, fault ID) → what the fault declares of the rule

    def cell(self, rule: str, fault: Fault) -> Cell | None:
        return self.cells.get((rule, fault_id(fault)))

    def faults_with(self, rule: str, cell: Cell) -> list[Fault]:
        """The faults whose cell in ``rule``'s row is ``cell``, in column order."""
        return [fault for fault in self.faults if self.cell(rule, fault) is cell]

    def rules_with(self, fault: Fault, cell: Cell) -> list[str]:
        """The rules whose cell in ``fault``'s column is ``cell``, in the order the fault declares them."""
        return [rule for (rule, column), value in self.cells.items() if column == fault_id(fault) and value is cell]

    def count(self, cell: Cell) -> int:
        return sum(1 for value in self.cells.values() if value is cell)


def build(rules: Iterable[Rule] | None = None, faults: Iterable[Fault] | None = None) -> Matrix:
    """The matrix of the catalog's implemented rules against every fault of the reference.

    A cell is kept for every rule a fault names, implemented or not, so that a fault naming a rule the
    rows lack can be seen (``cells`` then has a rule no row has).
    """
    catalog = tuple(all_rules() if rules is None else rules)
    chosen_rules = tuple(r for r in catalog if r.implemented)
    chosen_faults = tuple(all_faults() if faults is None else faults)
    cells: dict[tuple[str, str], Cell] = {}
    for fault in chosen_faults:
        for rule, cell in _declared(fault, catalog):
            cells.setdefault((rule, fault_id(fault)), cell)
    return Matrix(chosen_rules, chosen_faults, cells)


def _cell_text(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _names(faults: Iterable[Fault]) -> str:
    return ", ".join(f"`{fault_id(f)}`" for f in faults)


def render_markdown(matrix: Matrix) -> str:
    """The published page: one row per rule, then one table per layer with a row per fault."""
    layers = [layer for layer in Layer if any(f.layer is layer for f in matrix.faults)]
    per_layer = ", ".join(f"{sum(1 for f in matrix.faults if f.layer is layer)} {layer}" for layer in layers)
    size = len(matrix.rules) * len(matrix.faults)
    lines = [
        "# Detection matrix",
        "",
        f"*Generated from the catalog and the reference's faults; do not edit. Regenerate: `{REGENERATE}`*",
        "",
        "Which named fault of the reference implementation makes which rule fail. Every implemented rule is",
        "failed by at least one fault, and the project's tests run every fault and check that it fails the",
        "rules it declares and no other, so each rule is shown to catch what it exists to catch.",
        "",
        f"The matrix is {len(matrix.rules)} implemented rules × {len(matrix.faults)} faults ({per_layer}): "
        f"{size} cells, of which {matrix.count(Cell.FAILS)} say *fails*, {matrix.count(Cell.MAY_FAIL)} "
        f"*may fail* and {matrix.count(Cell.UNJUDGED)} *unjudged*; every other fault must leave the rule passing.",
        "",
        "A grid that wide does not read on a page, so it is shown twice, without its empty cells:",
        "",
        "- **By rule**: one row per rule, listing the faults that fail it. A fault is named `layer:name`,",
        "  because names are unique only within a layer.",
        "- **By fault**: one table per layer, one row per fault, listing the rules it fails.",
        "",
        "*May also fail*: the rule fails too or not depending on how it is implemented (the fault's note",
        "says why). *Unjudged*: the fault leaves the rule unable to reach a verdict (an error, not a failure).",
        "",
        "## By rule",
        "",
        "| Rule | Title | Failed by | May also fail on | Unjudged under |",
        "|---|---|---|---|---|",
    ]
    for rule in matrix.rules:
        lines.append(
            f"| {rule.id} | {_cell_text(rule.title)} | {_names(matrix.faults_with(rule.id, Cell.FAILS))} | "
            f"{_names(matrix.faults_with(rule.id, Cell.MAY_FAIL))} | "
            f"{_names(matrix.faults_with(rule.id, Cell.UNJUDGED))} |"
        )
    lines += ["", "## By fault"]
    for layer in layers:
        faults = [f for f in matrix.faults if f.layer is layer]
        lines += [
            "",
            f"### {layer} ({len(faults)} faults)",
            "",
            f"Faults {_LAYER_WORDS.get(layer, 'of this layer')}.",
            "",
            "| Fault | What it does | Fails | May also fail | Unjudged |",
            "|---|---|---|---|---|",
        ]
        for fault in faults:
            lines.append(
                f"| `{fault.name}` | {_cell_text(fault.description)} | {', '.join(fault.fails)} | "
                f"{', '.join(fault.may_also_fail)} | {', '.join(matrix.rules_with(fault, Cell.UNJUDGED))} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    sys.stdout.write(render_markdown(build()))


if __name__ == "__main__":
    main()
