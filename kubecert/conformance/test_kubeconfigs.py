"""KC-KCFG and KC-EXT: kubeconfig trust and identity, and externally managed CAs.

Each check is the rule of its marker, judged on the target's observation
(kubecert.rules.kubeconfigs and kubecert.rules.external).
"""

import pytest

from kubecert.plugins.verdicts import CheckOutcome


@pytest.mark.kubecert_rule("KC-KCFG-01")
def test_kubeconfigs_chain_to_cluster_ca(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-KCFG-02")
def test_kubeconfig_identities(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-KCFG-03")
def test_kubelet_uses_rotating_cert(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-EXT-01")
def test_external_cas_recognized(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()
