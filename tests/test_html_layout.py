"""The HTML report of sixteen nodes (the most it shows in full) read in a real browser: passes one line each,
a failure's offenders first, values in words, orders a reader expects, cells that never break an identifier,
and a timeline whose red means an expiry problem. Three nodes carry a fault: an expired leaf (node-03), a leaf
expiring within the horizon (node-05) and an apiserver certificate without a SAN (node-11)."""

from __future__ import annotations

import datetime as dt
import html as html_text
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from test_html_report import browser, chromium  # noqa: F401  (the module's one Chromium)

from kubecert.reference.pki import InitResult, KeyPool, apply_fault
from kubecert.reports import html

from support import validated


@pytest.fixture(scope="module")
def sixteen(tmp_path_factory: pytest.TempPathFactory, reference_tree: InitResult,
            key_pool: KeyPool) -> tuple[Path, dict[str, Any]]:
    """The HTML and JSON reports of ``kubecert check`` over sixteen copies of the reference tree."""
    folder = tmp_path_factory.mktemp("sixteen")
    planted = {3: "expired-leaf", 5: "expiring-soon", 11: "dropped-san"}  # an expiry, a soon one, a SAN problem
    targets = []
    for n in range(1, html.DETAILED_TARGETS + 1):
        node = folder / f"node-{n:02d}"
        shutil.copytree(reference_tree.root, node, symlinks=True, copy_function=shutil.copy2)
        if n in planted:
            apply_fault(node, planted[n], keys=key_pool, now=dt.datetime.now(dt.UTC))
        targets += ["--target", f"pki:node-{n:02d}/pki"]
    run = subprocess.run([sys.executable, "-m", "kubecert", "check", "-q", "--profile", "palette",
                          "--output-dir", "out", *targets],
                         cwd=folder, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 1, run.stdout + run.stderr
    return folder / "out" / "kubecert.html", validated(json.loads((folder / "out" / "kubecert.json").read_text()))


@pytest.fixture(scope="module")
def page(browser: Any, sixteen: tuple[Path, dict[str, Any]]) -> Any:  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(sixteen[0].as_uri())
    yield page
    assert errors == []
    page.close()


def target_of(n: int) -> str:
    return f"pki:node-{n:02d}/pki"


class _Text(HTMLParser):
    """The text a reader sees: every text node but the style sheet's."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if not self._in_style:
            self.parts.append(data)


PYTHON_REPRS = re.compile(r"\bNone\b|\bTrue\b|\bFalse\b|\[\s*'|\[\]|\{\s*'|\{\}")


def test_no_value_reads_as_python(sixteen: tuple[Path, dict[str, Any]]) -> None:
    """Null facts, booleans, lists and objects of the evidence read as words, never as Python's reprs."""
    path, report = sixteen
    assert any(v is None or isinstance(v, bool | list | dict) for r in report["results"] for e in r["evidence"]
               for v in e.values())  # what the old page showed as "ca None", "['cp-1', ...]"
    reader = _Text()
    reader.feed(path.read_text())
    text = html_text.unescape(" ".join(reader.parts))
    assert PYTHON_REPRS.findall(text) == []


def test_a_hostile_value_in_a_list_or_object_is_still_text(sixteen: tuple[Path, dict[str, Any]]) -> None:
    _, report = sixteen
    hostile = "<marquee>x</marquee>\x1b[2J"
    result = {**report["results"][0], "status": "failed",
              "evidence": [{"subject": "s", "status": "failed", "detail": "d",
                            "sans": [hostile, None, True], "nested": {hostile: [hostile]}}]}
    page_text = html.render({**report, "results": [result]})
    assert "<marquee>" not in page_text and "\x1b" not in page_text
    assert "&lt;marquee&gt;x&lt;/marquee&gt;\\x1b[2J, —, yes" in page_text
    assert "&lt;marquee&gt;x&lt;/marquee&gt;\\x1b[2J: (&lt;marquee&gt;x&lt;/marquee&gt;\\x1b[2J)" in page_text


def test_a_pass_is_one_line_that_unfolds_into_its_evidence(page: Any, sixteen: tuple[Path, dict[str, Any]]) -> None:
    _, report = sixteen
    passes = page.locator("article.result.st-passed")
    assert passes.count() == sum(r["status"] == "passed" for r in report["results"])
    line = page.locator("article.result.st-passed summary").first.evaluate(
        "e => parseFloat(getComputedStyle(e).lineHeight)")
    heights = passes.evaluate_all("all => all.map(e => e.getBoundingClientRect().height)")
    assert max(heights) < 1.5 * line
    first = passes.first
    assert first.locator("table.evidence").is_visible() is False
    first.locator("summary").click()
    try:
        assert first.locator("table.evidence").is_visible()
        assert first.locator('a[href^="#rule-"]').count() == 1  # its statement and sources, said once
    finally:
        first.locator("summary").click()


def test_a_failures_offenders_come_first_and_the_rest_fold(page: Any, sixteen: tuple[Path, dict[str, Any]]) -> None:
    _, report = sixteen
    failure = next(r for r in report["results"] if r["rule"] == "KC-EXP-01" and r["target"] == target_of(5))
    offenders = [e["subject"] for e in failure["evidence"] if e["status"] == "failed"]
    assert offenders == ["apiserver-kubelet-client"] and len(failure["evidence"]) > 10
    card = page.locator("article.result.st-failed", has_text="KC-EXP-01").filter(has_text=target_of(5))
    rows = card.locator("table.evidence tr.st-failed, table.evidence tr.st-passed")
    shown = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(rows.count()) if rows.nth(i).is_visible()]
    assert shown == offenders
    folded = card.locator("details.others")
    assert folded.locator("tr.st-passed").count() == len(failure["evidence"]) - 1
    assert folded.evaluate("e => e.open") is False


