"""Every named fault, checked through the plugin in one run (one target per fault): its rule fails,
the report's evidence names the offending file, and the reference itself passes every rule."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kubecert.reference.faults import Layer
from kubecert.reference.pki import InitResult, KeyPool, apply_fault
from kubecert.reference.pki.faults import TreeFault

from support import cannot_run_here, faults_of, statuses, validated

FAULTS = faults_of(Layer.TREE, TreeFault)

STATIC_FAMILIES = ("INV", "VAL", "EXP", "X509", "ID", "FILE", "KCFG", "EXT", "KLT")


@pytest.fixture(scope="module")
def fault_report(
    reference_tree: InitResult, key_pool: KeyPool, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("faults")
    names = [name for name, fault in FAULTS.items() if cannot_run_here(fault) is None]
    targets = ["pristine"]
    # Links copied as links: the kubelet's kubelet-client-current.pem must stay one.
    shutil.copytree(reference_tree.root, base / "pristine", symlinks=True, copy_function=shutil.copy2)
    for name in names:
        shutil.copytree(reference_tree.root, base / name, symlinks=True, copy_function=shutil.copy2)
        apply_fault(base / name, name, keys=key_pool, now=dt.datetime.now(dt.UTC))
        targets.append(name)
    report = base / "report.json"
    pytest_args = ["--pyargs", "kubecert.conformance", "-p", "no:cacheprovider", "-q", "-n", "2",
                   "--kubecert-profile", "palette", "--kubecert-json", str(report)]
    # The faults are planted in files: the rules of files. Checks a folder cannot run (actions, an API)
    # would only be skipped, and xdist's loadgroup scheduling pays for every item.
    for family in STATIC_FAMILIES:
        pytest_args += ["--kubecert-rule", f"KC-{family}-*"]
    for name in targets:
        pytest_args += ["--kubecert-target", f"pki:{base / name / 'pki'}"]
    pytest.main(pytest_args)  # its outcome is judged through the report below
    document = validated(json.loads(report.read_text()))
    document["base"] = str(base)
    return document


def _result(report: dict[str, Any], tree: str, rule: str) -> dict[str, Any]:
    target = f"pki:{Path(report['base']) / tree / 'pki'}"
    return next(r for r in report["results"] if r["target"] == target and r["rule"] == rule)


def test_pristine_reference_passes_everything(fault_report: dict[str, Any]) -> None:
    found = statuses(fault_report, f"pki:{Path(fault_report['base']) / 'pristine' / 'pki'}")
    assert set(found.values()) == {"passed"}, found


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_is_judged_as_declared_and_the_report_names_the_offender(fault_report: dict[str, Any], name: str) -> None:
    fault = FAULTS[name]
    reason = cannot_run_here(fault)
    if reason:
        pytest.skip(reason)
    target = f"pki:{Path(fault_report['base']) / name / 'pki'}"
    assert fault.disagreements(statuses(fault_report, target)) == []
    result = _result(fault_report, name, fault.rule)
    offender = str(Path(fault_report["base"]) / name / fault.offender)
    failed = [e for e in result["evidence"] if e["status"] == "failed"]
    assert any(offender in json.dumps(entry) for entry in failed), (offender, failed)


def test_no_report_carries_private_key_material(fault_report: dict[str, Any]) -> None:
    text = json.dumps(fault_report)
    assert "-----BEGIN" not in text
    base = Path(fault_report["base"])
    # Key files, and the kubelet's dated files, which hold the key after the certificate.
    holders = [*base.rglob("*.key"), *base.rglob("kubelet-*-2*.pem")]
    assert any(path.suffix == ".pem" for path in holders)
    for holder in holders:
        key = holder.read_text().split("PRIVATE KEY-----", 1)[1]
        body = "".join(line for line in key.splitlines() if not line.startswith("-----"))
        assert body[40:100] not in text, holder  # a slice of the key's base64 body
