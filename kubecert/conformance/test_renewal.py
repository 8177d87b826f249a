"""KC-REN, KC-CSR, KC-CHK, KC-UPG: renewal on a node, judged before and after the node acts.

These checks change the target (KC-CHK-01 only reads a listing): without --allow-disruptive they are
skipped, and they run after every read-only check. Each action runs once per target per run and serves
every check that judges it (kubecert.fixtures.renewal); the rules are in kubecert.rules.renewal.
"""

import pytest

from kubecert.fixtures.renewal import context_for
from kubecert.plugins.targets import Target
from kubecert.plugins.verdicts import CheckOutcome, rule_id_of
from kubecert.rules.context import RuleContext
from kubecert.rules.profiles import Profile


@pytest.fixture
def kubecert_context(request: pytest.FixtureRequest, kubecert_target: Target, kubecert_profile: Profile) -> RuleContext:
    """This check's rule judged on the node before and after its action (run now, or earlier in this run)."""
    rule_id = rule_id_of(request.node)
    assert rule_id is not None
    context = context_for(rule_id, kubecert_target, kubecert_profile)
    if context is None:
        pytest.skip(f"{kubecert_target.id} cannot act on a node")
    return context


@pytest.mark.kubecert_rule("KC-REN-01")
def test_renewal_keeps_cas(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-REN-02")
def test_renewal_keeps_attributes(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-REN-03")
def test_renewed_for_leaf_days(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-REN-04")
def test_renewal_makes_new_serial_and_key(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-REN-05")
def test_renewing_one_changes_only_it(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-REN-06")
def test_kubeconfigs_renewed_kubelet_left(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-REN-07")
def test_external_ca_leaves_refused(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-CSR-01")
def test_csr_only_renewal(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-CSR-02")
def test_csr_files_private(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-CHK-01")
def test_expiration_listing_agrees(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-UPG-01")
def test_upgrade_renews(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()
