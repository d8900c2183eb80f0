"""Counter-offers on a proposed contract (issue 19, point 5): either side answers the other's offer with
new rates, fees, withhold or quality terms (each change with its reason), a counter-offer may be rejected
(the rejecting side's earlier offer is back as a new round), every round is a ContractOffer, both sides
accept the final round, and the rate sheet says which round's offer it is."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from contracts import services
from contracts.models import ContractOffer, ContractVersion, EventKind, OfferKind
from core.errors import ConflictError, PermissionDeniedError
from tests.contracts.conftest import scope_of
from tests.factories import PASSWORD, PayerFactory

pytestmark = pytest.mark.django_db

CELL = {"tier": "2", "market": "URBAN", "lob": "medicaid"}  # 410.00 as proposed


def url(contract, action: str) -> str:
    return f"/api/v1/contracts/{contract.number}/{action}/"


def version_of(contract) -> ContractVersion:
    return ContractVersion.objects.get(contract=contract, number=1)


def rate_of(contract, tier="2", market="URBAN") -> Decimal:
    return version_of(contract).rates.get(tier=tier, market=market, lob="medicaid").pmpm


@pytest.fixture
def proposed(open_contract, plan_scope):
    contract = open_contract()
    services.contract_propose(scope=plan_scope, contract=contract)
    return contract


@pytest.fixture
def plan_api(api_for, plan_cm):
    return api_for(plan_cm)


def provider_counter(provider_scope, contract, rate="440.00", reason="Nursing wages rose 8%"):
    return services.contract_counter(
        scope=provider_scope, contract=contract, rates=[{**CELL, "rate": rate, "reason": reason}]
    )


def test_a_counter_offer_round_trip_through_the_api(proposed, plan_api, provider_api):
    body = {
        "rates": [
            {**CELL, "rate": "445.00", "reason": "Nursing wages rose 8%"},
            {"tier": "1", "market": "URBAN", "lob": "medicaid", "rate": "250.00"},  # unchanged: no reason
        ],
        "assessment_fees": [{"market": "URBAN-E", "fee": "380.00", "reason": "Longer drives"}],
        "withhold_percentage": "0.0300",
        "withhold_reason": "Quality data lags a quarter",
    }
    countered = provider_api.post(url(proposed, "counter"), body, format="json")
    assert countered.status_code == 201, countered.content
    assert countered.json()["round"] == 2 and countered.json()["side"] == "provider"
    assert {c["reason"] for c in countered.json()["changes"]} == {
        "Nursing wages rose 8%",
        "Longer drives",
        "Quality data lags a quarter",
    }
    version = version_of(proposed)
    assert (version.status, version.proposal_round, version.offer_side) == ("proposed", 2, "provider")
    assert version.withhold_percentage == Decimal("0.0300")
    assert version.assessment_fees.get(market="URBAN-E").fee == Decimal("380.00")

    again = plan_api.post(
        url(proposed, "counter"),
        {"rates": [{**CELL, "rate": "430.00", "reason": "Meet halfway"}]},
        format="json",
    )
    assert again.status_code == 201, again.content
    assert again.json()["changes"] == [
        {
            "field": "rates",
            "cell": {**CELL, "phase": ""},
            "label": "2 · URBAN · medicaid",
            "before": "445.00",
            "after": "430.00",
            "reason": "Meet halfway",
        }
    ]
    assert provider_api.post(url(proposed, "accept")).status_code == 200
    assert plan_api.post(url(proposed, "accept")).status_code == 200
    version = version_of(proposed)
    assert version.status == "active" and version.proposal_round == 3
    assert rate_of(proposed) == Decimal("430.00")
    assert version.withhold_percentage == Decimal("0.0300")  # the provider's, kept by the plan's round

    offers = provider_api.get(url(proposed, "offers")).json()
    assert offers["version"] == 1 and offers["proposal_round"] == 3
    assert [(o["round"], o["side"], o["kind"]) for o in offers["offers"]] == [
        (1, "payer", "proposal"),
        (2, "provider", "counter"),
        (3, "payer", "counter"),
    ]
    assert offers["offers"][2]["terms"]["rates"]["medicaid/2/URBAN"] == "430.00"
    assert offers["offers"][2]["fingerprint"] == version.fingerprint

    sheet = provider_api.get(f"/api/v1/contracts/{proposed.number}/rate-sheet.csv")
    rows = {row[-3]: row[-2] for row in csv.reader(io.StringIO(sheet.content.decode()))}
    assert (rows["negotiated_round"], rows["negotiated_offer_of"]) == ("3", "payer")
    assert rows["withhold_percentage"] == "0.0300"
    kinds = list(proposed.events.values_list("kind", flat=True))
    assert kinds.count(EventKind.COUNTERED) == 2 and kinds[-1] == EventKind.ACTIVATED


def test_the_rate_sheet_of_a_version_never_countered_does_not_mention_a_round(proposed, provider_api):
    sheet = provider_api.get(f"/api/v1/contracts/{proposed.number}/rate-sheet.csv")
    assert b"negotiated_round" not in sheet.content
    assert version_of(proposed).offers.get().kind == OfferKind.PROPOSAL  # round 1 recorded all the same


def test_rejecting_a_counter_offer_restores_the_plans_previous_terms_as_a_new_round(
    proposed, plan_api, provider_scope
):
    first = version_of(proposed).fingerprint
    services.contract_counter(
        scope=provider_scope,
        contract=proposed,
        rates=[{**CELL, "rate": "460.00", "reason": "Wages"}],
        assessment_fees=[{"market": "URBAN", "fee": "400.00", "reason": "Drives"}],
    )
    refused = plan_api.post(url(proposed, "reject-counter"), {"reason": ""}, format="json")
    assert refused.status_code == 400
    rejected = plan_api.post(url(proposed, "reject-counter"), {"reason": "Above our budget"}, format="json")
    assert rejected.status_code == 201, rejected.content
    assert (rejected.json()["round"], rejected.json()["kind"], rejected.json()["side"]) == (
        3,
        "rejection",
        "payer",
    )
    assert {(c["before"], c["after"], c["reason"]) for c in rejected.json()["changes"]} == {
        ("460.00", "410.00", "Above our budget"),
        ("400.00", "341.85", "Above our budget"),
    }
    version = version_of(proposed)
    assert rate_of(proposed) == Decimal("410.00")
    assert version.rates.get(**CELL).reason == "Negotiated"  # the plan's own reason is back
    assert version.assessment_fees.get(market="URBAN").fee == Decimal("341.85")
    assert (version.status, version.proposal_round, version.offer_side) == ("proposed", 3, "payer")
    assert version.fingerprint != first  # the same terms, another round
    assert version.offers.get(round=3).terms["rates"] == version.offers.get(round=1).terms["rates"]
    # the plan's offer is on the table again: the plan neither rejects nor counters it
    again = plan_api.post(url(proposed, "reject-counter"), {"reason": "Again"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "own_offer"


def test_every_change_needs_its_reason_and_every_missing_one_is_listed(proposed, provider_api):
    body = {
        "rates": [
            {**CELL, "rate": "445.00"},
            {"tier": "3", "market": "URBAN-E", "lob": "medicaid", "rate": "700.00", "reason": "  "},
            {"tier": "9", "market": "URBAN", "lob": "medicaid", "rate": "1.00", "reason": "No such tier"},
        ],
        "assessment_fees": [{"market": "URBAN", "fee": "350.00"}],
        "withhold_percentage": "0.0400",
        "pricing_run_id": "not-a-run",
    }
    response = provider_api.post(url(proposed, "counter"), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_counter_offer"
    assert {p["path"] for p in response.json()["details"]["problems"]} == {
        "rates[0].reason",
        "rates[1].reason",
        "rates[2]",
        "assessment_fees[0].reason",
        "withhold_reason",
        "pricing_run_id",
    }
    version = version_of(proposed)
    assert version.proposal_round == 1 and rate_of(proposed) == Decimal("410.00")
    assert version.offers.count() == 1
    unchanged = provider_api.post(
        url(proposed, "counter"), {"rates": [{**CELL, "rate": "410.00"}]}, format="json"
    )
    assert unchanged.status_code == 400 and unchanged.json()["code"] == "no_changes"


def test_a_counter_offer_on_a_version_not_proposed_is_a_conflict(
    open_contract, active_contract, api_for, plan_cm
):
    plan_api = api_for(plan_cm)
    draft = open_contract(markets=["URBAN"])
    for contract in (draft, active_contract(markets=["URBAN-E"])):
        response = plan_api.post(
            url(contract, "counter"), {"rates": [{**CELL, "rate": "1.00"}]}, format="json"
        )
        assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
        rejected = plan_api.post(url(contract, "reject-counter"), {"reason": "No"}, format="json")
        assert rejected.status_code == 409 and rejected.json()["code"] == "invalid_transition"


def test_only_the_side_whose_offer_is_not_on_the_table_answers_it(proposed, plan_api, provider_api):
    body = {"rates": [{**CELL, "rate": "420.00", "reason": "Why not"}]}
    own = plan_api.post(url(proposed, "counter"), body, format="json")
    assert own.status_code == 409 and own.json()["code"] == "own_offer"
    nothing_to_reject = provider_api.post(url(proposed, "reject-counter"), {"reason": "No"}, format="json")
    assert nothing_to_reject.status_code == 409 and nothing_to_reject.json()["code"] == "no_counter_offer"
    assert provider_api.post(url(proposed, "counter"), body, format="json").status_code == 201
    twice = provider_api.post(url(proposed, "counter"), body, format="json")
    assert twice.status_code == 409 and twice.json()["code"] == "own_offer"
    assert version_of(proposed).proposal_round == 2


def test_an_acceptance_of_an_earlier_round_does_not_activate_the_final_one(
    proposed, plan_scope, provider_scope
):
    services.contract_accept(scope=plan_scope, contract=proposed)
    provider_counter(provider_scope, proposed)
    services.contract_accept(scope=provider_scope, contract=proposed)
    assert version_of(proposed).status == "proposed"  # the plan accepted round 1, not round 2
    services.contract_accept(scope=plan_scope, contract=proposed)
    version = version_of(proposed)
    assert version.status == "active" and rate_of(proposed) == Decimal("440.00")
    assert set(version.acceptances.values_list("proposal_round", "side")) == {
        (1, "payer"),
        (2, "provider"),
        (2, "payer"),
    }


def test_another_provider_or_plan_sees_nothing(proposed, provider_scope, api_for, member_of, other_provider):
    provider_counter(provider_scope, proposed)
    other_plan = PayerFactory()
    for outsider in (member_of(other_provider, Role.ADMIN), member_of(other_plan, Role.ADMIN)):
        api = api_for(outsider)
        assert api.get(url(proposed, "offers")).status_code == 404
        assert api.post(url(proposed, "counter"), {"rates": []}, format="json").status_code == 404
        assert api.post(url(proposed, "reject-counter"), {"reason": "x"}, format="json").status_code == 404
        client = Client()
        assert client.login(username=outsider.username, password=PASSWORD)
        assert client.get(f"/contracts/{proposed.number}/").status_code == 404
        assert client.post(f"/contracts/{proposed.number}/counter/", {}).status_code == 404
        assert (
            client.post(f"/contracts/{proposed.number}/reject-counter/", {"reason": "x"}).status_code == 404
        )
    assert version_of(proposed).proposal_round == 2


@pytest.mark.parametrize("kind", ["payer", "provider"])
@pytest.mark.parametrize("role", list(Role))
def test_who_may_counter(kind, role, plan, provider, member_of, proposed, provider_scope):
    allowed = role in (Role.ADMIN, Role.CONTRACT_MANAGER)
    if kind == "payer":
        provider_counter(provider_scope, proposed)  # the plan answers the provider's counter-offer
    organization = plan if kind == "payer" else provider
    scope = scope_of(member_of(organization, role), organization)
    assert scope.can("contract.counter") is allowed
    attempt = lambda: services.contract_counter(  # noqa: E731
        scope=scope, contract=proposed, rates=[{**CELL, "rate": "425.00", "reason": "Counter"}]
    )
    if not allowed:
        with pytest.raises(PermissionDeniedError):
            attempt()
        return
    offer = attempt()
    assert (offer.side, offer.kind) == (kind, OfferKind.COUNTER)
    with pytest.raises(ConflictError):  # its own offer is on the table now: the other side answers
        attempt()


def test_the_contract_page_shows_the_rounds_and_the_forms_of_the_side_that_answers(
    proposed, plan_cm, provider_admin, provider_scope
):
    provider = Client()
    assert provider.login(username=provider_admin.username, password=PASSWORD)
    page = provider.get(f"/contracts/{proposed.number}/").content.decode()
    assert "Negotiation of version 1" in page and f'action="/contracts/{proposed.number}/counter/"' in page
    assert "reject-counter" not in page  # the plan's proposal is no counter-offer
    missing = provider.post(
        f"/contracts/{proposed.number}/counter/", {"rate:medicaid/2/URBAN": "450.00"}, HTTP_HX_REQUEST="true"
    )
    assert missing.status_code == 422 and "give the reason" in missing.content.decode()
    assert 'value="450.00"' in missing.content.decode()  # what was typed stays
    sent = provider.post(
        f"/contracts/{proposed.number}/counter/",
        {"rate:medicaid/2/URBAN": "450.00", "reason:rate:medicaid/2/URBAN": "Wages"},
    )
    assert sent.status_code == 302 and rate_of(proposed) == Decimal("450.00")
    plan = Client()
    assert plan.login(username=plan_cm.username, password=PASSWORD)
    page = plan.get(f"/contracts/{proposed.number}/").content.decode()
    assert "Round 2: Counter-offer by the provider" in page and "Wages" in page
    assert f'action="/contracts/{proposed.number}/reject-counter/"' in page
    rejected = plan.post(f"/contracts/{proposed.number}/reject-counter/", {"reason": "Budget"})
    assert rejected.status_code == 302 and rate_of(proposed) == Decimal("410.00")


def _count(request) -> int:
    request()  # warm: a token's or session's first use of the test writes its own rows
    with CaptureQueriesContext(connection) as queries:
        response = request()
    assert response.status_code == 200
    return len(queries.captured_queries)


def test_the_offers_and_the_page_take_as_many_queries_with_many_rounds(
    proposed, plan_scope, provider_scope, plan_cm, provider_api
):
    page = Client()
    assert page.login(username=plan_cm.username, password=PASSWORD)
    provider_counter(provider_scope, proposed, rate="440.00")
    offers_two = _count(lambda: provider_api.get(url(proposed, "offers")))
    page_two = _count(lambda: page.get(f"/contracts/{proposed.number}/"))
    services.contract_reject_counter(scope=plan_scope, contract=proposed, reason="No")
    provider_counter(provider_scope, proposed, rate="435.00")
    services.contract_counter(
        scope=plan_scope, contract=proposed, rates=[{**CELL, "rate": "425.00", "reason": "Last offer"}]
    )
    provider_counter(provider_scope, proposed, rate="430.00")
    assert ContractOffer.objects.filter(version__contract=proposed).count() == 6
    assert _count(lambda: provider_api.get(url(proposed, "offers"))) == offers_two
    assert _count(lambda: page.get(f"/contracts/{proposed.number}/")) == page_two


def test_a_countered_proposal_returned_and_proposed_again_is_the_plans_next_round(
    proposed, plan_scope, provider_scope, provider_api
):
    provider_counter(provider_scope, proposed)
    services.contract_return(scope=provider_scope, contract=proposed, comments="Let us start over")
    draft = version_of(proposed)
    assert draft.status == "draft" and draft.fingerprint == ""
    services.contract_propose(scope=plan_scope, contract=proposed)
    version = version_of(proposed)
    assert (version.proposal_round, version.offer_side, version.offer_kind) == (3, "payer", "proposal")
    third = version.offers.get(round=3)
    assert (third.kind, third.side, third.fingerprint) == ("proposal", "payer", version.fingerprint)
    assert third.changes == []  # the plan proposes the provider's round-2 terms unchanged
    sheet = provider_api.get(f"/api/v1/contracts/{proposed.number}/rate-sheet.csv")
    rows = {row[-3]: row[-2] for row in csv.reader(io.StringIO(sheet.content.decode()))}
    assert (rows["negotiated_round"], rows["negotiated_offer_of"]) == ("3", "payer")
