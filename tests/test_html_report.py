"""The HTML evidence report in a real browser: headless Chromium (Debian's) driven by playwright.

Without a Chromium on the machine the browser tests skip, saying so; under CI=true they must run (.ci/run
installs chromium). The screenshot each run takes is kept in reports/ for CI to publish.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubecert.reports import html

from support import validated

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "reports" / "kubecert-html-report.png"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    """The system Chromium's path; skips (or fails under CI=true) when there is none."""
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        found = None
    if found is None:
        reason = "no Chromium and playwright here (apt-get install chromium; pip install playwright)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def two_targets(tmp_path_factory: pytest.TempPathFactory, reference_tree: Any) -> tuple[Path, dict[str, Any]]:
    """A run of two nodes, one passing (a kubeadm tree) and one failing KC-VAL-02 (the reference's palette
    tree judged as kubeadm), with the HTML and JSON reports."""
    folder = tmp_path_factory.mktemp("html")
    subprocess.run([sys.executable, "-m", "kubecert", "reference", "pki", "init", "--dir", str(folder / "good")],
                   check=True, capture_output=True)
    run = subprocess.run(
        [sys.executable, "-m", "kubecert", "check", "-q", "--profile", "kubeadm", "--output-dir", str(folder / "out"),
         "--target", f"pki:{folder / 'good' / 'pki'}", "--target", f"pki:{reference_tree.root / 'pki'}"],
        cwd=folder, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 1, run.stdout + run.stderr
    return folder / "out" / "kubecert.html", validated(json.loads((folder / "out" / "kubecert.json").read_text()))


@pytest.fixture(scope="module")
def browser() -> Any:
    """One headless Chromium for the module (playwright's sync API allows one driver at a time)."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser: Any, two_targets: tuple[Path, dict[str, Any]]) -> Any:
    path, _ = two_targets
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.kubecert_errors = []
    page.kubecert_requests = []
    page.on("console", lambda m: page.kubecert_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.kubecert_errors.append(str(e)))
    page.on("request", lambda r: page.kubecert_requests.append(r.url))
    page.goto(path.as_uri())
    yield page
    page.close()


def test_the_page_loads_nothing_else_and_logs_no_error(page: Any, two_targets: tuple[Path, dict[str, Any]]) -> None:
    path, _ = two_targets
    assert page.kubecert_errors == []
    assert page.kubecert_requests == [path.as_uri()]
    assert page.locator("script").count() == 0


def test_one_timeline_bar_per_certificate_with_the_failing_ones_marked(
    page: Any, two_targets: tuple[Path, dict[str, Any]]
) -> None:
    """Each certificate is a bar on the scale of whole lives; the CAs the palette tree's KC-VAL-02 failure names
    (a validity period, not an expiry) are marked apart, not red: red is for an expiry problem only."""
    _, report = two_targets
    total = sum(1 for t in report["targets"] for c in t["certificates"] if c["not_after"])
    assert page.locator("svg.timeline rect.bar").count() == total
    for number, target in enumerate(sorted(report["targets"], key=lambda t: t["id"])):
        section = page.locator(f"#target-details-{number}")
        assert section.locator("h3").first.inner_text() == target["id"]
        assert section.locator("rect.bar").count() == len(target["certificates"])
        assert section.locator("rect.bar.ca").count() == sum(c["is_ca"] for c in target["certificates"])
        failed = {e["subject"] for r in report["results"] if r["target"] == target["id"] and r["status"] == "failed"
                  for e in r["evidence"] if e["status"] == "failed"}
        assert section.locator("rect.bar.flagged").count() == len(failed)
        # The moment judged and the horizon, on each of the two scales.
        assert section.locator("line.mark.today").count() == section.locator("line.mark.horizon").count() == 2
    assert page.locator("rect.bar.flagged").count() == 3  # the palette tree's three CAs
    assert page.locator("rect.bar.expired, rect.bar.expiring").count() == 0
    # Marked apart, it keeps a CA's colour.
    fill = "e => getComputedStyle(e).fill"
    assert page.locator("rect.bar.flagged").first.evaluate(fill) == page.locator(
        "rect.bar.ca:not(.flagged)").first.evaluate(fill)


def visible_results(page: Any) -> list[str]:
    """The classes of the results a reader sees now."""
    results = page.locator("article.result")
    return [results.nth(i).get_attribute("class") for i in range(results.count()) if results.nth(i).is_visible()]


def test_failures_come_first_and_the_filters_work_without_script(
    page: Any, two_targets: tuple[Path, dict[str, Any]]
) -> None:
    _, report = two_targets
    assert "st-failed" in page.locator("article.result").first.get_attribute("class")
    assert len(visible_results(page)) == len(report["results"])
    page.click('label[for="status-failed"]')
    shown = visible_results(page)
    assert len(shown) == report["summary"]["failed"] and all("st-failed" in c for c in shown)
    page.click('label[for="status-all"]')
    page.click('label[for="target-0"]')
    shown = visible_results(page)
    first_target = sorted(t["id"] for t in report["targets"])[0]
    assert len(shown) == sum(1 for r in report["results"] if r["target"] == first_target)
    assert all("tg-0" in c for c in shown)
    assert page.locator("#target-details-1").is_visible() is False
    page.click('label[for="target-all"]')
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


def test_printing_shows_every_result_and_no_filters(page: Any, two_targets: tuple[Path, dict[str, Any]]) -> None:
    _, report = two_targets
    page.click('label[for="status-failed"]')
    page.emulate_media(media="print")
    try:
        assert page.locator("nav.filters").is_visible() is False
        assert len(visible_results(page)) == len(report["results"])
    finally:
        page.emulate_media(media="screen")
        page.click('label[for="status-all"]')


def test_what_a_target_sends_cannot_become_markup(two_targets: tuple[Path, dict[str, Any]]) -> None:
    _, report = two_targets
    hostile = "<script>alert(1)</script>\x1b[31mALL PASSED\u202e"
    result = {**report["results"][0], "message": hostile,
              "evidence": [{"subject": hostile, "status": "failed", "detail": hostile, "path": hostile}]}
    target = {**report["targets"][0], "certificates": [{**report["targets"][0]["certificates"][0], "name": hostile}]}
    page_text = html.render({**report, "results": [result], "targets": [target]})
    assert "<script>" not in page_text and "\x1b" not in page_text and "\u202e" not in page_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31mALL PASSED\\u202e" in page_text


def test_a_fleets_page_summarises_in_the_browser(tmp_path: Path, reference_tree: Any, browser: Any) -> None:
    """Past html.DETAILED_TARGETS targets: every target in the summary, only what failed in full (with its
    target's section and timeline), the status filter still working without script."""
    targets = []
    for n in range(html.DETAILED_TARGETS + 1):
        copy = tmp_path / f"node-{n:02d}"
        shutil.copytree(reference_tree.root, copy, symlinks=True, copy_function=shutil.copy2)
        targets.append(f"pki:{copy / 'pki'}")
    (tmp_path / "node-03" / "pki" / "apiserver.crt").write_bytes(b"")  # fails KC-INV-02, and others say so
    run = subprocess.run([sys.executable, "-m", "kubecert", "check", "-q", "--profile", "palette", "--output-dir",
                          str(tmp_path / "out"), *[w for t in targets for w in ("--target", t)]],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 1, run.stdout + run.stderr
    report = validated(json.loads((tmp_path / "out" / "kubecert.json").read_text()))
    shown = [r for r in report["results"] if r["status"] in ("failed", "error")]
    assert shown and all(r["target"] == targets[3] for r in shown)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((tmp_path / "out" / "kubecert.html").as_uri())
        assert errors == []
        assert page.locator("#summary table.summary").first.locator("tr").count() == len(targets) + 1
        assert page.locator("article.result").count() == len(shown)
        assert page.locator("article.target-section").count() == 1
        assert page.locator("article.target-section h3").inner_text() == targets[3]
        assert page.locator("svg.timeline").count() == 1
        assert page.locator('label[for="target-0"]').count() == 0  # no per-target filter for a fleet
        page.click('label[for="status-error"]')
        assert all("st-error" in c for c in visible_results(page))
    finally:
        page.close()


def _anchors(page_text: str) -> list[str]:
    """Every link target of the page."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(value or "" for name, value in attrs if name in ("href", "src", "action", "formaction"))

    Links().feed(page_text)
    return found


@pytest.mark.parametrize("url", ["javascript:alert(document.domain)", "JavaScript:alert(1)", " javascript:alert(1)",
                                 "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                 "file:///etc/passwd", "vbscript:msgbox(1)", "//elsewhere.example/x", "https:",
                                 "https:///no-host"])
def test_a_source_address_that_is_not_a_web_address_stays_text(two_targets: tuple[Path, dict[str, Any]],
                                                                url: str) -> None:
    _, report = two_targets
    web = {"key": "K8S", "title": "Kubernetes", "url": "https://kubernetes.io/docs/", "version": "1.33"}
    hostile = {"key": "EVIL", "title": "click me", "url": url, "version": "1"}
    result = {**report["results"][0], "sources": [web, hostile]}
    page_text = html.render({**report, "results": [result]})
    links = [a for a in _anchors(page_text) if not a.startswith("#")]
    assert links == ["https://kubernetes.io/docs/"]
    assert "EVIL: click me" in page_text


def test_the_page_declares_a_policy_that_forbids_script(two_targets: tuple[Path, dict[str, Any]]) -> None:
    from html.parser import HTMLParser

    path, _ = two_targets
    page_text = path.read_text()
    policies: list[str] = []

    class Meta(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            if tag == "meta" and values.get("http-equiv") == "Content-Security-Policy":
                policies.append(values.get("content") or "")

    Meta().feed(page_text)
    assert len(policies) == 1
    directives = dict(d.strip().split(" ", 1) for d in policies[0].split(";"))
    assert directives["default-src"] == "'none'" and "script-src" not in directives  # default-src covers script
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/]+=*'", directives["style-src"])
    assert "<script" not in page_text


def test_the_policy_stops_a_script_that_got_into_the_page_and_keeps_its_styles(
    browser: Any, two_targets: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Were markup ever to slip past the escaping, the browser still runs none of it; the page's own style
    sheet, allowed by its hash, still applies (the filter tests above depend on it too)."""
    path, _ = two_targets
    injected = tmp_path / "injected.html"
    injected.write_text(path.read_text().replace(
        "<body>", "<body><script>document.title = 'ran'</script><div style=\"color: rgb(1, 2, 3)\" id=\"x\">x</div>",
        1))
    page = browser.new_page()
    try:
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(injected.as_uri())
        assert page.title() != "ran"
        assert page.evaluate("getComputedStyle(document.getElementById('x')).color") != "rgb(1, 2, 3)"
        assert any("Content Security Policy" in e for e in errors)
        assert page.evaluate("getComputedStyle(document.querySelector('nav.filters')).display") != "inline"
    finally:
        page.close()
