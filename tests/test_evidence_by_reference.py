"""A finding that passes names its certificate by reference (certificate, serial, fingerprint): the target's
certificate records in the report hold its path, names and dates. The report is the same as when every finding
carried them in full and the report's join removed them; an offender, and a certificate the join would not find
as the finding saw it, keep them in full."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from kubecert.profiles import BUILTIN
from kubecert.pytest_plugin.outcomes import result_from_verdict
from kubecert.reports import canonical
from kubecert.reports.results import Result
from kubecert.rules import catalog
from kubecert.rules.context import RuleContext
from kubecert.rules.evaluate import evaluate_all
from kubecert.rules.findings import failed
from kubecert.status import Status
from kubecert.targets.pki import PkiTarget

# What a certificate's evidence and its record in the report's targets both say (reports/canonical.py joins them).
IDENTITY_FIELDS = {"path", "subject_dn", "issuer_dn", "not_before", "not_after"}


def _results(kubernetes: Path, *, in_full: bool) -> tuple[list[Result], dict[str, Any], Any]:
    """Every static rule's results on the tree, and its certificate records by fingerprint as the report joins them;
    ``in_full``: every certificate's identity in every finding, as evidence was made before it was referenced."""
    target = PkiTarget(f"pki:{kubernetes / 'pki'}", BUILTIN["palette"], {})
    inventory = target.observe()
    if in_full:
        for record in inventory.all_certs():
            record.listed = False
    context = RuleContext(inventory, BUILTIN["palette"], inventory.observed_at)
    verdicts = evaluate_all(context, target.capabilities)
    results = [result_from_verdict(catalog.get(rule_id), target.id, verdict, f"t::{rule_id}")
               for rule_id, verdict in verdicts.items()]
    listed = canonical.shown_certificates(target.describe())
    return results, listed, inventory


def _joined(results: list[Result], listed: dict[str, Any]) -> list[dict[str, Any]]:
    return [canonical.joined(result, listed).to_json() for result in results]


def _certificate_entries(results: list[Result]) -> list[dict[str, Any]]:
    return [entry for result in results for entry in result.evidence if "fingerprint_sha256" in entry
            and "certificate" in entry]


def test_passing_certificates_are_named_by_reference_and_the_report_is_unchanged(reference_copy: Path) -> None:
    referenced, listed, inventory = _results(reference_copy, in_full=False)
    in_full, listed_then, _ = _results(reference_copy, in_full=True)

    passing = [e for e in _certificate_entries(referenced) if e["status"] == Status.PASSED]
    assert len(passing) > 100  # every rule that judges certificates
    assert all(not IDENTITY_FIELDS & entry.keys() for entry in passing)
    assert all(entry.keys() >= IDENTITY_FIELDS for entry in _certificate_entries(in_full))
    assert _joined(referenced, listed) == _joined(in_full, listed_then)

    record = inventory.certificates["apiserver"]
    assert failed(record, "an offender").evidence.keys() >= IDENTITY_FIELDS  # named in full where it is judged


def test_a_certificate_at_two_paths_keeps_its_identity_where_the_report_lists_the_other(reference_copy: Path) -> None:
    """The report lists one record per fingerprint, the last: the same certificate under another name is not
    found there as its finding saw it (another path), so it stays in full, as the join left it."""
    pki = reference_copy / "pki"
    shutil.copyfile(pki / "apiserver-kubelet-client.crt", pki / "front-proxy-client.crt")
    referenced, listed, inventory = _results(reference_copy, in_full=False)
    in_full, listed_then, _ = _results(reference_copy, in_full=True)

    assert not inventory.certificates["apiserver-kubelet-client"].listed
    named = [e for e in _certificate_entries(referenced)
             if e["certificate"] == "apiserver-kubelet-client" and e["status"] == Status.PASSED]
    assert named and all(entry.keys() >= IDENTITY_FIELDS for entry in named)
    assert _joined(referenced, listed) == _joined(in_full, listed_then)
