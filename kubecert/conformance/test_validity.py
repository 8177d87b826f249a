"""KC-VAL and KC-EXP: how long certificates are valid, and how long they have left.

Each check is the rule of its marker, judged on the target's observation (kubecert.rules.validity).
"""

import pytest

from kubecert.plugins.verdicts import CheckOutcome


@pytest.mark.kubecert_rule("KC-VAL-01")
def test_leaf_validity(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-VAL-02")
def test_ca_validity(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-VAL-03")
def test_leaf_within_ca(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-VAL-04")
def test_inside_validity_window(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-EXP-01")
def test_not_expiring_soon(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()
