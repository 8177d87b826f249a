"""KC-API: the management API's certificate listing and access control, read-only.

The context is one look at the platform through the API and the answers to requests made with
missing, wrong or foreign credentials (kubecert.rules.api); both are made once per target and run.
"""

import pytest

from kubecert.plugins.conformance_support import api_context
from kubecert.plugins.verdicts import CheckOutcome
from kubecert.rules.api import ApiContext


@pytest.fixture
def kubecert_context(request: pytest.FixtureRequest, kubecert_target: object) -> ApiContext:
    return api_context(request, kubecert_target)


@pytest.mark.kubecert_rule("KC-API-01")
def test_listing_shape(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-API-02")
def test_every_certificate_reported(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-API-03")
def test_reported_expiries(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-API-04")
def test_key_required(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-API-05")
def test_project_scopes(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()


@pytest.mark.kubecert_rule("KC-API-06")
def test_errors_are_json_without_credentials(kubecert_verdict: CheckOutcome) -> None:
    kubecert_verdict.assert_passed()
