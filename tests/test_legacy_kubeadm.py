"""Real clusters made by older kubeadm pass every rule that applies under the kubeadm profile, and the
same tree with expired dates fails only the date rules."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

from kubecert.rules import Status

from legacy_tree import make_legacy
from support import judge, not_passing, observe

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_legacy_tree_has_what_old_kubeadm_wrote(reference_copy: Path) -> None:
    make_legacy(reference_copy, ca_created=NOW - dt.timedelta(days=1000), leaves_signed=NOW - dt.timedelta(days=100))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a serial-0 CA must load without cryptography's warning escaping
        inventory, _ = observe(reference_copy, "kubeadm")
    ca = inventory.certificates["ca"]
    assert ca.serial == 0 and ca.subject_key_identifier is None
    leaf = inventory.certificates["apiserver-kubelet-client"]
    assert leaf.basic_constraints is None and leaf.authority_key_identifier is None
    assert leaf.not_before == ca.not_before and leaf.organizations == ("system:masters",)
    assert inventory.problems == []


def test_legacy_tree_passes_every_rule_under_kubeadm(reference_copy: Path) -> None:
    make_legacy(reference_copy, ca_created=NOW - dt.timedelta(days=1000), leaves_signed=NOW - dt.timedelta(days=100))
    verdicts = judge(reference_copy, "kubeadm")
    assert not_passing(verdicts) == {}
    # what made it different is reported, not hidden
    assert "kubeadm before v1.31" in verdicts["KC-VAL-01"].message
    assert "system:masters" in verdicts["KC-ID-01"].message and "system:masters" in verdicts["KC-KCFG-02"].message
    assert "no basicConstraints" in verdicts["KC-X509-03"].message
    assert "no AKI" in verdicts["KC-X509-01"].message


def test_expired_legacy_tree_fails_only_the_date_rules(reference_copy: Path) -> None:
    make_legacy(reference_copy, ca_created=NOW - dt.timedelta(days=2000), leaves_signed=NOW - dt.timedelta(days=400))
    verdicts = judge(reference_copy, "kubeadm")
    assert sorted(not_passing(verdicts)) == ["KC-EXP-01", "KC-VAL-04"]
    assert verdicts["KC-VAL-04"].status is Status.FAILED
    assert "expired 35d" in verdicts["KC-VAL-04"].message
