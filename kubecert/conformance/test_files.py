"""KC-FILE: permissions and ownership of the PKI folder and the kubeconfigs.

Each check is the rule of its marker, judged on the target's observation (kubecert.rules.files).
"""

import pytest

from kubecert.plugins.verdicts import CheckOutcome


@pytest.mark.kubecert_rule("KC-FILE-01")
def test_private_files_mode(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-FILE-02")
def test_certificate_files_mode(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-FILE-03")
def test_owned_by_root(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()
