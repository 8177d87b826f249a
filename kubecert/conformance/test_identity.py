"""KC-ID: subjects and SANs as kubeadm writes them.

Each check is the rule of its marker, judged on the target's observation (kubecert.rules.identity).
"""

import pytest

from kubecert.plugins.verdicts import CheckOutcome


@pytest.mark.kubecert_rule("KC-ID-01")
def test_subjects_match(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-ID-02")
def test_apiserver_sans(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-ID-03")
def test_etcd_sans(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()