def test_rules_in_the_catalogs_order_and_targets_failures_first(
    page: Any, sixteen: tuple[Path, dict[str, Any]]
) -> None:
    _, report = sixteen
    judged = {r["rule"] for r in report["results"]}
    catalog = [c["rule"] for c in report["coverage"] if c["rule"] in judged]
    assert catalog != sorted(catalog)
    rows = page.locator("table.by-rule tr td:first-child")
    assert [rows.nth(i).inner_text().split()[0] for i in range(rows.count())] == catalog
    targets = page.locator("table.by-target tr td:first-child")
    order = [targets.nth(i).inner_text() for i in range(targets.count())]
    failing = sorted({r["target"] for r in report["results"] if r["status"] == "failed"})
    assert order[:len(failing)] == failing
    assert order[len(failing):] == sorted(set(order) - set(failing))
    columns = page.locator("table.by-rule th.target-head")
    assert [columns.nth(i).inner_text() for i in range(columns.count())] == order


# Whether any text node of an element spreads over more than one line box.
_BROKEN = """e => [...e.childNodes].some(n => {
    if (n.nodeType !== Node.TEXT_NODE || !n.textContent.trim()) return false;
    const range = document.createRange(); range.selectNodeContents(n);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
})"""


def test_no_identifier_is_broken_across_lines(page: Any) -> None:
    """Statuses, target names and dates stay whole ("not_applic able", "referenc e:cluster" misread)."""
    cells = page.locator("table.by-rule td.cell a, table.by-rule th.target-head, table.by-target td a, "
                         "table.by-target td.num, table.evidence td:first-child, table.evidence td:nth-child(2), "
                         "table.certificates td:first-child, table.certificates td.date, "
                         "table.certificates td.fingerprint")
    assert cells.count() > 1000
    broken = cells.evaluate_all(f"all => all.filter({_BROKEN}).map(e => e.textContent)")
    assert broken == []


def test_red_is_an_expiry_problem_and_the_horizon_is_zoomed(page: Any, sixteen: tuple[Path, dict[str, Any]]) -> None:
    _, report = sixteen
    number = {target: n for n, target in enumerate(sorted(t["id"] for t in report["targets"]))}

    def bar(n: int, name: str) -> Any:
        return page.locator(f"#target-details-{number[target_of(n)]} g.cert", has_text=name)

    assert "expired" in bar(3, "front-proxy-client").get_attribute("class")
    assert "expiring" in bar(5, "apiserver-kubelet-client").get_attribute("class")
    dropped = bar(11, "apiserver").filter(has_not_text="kubelet").filter(has_not_text="etcd")
    assert dropped.get_attribute("class").split() == ["cert", "leaf", "flagged"]  # failed, but not on its dates
    assert page.locator("g.cert.expired").count() == 1 and page.locator("g.cert.expiring").count() == 1

    # On the scale of ten-year lives an expired leaf and one with 10 days left end a few pixels apart; in the
    # zoom on the horizon they end apart by 11 days' width.
    def ends(n: int, name: str, kind: str) -> float:
        return float(bar(n, name).locator(f"rect.{kind}").evaluate("e => e.x.baseVal.value + e.width.baseVal.value"))

    whole = ends(5, "apiserver-kubelet-client", "bar") - ends(3, "front-proxy-client", "bar")
    zoomed = ends(5, "apiserver-kubelet-client", "zoom-bar") - ends(3, "front-proxy-client", "zoom-bar")
    assert zoomed > 5 * whole and zoomed > 20
    assert "expired 1d ago" in bar(3, "front-proxy-client").text_content()
    assert re.search(r"\b9d left", bar(5, "apiserver-kubelet-client").text_content())
    window = page.locator(f"#target-details-{number[target_of(5)]} p.window").inner_text()
    assert re.fullmatch(r"Dates judged at \d{4}-\d\d-\d\d; expiry horizon 30 days \(to \d{4}-\d\d-\d\d\); "
                        r"the zoom shows \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d\.", window)
