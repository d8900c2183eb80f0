"""Contracts through the API: open, edit, lifecycle actions by role, diff, terms in force, rate sheet
downloads (pinned URLs), rates from a pricing run, tenancy (404 everywhere) and list query counts."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from contracts import services
from contracts.models import Contract, StoredRateSheet
from core.errors import ApplicationError
from tests.contracts.conftest import full_rates, scope_of
from tests.factories import PayerFactory, ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan_api(plan_cm, api_for):
    return api_for(plan_cm)


def create_body(provider, bundle_version, **overrides):
    body = {
        "provider": str(provider.public_id),
        "bundle": str(bundle_version.bundle.public_id),
        "bundle_version": bundle_version.number,
        "effective_start": "2026-01-01",
        "effective_end": "2027-01-01",
        "markets": ["URBAN"],
        "lines_of_business": ["medicaid"],
        "proration_rule": "daily",
        "tier_rule": "highest",
        "withhold_percentage": "0.04",
        "roster_due_day": 12,
        "quality_terms": [
            {"measure": "readmission_30d_rate", "target": "0.12", "weight": "0.6", "minimum_denominator": 30},
            {"measure": "assessment_within_n_days_rate", "target": "0.9", "weight": "0.4", "n_days": 7},
        ],
        "shared_savings_terms": {
            "baseline_method": "trended_benchmark",
            "minimum_savings_rate": "0.02",
            "sharing_rate": "0.4",
            "cap": "0.1",
            "quality_gate": "0.6",
            # a trended benchmark needs its figures (test_contracts_baseline.py)
            "benchmark_pmpm": "4200.00",
            "benchmark_midpoint": "2025-07-01",
            "annual_trend": "0.035",
        },
        "rates": full_rates(["URBAN"]),
        "assessment_fees": {"URBAN": "350.00"},
    }
    body.update(overrides)
    return body


def test_open_propose_accept_through_the_api(plan_api, provider_api, provider, bundle_version):
    response = plan_api.post("/api/v1/contracts/", create_body(provider, bundle_version), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    number = body["contract"]["number"]
    assert body["contract"]["status"] == "draft" and body["actions"] == ["edit", "propose"]
    version = plan_api.get(f"/api/v1/contracts/{number}/versions/1/").json()
    assert version["proration_rule"] == "daily" and version["withhold_percentage"] == "0.0400"
    assert version["quality_terms"][1] == {
        "measure": "assessment_within_n_days_rate",
        "target": "0.9",
        "weight": "0.4",
        "direction": "higher",
        "minimum_denominator": 0,
        "n_days": 7,
    }
    assert {r["tier"]: r["pmpm"] for r in version["rates"]} == {"1": "250.00", "2": "410.00", "3": "655.00"}
    patched = plan_api.patch(
        f"/api/v1/contracts/{number}/versions/1/",
        {
            "roster_due_day": 15,
            "rates": [
                {
                    "tier": "1",
                    "market": "URBAN",
                    "lob": "medicaid",
                    "pmpm": "260.00",
                    "reason": "Counter-offer",
                }
            ],
        },
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["roster_due_day"] == 15
    assert provider_api.get(f"/api/v1/contracts/{number}/").status_code == 404  # not sent yet

    proposed = plan_api.post(f"/api/v1/contracts/{number}/propose/")
    assert proposed.status_code == 200 and proposed.json()["contract"]["status"] == "proposed"
    assert provider_api.get(f"/api/v1/contracts/{number}/").json()["actions"] == [
        "accept",
        "return",
        "counter",
    ]
    assert plan_api.post(f"/api/v1/contracts/{number}/accept/").json()["actions"] == []
    accepted = provider_api.post(f"/api/v1/contracts/{number}/accept/").json()
    assert accepted["contract"]["status"] == "active"
    assert [e["kind"] for e in accepted["events"]] == [
        "created",
        "edited",
        "proposed",
        "accepted",
        "accepted",
        "activated",
    ]
    detail = plan_api.get(f"/api/v1/contracts/{number}/versions/1/").json()
    assert {a["side"] for a in detail["acceptances"]} == {"payer", "provider"}
    assert len(detail["fingerprint"]) == 64


def test_errors_have_the_api_shape_and_change_nothing(plan_api, provider_api, provider, bundle_version):
    bad = plan_api.post(
        "/api/v1/contracts/",
        create_body(provider, bundle_version, effective_start="2026-01-15", markets=["MARS"]),
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_terms"
    assert {p["path"] for p in bad.json()["details"]["problems"]} == {"effective_start", "markets[0]"}
    assert not Contract.objects.exists()
    number = plan_api.post(
        "/api/v1/contracts/", create_body(provider, bundle_version, rates=[]), format="json"
    ).json()["contract"]["number"]
    missing = plan_api.post(f"/api/v1/contracts/{number}/propose/")
    assert missing.status_code == 400 and missing.json()["code"] == "incomplete_contract"
    assert len(missing.json()["details"]["problems"]) == 3
    draft_accept = plan_api.post(f"/api/v1/contracts/{number}/accept/")
    assert draft_accept.status_code == 409
    assert draft_accept.json() == {
        "code": "invalid_transition",
        "message": services.NOT_ACCEPTABLE_MESSAGE,
        "details": {"status": "draft", "action": "accept"},
    }
    assert (
        plan_api.post(
            f"/api/v1/contracts/{number}/amend/", {"effective_start": "2026-06-01"}, format="json"
        ).status_code
        == 409
    )
    assert Contract.objects.get(number=number).status == "draft"


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        ("payer", Role.ANALYST),
        ("payer", Role.AUDITOR),
        ("payer", Role.SUBMITTER),
        ("provider", Role.SUBMITTER),
        ("provider", Role.AUDITOR),
        ("provider", Role.ANALYST),
    ],
)
def test_read_only_roles_get_403_on_every_action(
    kind, role, plan, provider, member_of, api_for, active_contract, open_contract, plan_scope, bundle_version
):
    active = active_contract(markets=["URBAN"])
    proposed = open_contract(markets=["URBAN-E"])
    services.contract_propose(scope=plan_scope, contract=proposed)
    client = api_for(member_of(plan if kind == "payer" else provider, role))
    assert client.get(f"/api/v1/contracts/{active.number}/").status_code == 200
    assert client.get(f"/api/v1/contracts/{active.number}/").json()["actions"] == []
    calls = [
        (
            "post",
            "/api/v1/contracts/",
            create_body(
                provider,
                bundle_version,
                markets=["RURAL-N"],
                rates=full_rates(["RURAL-N"]),
                assessment_fees={"RURAL-N": "1.00"},
            ),
        ),
        ("patch", f"/api/v1/contracts/{proposed.number}/versions/1/", {"roster_due_day": 11}),
        ("post", f"/api/v1/contracts/{proposed.number}/accept/", None),
        ("post", f"/api/v1/contracts/{proposed.number}/return/", {"comments": "no"}),
        ("post", f"/api/v1/contracts/{active.number}/amend/", {"effective_start": "2026-05-01"}),
        (
            "post",
            f"/api/v1/contracts/{active.number}/terminate/",
            {"end_date": "2026-11-01", "reason": "x", "for_cause": True},
        ),
        ("post", "/api/v1/contracts/rate-sheet-exports/", None),
    ]
    for method, url, data in calls:
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == 403, (url, response.json())
        assert response.json()["code"] == "permission_denied"
    assert Contract.objects.count() == 2
    assert Contract.objects.get(pk=proposed.pk).status == "proposed"
    assert Contract.objects.get(pk=active.pk).status == "active"


def test_provider_returns_and_plan_terminates(
    plan_api, provider_api, active_contract, open_contract, plan_scope
):
    proposed = open_contract(markets=["URBAN-E"])
    services.contract_propose(scope=plan_scope, contract=proposed)
    assert (
        plan_api.post(
            f"/api/v1/contracts/{proposed.number}/return/", {"comments": "x"}, format="json"
        ).status_code
        == 403
    )
    returned = provider_api.post(
        f"/api/v1/contracts/{proposed.number}/return/", {"comments": "Please raise tier 3"}, format="json"
    )
    assert returned.status_code == 200 and returned.json()["contract"]["status"] == "draft"
    assert returned.json()["events"][-1]["comment"] == "Please raise tier 3"

    active = active_contract(markets=["URBAN"])
    assert (
        provider_api.post(
            f"/api/v1/contracts/{active.number}/terminate/",
            {"end_date": "2026-11-01", "reason": "x", "for_cause": True},
            format="json",
        ).status_code
        == 403
    )
    terminated = plan_api.post(
        f"/api/v1/contracts/{active.number}/terminate/",
        {"end_date": "2026-11-01", "reason": "Program closed", "for_cause": True},
        format="json",
    )
    assert terminated.status_code == 200
    assert terminated.json()["contract"]["status"] == "terminated"
    assert terminated.json()["contract"]["terminated_on"] == "2026-11-01"


def test_amend_diff_and_terms_in_force(plan_api, provider_api, active_contract):
    contract = active_contract()
    amend = plan_api.post(
        f"/api/v1/contracts/{contract.number}/amend/", {"effective_start": "2026-07-01"}, format="json"
    )
    assert amend.status_code == 201 and amend.json()["number"] == 2 and amend.json()["status"] == "draft"
    plan_api.patch(
        f"/api/v1/contracts/{contract.number}/versions/2/",
        {
            "withhold_percentage": "0.03",
            "rates": [
                {"tier": "2", "market": "URBAN", "lob": "medicaid", "pmpm": "430.00", "reason": "Acuity"}
            ],
        },
        format="json",
    )
    plan_api.post(f"/api/v1/contracts/{contract.number}/propose/")
    provider_api.post(f"/api/v1/contracts/{contract.number}/accept/")
    plan_api.post(f"/api/v1/contracts/{contract.number}/accept/")
    diff = provider_api.get(f"/api/v1/contracts/{contract.number}/versions/2/diff/").json()
    assert diff["from_version"] == 1 and diff["to_version"] == 2
    assert diff["payment_terms_changed"] == {
        "rates": True,
        "assessment_fees": False,
        "rules": False,
        "withhold": True,
        "quality": False,
        "shared_savings": False,
        "episode": False,
        "approval": False,
    }
    rate = next(c for c in diff["changes"] if c["section"] == "rates")
    assert (rate["before"], rate["after"], rate["difference"]) == ("410.00", "430.00", "20.00")
    against = plan_api.get(f"/api/v1/contracts/{contract.number}/versions/1/diff/?against=2").json()
    assert against["from_version"] == 2
    march = plan_api.get(f"/api/v1/contracts/{contract.number}/terms-in-force/?on=2026-03-01").json()
    august = plan_api.get(f"/api/v1/contracts/{contract.number}/terms-in-force/?on=2026-08-01").json()
    assert (march["number"], march["withhold_percentage"]) == (1, "0.0500")
    assert (august["number"], august["withhold_percentage"]) == (2, "0.0300")
    assert (
        plan_api.get(f"/api/v1/contracts/{contract.number}/terms-in-force/?on=2030-01-01").status_code == 404
    )
    assert plan_api.get(f"/api/v1/contracts/{contract.number}/terms-in-force/?on=soon").status_code == 400


def test_rate_sheet_urls_are_pinned_and_return_the_same_bytes(
    plan_api, provider_api, active_contract, plan_scope, provider_scope
):
    contract = active_contract()
    services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    expectations = {
        "pdf": ("application/pdf", b"%PDF"),
        "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
        "csv": ("text/csv; charset=utf-8", b"contract,"),
    }
    for fmt, (content_type, magic) in expectations.items():
        url = f"/api/v1/contracts/{contract.public_id}/rate-sheet.{fmt}"
        first = plan_api.get(url)
        assert first.status_code == 200 and first["Content-Type"] == content_type
        assert first.content.startswith(magic)
        assert first["Content-Disposition"] == f'attachment; filename="{contract.number}-v1-rate-sheet.{fmt}"'
        assert first["X-Fingerprint"] == contract.current_version.fingerprint
        again = provider_api.get(url + "?version=1", HTTP_ACCEPT=content_type)
        assert again.status_code == 200 and again.content == first.content
        draft = plan_api.get(url + "?version=2")
        assert draft.status_code == 200 and "DRAFT" in draft["Content-Disposition"]
        assert provider_api.get(url + "?version=2").status_code == 404  # the plan's unsent amendment
        assert plan_api.get(url + "?version=9").status_code == 404
        missing = plan_api.get(url + "?version=9", HTTP_ACCEPT=content_type)
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert StoredRateSheet.objects.count() == 3


def test_rates_from_a_pricing_run_table(plan_scope, open_contract, bundle_version):
    contract = open_contract(
        markets=["URBAN", "URBAN-E"],
        lines_of_business=["medicaid", "medicare_advantage"],
        rates=[
            {
                "tier": "2",
                "market": "URBAN",
                "lob": "medicaid",
                "pmpm": "420.00",
                "reason": "Provider's staffing cost",
            }
        ],
        fees={},
    )
    version = contract.versions.get()
    table = {
        "run_id": "run-7",
        "bundle_version_id": bundle_version.pk,
        "rates": [
            {
                "tier": t,
                "market": m,
                "lob": lob,
                "pmpm": Decimal("300.004") + int(t) * 100,
                "low": Decimal(0),
                "high": Decimal(0),
            }
            for t in ("1", "2", "3")
            for m in ("URBAN", "URBAN-E")
            for lob in ("medicaid", "medicare_advantage")
        ],
        "assessment_fees": {"URBAN": Decimal("341.85"), "URBAN-E": Decimal("372.10"), "RURAL-N": Decimal(1)},
    }
    incomplete = dict(table, rates=table["rates"][:-1])
    with pytest.raises(ApplicationError) as info:
        services.rate_schedule_from_pricing(scope=plan_scope, contract_version=version, rate_table=incomplete)
    assert info.value.code == "pricing_run_incomplete"
    assert version.rates.count() == 1
    with pytest.raises(ApplicationError) as info:
        services.rate_schedule_from_pricing(
            scope=plan_scope, contract_version=version, rate_table=dict(table, bundle_version_id=-1)
        )
    assert info.value.code == "pricing_run_mismatch"

    services.rate_schedule_from_pricing(scope=plan_scope, contract_version=version, rate_table=table)
    version.refresh_from_db()
    assert version.pricing_run_id == "run-7"
    cells = {(e.lob, e.tier, e.market): e for e in version.rates.all()}
    assert len(cells) == 12
    priced = cells[("medicaid", "1", "URBAN")]
    assert (priced.pmpm, priced.priced_pmpm, priced.source, priced.reason) == (
        Decimal("400.00"),
        Decimal("400.00"),
        "pricing_run",
        "",
    )
    negotiated = cells[("medicaid", "2", "URBAN")]
    assert (negotiated.pmpm, negotiated.priced_pmpm, negotiated.source) == (
        Decimal("420.00"),
        Decimal("500.00"),
        "negotiated",
    )
    assert negotiated.difference == Decimal("-80.00") and negotiated.reason == "Provider's staffing cost"
    assert {f.market: f.fee for f in version.assessment_fees.all()} == {
        "URBAN": Decimal("341.85"),
        "URBAN-E": Decimal("372.10"),
    }
    # Moving a negotiated cell back to the priced rate makes it a priced cell again.
    services.contract_rate_set(
        scope=plan_scope, version=version, tier="2", market="URBAN", lob="medicaid", pmpm="500.00"
    )
    assert version.rates.get(tier="2", market="URBAN", lob="medicaid").source == "pricing_run"
    services.contract_propose(scope=plan_scope, contract=contract)


def test_tenancy_another_provider_and_another_plan_get_404_everywhere(
    active_contract, plan_scope, member_of, api_for, client
):
    contract = active_contract()
    services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    export = services.rate_sheet_export_start(scope=plan_scope)
    strangers = [ProviderFactory(), PayerFactory()]
    base = f"/api/v1/contracts/{contract.number}"
    gets = [
        f"{base}/",
        f"{base}/versions/",
        f"{base}/versions/1/",
        f"{base}/versions/2/diff/",
        f"{base}/terms-in-force/?on=2026-03-01",
        f"{base}/rate-sheet.pdf",
        f"{base}/rate-sheet.xlsx",
        f"{base}/rate-sheet.csv?version=1",
        f"/api/v1/contracts/{contract.public_id}/",
    ]
    posts = [
        f"{base}/propose/",
        f"{base}/accept/",
        f"{base}/return/",
        f"{base}/terminate/",
        f"{base}/amend/",
        f"{base}/versions/2/rates-from-pricing/",
    ]
    pages = [
        f"/contracts/{contract.number}/",
        f"/contracts/{contract.number}/versions/1/",
        f"/contracts/{contract.number}/versions/2/edit/",
        f"/contracts/{contract.number}/versions/2/diff/",
        f"/contracts/{contract.number}/versions/1/rate-sheet.pdf",
        f"/contracts/{contract.number}/versions/1/rate-sheet.xlsx",
        f"/contracts/{contract.number}/versions/1/rate-sheet.csv",
        f"/contracts/rate-sheet-exports/{export.public_id}/",
        f"/contracts/rate-sheet-exports/{export.public_id}/download/",
    ]
    page_posts = [
        f"/contracts/{contract.number}/{action}/"
        for action in ("propose", "accept", "return", "terminate", "amend")
    ] + [
        f"/contracts/{contract.number}/versions/2/rates/",
        f"/contracts/{contract.number}/versions/2/edit/",
        f"/contracts/{contract.number}/versions/2/rates-from-pricing/",
    ]
    from tests.factories import PASSWORD

    for stranger in strangers:
        role = Role.CONTRACT_MANAGER
        user = member_of(stranger, role)
        api = api_for(user)
        for url in gets:
            response = api.get(url)
            assert response.status_code == 404, (stranger.kind, url)
            assert response.json()["code"] == "not_found"
        for url in posts:
            assert (
                api.post(
                    url,
                    {
                        "comments": "x",
                        "effective_start": "2026-08-01",
                        "end_date": "2026-12-01",
                        "reason": "x",
                        "run_id": "x",
                    },
                    format="json",
                ).status_code
                == 404
            ), url
        assert api.patch(f"{base}/versions/2/", {"roster_due_day": 20}, format="json").status_code == 404
        assert api.get("/api/v1/contracts/").json()["count"] == 0
        assert api.get(f"/api/v1/contracts/rate-sheet-exports/{export.public_id}/").status_code == 404
        assert (
            api.get(f"/api/v1/contracts/rate-sheet-exports/{export.public_id}/download/").status_code == 404
        )
        client.logout()
        assert client.login(username=user.username, password=PASSWORD)
        for url in pages:
            assert client.get(url).status_code == 404, url
        for url in page_posts:
            assert (
                client.post(
                    url,
                    {
                        "tier": "1",
                        "market": "URBAN",
                        "lob": "medicaid",
                        "pmpm": "1",
                        "comments": "x",
                        "end_date": "2026-12-01",
                        "reason": "x",
                        "effective_start": "2026-08-01",
                        "run_id": "x",
                    },
                ).status_code
                == 404
            ), url
    contract.refresh_from_db()
    assert contract.status == "active" and contract.versions.get(number=2).status == "draft"


def _count_queries(client, url) -> int:
    client.get(url)  # warm up: once-per-session work (token last-used stamp, session) is not the list's
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_list_query_counts_do_not_grow_with_contracts(
    plan_api, plan_cm, active_contract, open_contract, client
):
    from tests.factories import PASSWORD

    client.login(username=plan_cm.username, password=PASSWORD)
    active_contract(markets=["URBAN"])
    open_contract(markets=["URBAN-E"])
    api_few = _count_queries(plan_api, "/api/v1/contracts/")
    page_few = _count_queries(client, "/contracts/")
    for _ in range(3):
        open_contract(markets=["RURAL-N"], provider_org=ProviderFactory())
    active_contract(markets=["RURAL-S"], provider_org=ProviderFactory())
    assert plan_api.get("/api/v1/contracts/").json()["count"] == 6
    assert _count_queries(plan_api, "/api/v1/contracts/") == api_few
    assert _count_queries(client, "/contracts/") == page_few
    assert api_few <= 8 and page_few <= 12


def test_list_filters(plan_api, active_contract, open_contract, provider, bundle_version):
    active = active_contract(markets=["URBAN"])
    draft = open_contract(markets=["RURAL-N"])

    def numbers(query):
        return [c["number"] for c in plan_api.get(f"/api/v1/contracts/?{query}").json()["results"]]

    assert numbers("status=active") == [active.number]
    assert numbers("market=RURAL-N") == [draft.number]
    assert set(numbers(f"counterparty={provider.public_id}")) == {active.number, draft.number}
    assert set(numbers(f"bundle={bundle_version.bundle.public_id}")) == {active.number, draft.number}
    assert numbers("bundle=not-a-uuid") == []
    assert numbers(f"search={draft.number[-4:]}") == [draft.number]


def test_scope_helper_matches_api_scope(plan, plan_cm):
    assert scope_of(plan_cm, plan).can("contract.edit")
