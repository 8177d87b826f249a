"""KC-INV: the certificates, kubeconfigs and keys kubeadm writes are all there.

Each check is the rule of its marker, judged on the target's observation (kubecert.rules.inventory).
"""

import pytest

from kubecert.plugins.verdicts import CheckOutcome


@pytest.mark.kubecert_rule("KC-INV-01")
def test_cas_exist(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-INV-02")
def test_leaves_exist(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-INV-03")
def test_kubeconfig_clients_exist(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-INV-04")
def test_service_account_pair(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()
