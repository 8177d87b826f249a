"""KC-RPV: renewal through the API (disruptive), for repave and in-place platforms alike.

One renewal per target and run is requested and watched (with a second renew request sent while it
runs); KC-RPV-01..05, 07 and 08 all judge its recorded timeline. KC-RPV-06 needs its own renewal with
the control-plane-only annotation set (and put back after), and KC-RPV-09 its own refused requests.
"""

import pytest

from kubecert.plugins.conformance_support import renewal_context
from kubecert.plugins.verdicts import CheckOutcome
from kubecert.rules.repave import RenewalContext


@pytest.fixture
def kubecert_context(request: pytest.FixtureRequest, kubecert_target: object) -> RenewalContext:
    return renewal_context(request, kubecert_target)


@pytest.mark.kubecert_rule("KC-RPV-01")
def test_renew_answers_204(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-RPV-02")
def test_renewed_for_leaf_days(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-RPV-03")
def test_cas_kept(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-RPV-04")
def test_control_plane_surges_first(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-RPV-05")
def test_workers_after_control_plane(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-RPV-07")
def test_one_renewal_at_a_time(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-RPV-08")
def test_finishes_within_deadline(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-RPV-06")
def test_controlplane_only_leaves_workers(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-RPV-09")
def test_unauthenticated_renewal_refused(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()
