"""KC-X509: chains, extensions, key pairs and algorithms.

Each check is the rule of its marker, judged on the target's observation (kubecert.rules.x509).
"""

import pytest

from kubecert.plugins.verdicts import CheckOutcome


@pytest.mark.kubecert_rule("KC-X509-01")
def test_leaf_signed_by_ca(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-X509-02")
def test_ca_is_self_signed_ca(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-X509-03")
def test_leaf_is_not_ca(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-X509-04")
def test_extended_key_usage_fits(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-X509-05")
def test_keys_match_certificates(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-X509-06")
def test_strong_algorithms(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()
