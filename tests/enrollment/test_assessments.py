"""The assessments page and API (issue 16, providers' paths): every initial assessment of the rosters
in force across a provider's (or a plan's) contracts, payable or not and why, filtered; scoped to the
organisation, recorded in the access log, in a constant number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from core.models import AccessEvent
from tests.enrollment.conftest import (
    MONTH,
    PREVIOUS,
    assessment_row,
    assessments_file,
    day,
    roster_file,
    roster_row,
)
from tests.factories import PASSWORD, ProviderFactory

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def send(api, contract, month, members, assessments):
    response = api.post(
        f"/api/v1/contracts/{contract.public_id}/rosters/",
        {
            "month": f"{month:%Y-%m}",
            "file": roster_file([roster_row(m) for m in members]),
            "assessments": assessments_file(assessments),
        },
        format="multipart",
    )
    assert response.status_code in (201, 202), response.content


@pytest.fixture
def assessed(provider_api, contract):
    """M001 assessed in the previous month, then again this month (second in the look-back: not
    payable); M002 assessed this month and declined (payable all the same)."""
    send(
        provider_api, contract, PREVIOUS, ["M001"], [assessment_row("M001", assessment_date=day(5, PREVIOUS))]
    )
    send(
        provider_api,
        contract,
        MONTH,
        ["M001"],
        [assessment_row("M001", assessment_date=day(2)), assessment_row("M002", outcome="declined")],
    )
    return contract


def test_the_api_lists_every_assessment_in_force_payable_or_not_and_why(provider_api, assessed):
    body = provider_api.get("/api/v1/assessments/").json()
    rows = [
        (a["member_id"], a["roster_month"], a["payable"], a["reason"], a["contract"]) for a in body["results"]
    ]
    assert sorted(rows) == [
        ("M001", f"{PREVIOUS:%Y-%m}", True, "", assessed.number),
        ("M001", f"{MONTH:%Y-%m}", False, "second_in_lookback", assessed.number),
        ("M002", f"{MONTH:%Y-%m}", True, "", assessed.number),
    ]
    not_payable = provider_api.get("/api/v1/assessments/?payable=false").json()["results"]
    assert [a["member_id"] for a in not_payable] == ["M001"] and not_payable[0]["message"]
    in_month = provider_api.get(f"/api/v1/assessments/?month={MONTH:%Y-%m}&member=m002").json()["results"]
    assert [(a["member_id"], a["outcome"]) for a in in_month] == [("M002", "declined")]
    by_number = provider_api.get(f"/api/v1/assessments/?contract={assessed.number}").json()["count"]
    assert by_number == 3
    assert provider_api.get("/api/v1/assessments/?month=2026-13").status_code == 400


def test_a_resubmitted_month_shows_only_the_version_in_force(provider_api, assessed):
    send(provider_api, assessed, MONTH, ["M001"], [assessment_row("M003")])
    months = [
        (a["member_id"], a["roster_version"])
        for a in provider_api.get(f"/api/v1/assessments/?month={MONTH:%Y-%m}").json()["results"]
    ]
    assert months == [("M003", 2)]


def test_the_page_filters_and_says_why_a_fee_is_not_paid(provider_admin, assessed):
    client = login(provider_admin)
    page = client.get("/assessments/").content.decode()
    assert page.count('<tr><td class="nowrap">') == 3
    assert 'data-testid="not-payable"' in page and "Declined" in page
    assert 'href="/assessments/"' in client.get("/").content.decode()  # in the navigation
    only_unpaid = client.get("/assessments/?payable=false").content.decode()
    assert only_unpaid.count('data-testid="not-payable"') == 1 and "M002" not in only_unpaid
    bad = client.get("/assessments/?month=13-2026")
    assert bad.status_code == 400 and 'data-testid="filter-error"' in bad.content.decode()


def test_other_organisations_see_nothing_and_a_foreign_contract_is_404(
    assessed, provider_api, api_for, member_of
):
    stranger = member_of(ProviderFactory(), Role.ADMIN)
    api = api_for(stranger)
    assert api.get("/api/v1/assessments/").json()["count"] == 0
    assert api.get(f"/api/v1/assessments/?contract={assessed.number}").status_code == 404
    page = login(stranger).get(f"/assessments/?contract={assessed.number}")
    assert page.status_code == 400 and "M001" not in page.content.decode()
    # the plan party to the contract sees its provider's assessments
    plan_api = api_for(member_of(assessed.payer, Role.AUDITOR))
    assert plan_api.get("/api/v1/assessments/").json()["count"] == 3


def test_each_read_is_in_the_access_log(provider_api, provider_admin, assessed):
    AccessEvent.objects.all().delete()
    provider_api.get("/api/v1/assessments/?payable=false")
    login(provider_admin).get("/assessments/")
    events = list(AccessEvent.objects.order_by("pk").values_list("action", "detail"))
    assert events == [("assessment.list", "payable false"), ("assessment.list", "all contracts")]


def queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert call().status_code == 200
    return len(captured)


def test_the_page_and_the_api_take_a_constant_number_of_queries(provider_api, provider_admin, assessed):
    client = login(provider_admin)
    page, api = (lambda: client.get("/assessments/")), (lambda: provider_api.get("/api/v1/assessments/"))
    few = queries(page), queries(api)
    send(provider_api, assessed, MONTH, ["M001"], [assessment_row(f"M{k:03d}") for k in range(4, 40)])
    assert (queries(page), queries(api)) == few
    assert few[0] <= 12 and few[1] <= 8, few
