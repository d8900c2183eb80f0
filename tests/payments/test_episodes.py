"""Episode bundles are contracted and paid as episodes (issue 14 point 4, docs/domain.md section 5,
"Episodes"): a contract on a 90-day bundle pays a case rate per episode in the installments it sets,
refuses enrollment past the episode's end (or a second episode unless renewal is allowed), settles an
early exit in its month (prorated or in full), and takes its rates from a pricing run's episode rates.
Through the services, the API and the pages, on the rosters the provider submits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contracts import services as contract_services
from core.errors import ApplicationError
from enrollment import services as enrollment_services
from payments.models import LedgerEntry, PaymentDetail, PaymentRun
from tests.contracts.test_contracts_api import create_body
from tests.fixtures.contracts import ROSTER_COLUMNS, csv_bytes
from tests.payments.conftest import APR, FEB, JAN, MAR, calculate, member, pay, submit_roster

pytestmark = pytest.mark.django_db
M = Decimal
D = dt.date
START = D(2026, 1, 15)  # an episode of 90 days: 2026-01-15 .. 2026-04-14


def lines(run: PaymentRun) -> list[tuple[str, dt.date, Decimal]]:
    return [(x.kind, x.service_month, x.amount) for x in run.lines.order_by("position")]


def roster(provider_scope, contract, month, rows):
    return submit_roster(provider_scope=provider_scope, contract=contract, month=month, rows=rows)


def refused(provider_scope, contract, month, rows) -> list[tuple[int, str, str]]:
    submission = enrollment_services.roster_submit(
        scope=provider_scope,
        contract=contract,
        month=month,
        today=D(month.year, month.month, 5) + dt.timedelta(days=31),
        run_inline=True,
        file=SimpleUploadedFile("roster.csv", csv_bytes(rows, ROSTER_COLUMNS), content_type="text/csv"),
    )
    assert submission.status == "rejected"
    return list(submission.issues.filter(severity="error").values_list("row", "column", "code"))


def test_a_case_rate_in_three_installments(episode_contract, provider_scope, analyst_scope):
    contract = episode_contract(episode_installments=3)
    for month in (JAN, FEB, MAR):
        roster(provider_scope, contract, month, [member("E1", start=START)])
        run = pay(scope=analyst_scope, contract=contract, month=month)
        assert lines(run) == [("episode", month, M("992.26"))]
        line = run.lines.get()
        assert (line.rate, line.count, line.member_months) == (M("2976.78"), 1, M(0))
        assert "per episode" in line.description
    paid = sum(LedgerEntry.objects.filter(contract=contract).values_list("amount", flat=True), M(0))
    assert paid == M("2976.78")


def test_one_payment_when_the_contract_sets_none(episode_contract, provider_scope, analyst_scope):
    quality = [
        {"measure": "hospice_transition_rate", "target": "0.45", "weight": "1", "minimum_denominator": 20}
    ]
    contract = episode_contract(withhold_percentage=M("0.05"), quality_terms=quality)
    roster(provider_scope, contract, JAN, [member("E1", start=START, tier="2")])
    run = pay(scope=analyst_scope, contract=contract, month=JAN)
    assert lines(run) == [("episode", JAN, M("4410.00")), ("withhold", JAN, M("-220.50"))]
    assert "episode lines" in run.lines.get(kind="withhold").description
    roster(provider_scope, contract, FEB, [member("E1", start=START, tier="2")])
    assert lines(pay(scope=analyst_scope, contract=contract, month=FEB)) == []  # nothing more is due


def test_a_corrected_start_is_the_same_episode(episode_contract, provider_scope, analyst_scope):
    contract = episode_contract()
    roster(provider_scope, contract, JAN, [member("E1", start=START)])
    pay(scope=analyst_scope, contract=contract, month=JAN)
    # February's roster moves the start to 2026-01-20: the episode ends five days later, paid once
    roster(provider_scope, contract, FEB, [member("E1", start=D(2026, 1, 20))])
    assert lines(pay(scope=analyst_scope, contract=contract, month=FEB)) == []
    roster(provider_scope, contract, MAR, [member("E1", start=D(2026, 1, 20))])
    roster(provider_scope, contract, APR, [member("E1", start=D(2026, 1, 20), end=D(2026, 4, 19))])


def test_enrollment_past_the_episode_end_is_refused(episode_contract, provider_scope):
    contract = episode_contract()
    for month in (JAN, FEB, MAR):
        roster(provider_scope, contract, month, [member("E1", start=START)])
    assert refused(provider_scope, contract, APR, [member("E1", start=START)]) == [
        (2, "enrollment_end", "past_episode_end")
    ]
    # ended on the episode's last day, the April roster is accepted
    roster(
        provider_scope, contract, APR, [member("E1", start=START, end=D(2026, 4, 14), reason="discharged")]
    )


def test_a_second_episode_only_where_the_terms_allow_renewal(episode_contract, provider_scope, analyst_scope):
    """The next episode starts after the last day of the first: on the roster of the month it starts the
    member's row is the new episode (a roster lists one enrollment span per member)."""
    contract = episode_contract(episode_renewal=False)
    for month in (JAN, FEB, MAR):
        roster(provider_scope, contract, month, [member("E1", start=START)])
    renewed = [member("E1", start=D(2026, 4, 15))]
    assert refused(provider_scope, contract, APR, renewed) == [
        (2, "enrollment_start", "episode_renewal_not_allowed")
    ]
    # a start inside the episode is a corrected start, not a second episode
    roster(provider_scope, contract, APR, [member("E1", start=D(2026, 1, 16), end=D(2026, 4, 15))])

    other = episode_contract(episode_renewal=True, markets=("URBAN-E",))
    moved = {"market": "URBAN-E"}
    for month in (JAN, FEB, MAR):
        roster(provider_scope, other, month, [member("E2", start=START, **moved)])
        pay(scope=analyst_scope, contract=other, month=month)
    roster(provider_scope, other, APR, [member("E2", start=D(2026, 4, 15), **moved)])
    assert lines(pay(scope=analyst_scope, contract=other, month=APR)) == [("episode", APR, M("2976.78"))]


def test_an_early_exit_prorated_settles_in_its_month(episode_contract, provider_scope, analyst_scope):
    contract = episode_contract(episode_installments=3, episode_early_exit="prorated")
    roster(provider_scope, contract, JAN, [member("E1", start=START)])
    pay(scope=analyst_scope, contract=contract, month=JAN)
    # died 2026-02-09: 26 of 90 days -> 2976.78 x 26 / 90 = 859.96, of which 992.26 was paid in January
    roster(provider_scope, contract, FEB, [member("E1", start=START, end=D(2026, 2, 9))])
    run = calculate(scope=analyst_scope, contract=contract, month=FEB)
    assert lines(run) == [("episode", FEB, M("-132.30")), ("receivable", FEB, M("132.30"))]


def test_an_early_exit_paid_in_full_pays_the_rest(episode_contract, provider_scope, analyst_scope):
    contract = episode_contract(episode_installments=3, episode_early_exit="full")
    roster(provider_scope, contract, JAN, [member("E1", start=START)])
    pay(scope=analyst_scope, contract=contract, month=JAN)
    roster(provider_scope, contract, FEB, [member("E1", start=START, end=D(2026, 2, 9))])
    assert lines(calculate(scope=analyst_scope, contract=contract, month=FEB)) == [
        ("episode", FEB, M("1984.52"))
    ]


def test_a_late_exit_moves_money_in_the_months_it_belongs_to(episode_contract, provider_scope, analyst_scope):
    contract = episode_contract(episode_installments=3, episode_early_exit="prorated")
    for month in (JAN, FEB):
        roster(
            provider_scope, contract, month, [member("E1", start=START), member("E2", start=D(2026, 1, 2))]
        )
        pay(scope=analyst_scope, contract=contract, month=month)
    # January's roster corrected: E1 died on 2026-01-24 (10 days: 330.75); February's drops E1
    roster(
        provider_scope,
        contract,
        JAN,
        [member("E1", start=START, end=D(2026, 1, 24)), member("E2", start=D(2026, 1, 2))],
    )
    roster(provider_scope, contract, FEB, [member("E2", start=D(2026, 1, 2))])
    roster(provider_scope, contract, MAR, [member("E2", start=D(2026, 1, 2))])
    run = pay(scope=analyst_scope, contract=contract, month=MAR)
    assert lines(run) == [
        ("episode", MAR, M("992.26")),  # E2's last installment
        ("retro_adjustment", JAN, M("-661.51")),  # 330.75 - 992.26
        ("retro_adjustment", FEB, M("-992.26")),  # nothing is due after the exit month
        ("receivable", MAR, M("661.51")),  # the run nets -661.51: carried as a receivable
    ]
    details = PaymentDetail.objects.filter(line__run__contract=contract, line__run__status="approved")
    for member_id, due in (("E1", M("330.75")), ("E2", M("2976.78"))):  # the whole episode, to the cent
        assert sum(details.filter(member_id=member_id).values_list("amount", flat=True), M(0)) == due
    # run again: nothing moves
    roster(
        provider_scope,
        contract,
        APR,
        [member("E2", start=D(2026, 1, 2), end=D(2026, 4, 1), reason="discharged")],  # its last day
    )
    assert lines(calculate(scope=analyst_scope, contract=contract, month=APR)) == []


def test_rates_from_pricing_load_the_episode_rate(plan_scope, provider, episode_version):
    contract = contract_services.contract_create(
        scope=plan_scope,
        provider=provider,
        bundle_version=episode_version,
        terms={
            "effective_start": D(2026, 1, 1),
            "markets": ["URBAN"],
            "lines_of_business": ["medicaid"],
            "proration_rule": "any_day",
            "tier_rule": "first_day",
            "withhold_percentage": M(0),
            "episode_installments": 2,
        },
    )
    version = contract.versions.get()
    assert version.episode_installments == 2
    table = {
        "run_id": "run-episode",
        "bundle_version_id": episode_version.pk,
        "rates": [
            {"tier": t, "market": "URBAN", "lob": "medicaid", "pmpm": M("1000.00"), "low": M(0), "high": M(0)}
            for t in ("1", "2", "3")
        ],
        "assessment_fees": {"URBAN": M("341.85")},
    }
    with pytest.raises(ApplicationError) as info:
        contract_services.rate_schedule_from_pricing(
            scope=plan_scope, contract_version=version, rate_table=table
        )
    assert info.value.code == "pricing_run_incomplete"
    assert "no episode rate for tier 1" in str(info.value.details)
    for row, rate in zip(table["rates"], ("2976.78", "4410.004", "6000"), strict=True):
        row["episode_rate"] = M(rate)
    contract_services.rate_schedule_from_pricing(scope=plan_scope, contract_version=version, rate_table=table)
    assert {e.tier: e.pmpm for e in version.rates.all()} == {
        "1": M("2976.78"),
        "2": M("4410.00"),
        "3": M("6000.00"),
    }


@pytest.fixture
def plan_api(plan_cm, api_for):
    return api_for(plan_cm)


def test_episode_terms_through_the_api(plan_api, provider_api, provider, bundle_version, episode_version):
    """An episode contract takes its terms and shows its days; a monthly one refuses them at their path."""
    body = create_body(
        provider,
        episode_version,
        episode_installments=3,
        episode_early_exit="prorated",
        episode_renewal=False,
    )
    body.pop("shared_savings_terms")
    response = plan_api.post("/api/v1/contracts/", body, format="json")
    assert response.status_code == 201, response.json()
    number = response.json()["contract"]["number"]
    version = plan_api.get(f"/api/v1/contracts/{number}/versions/1/").json()
    assert (version["episode_days"], version["episode_installments"]) == (90, 3)
    assert (version["episode_early_exit"], version["episode_renewal"]) == ("prorated", False)
    bad = plan_api.patch(
        f"/api/v1/contracts/{number}/versions/1/", {"episode_early_exit": "half"}, format="json"
    )
    assert bad.status_code == 400
    monthly = plan_api.post(
        "/api/v1/contracts/", create_body(provider, bundle_version, episode_installments=3), format="json"
    )
    assert monthly.status_code == 400 and monthly.json()["code"] == "invalid_terms"
    problems = monthly.json()["details"]["problems"]
    assert [(p["path"], p["code"]) for p in problems] == [("episode_installments", "not_an_episode_bundle")]


def test_statements_rate_sheets_and_the_contract_page_say_per_episode(
    episode_contract, provider_scope, analyst_scope, analyst_api, plan_analyst, tmp_path
):
    from django.test import Client

    from payments import statements
    from tests.fixtures.x12 import pyx12_check

    contract = episode_contract(episode_installments=3, episode_early_exit="prorated")
    roster(provider_scope, contract, JAN, [member("E1", start=START), member("E2", start=START, tier="2")])
    january = pay(scope=analyst_scope, contract=contract, month=JAN)
    html = statements.render_html(january)
    assert (
        "Episodes by rate cell" in html and "Rate per episode" in html and "Member-months by rate" not in html
    )
    assert "Episode lines (per episode)" in html and "2,462.26" in html  # 992.26 + 1,470.00
    csv_text = statements.render_csv(january).decode()
    assert ",episode,2026-01,E1," in csv_text and ",2976.78,992.26," in csv_text
    text = analyst_api.get(f"/api/v1/payment-runs/{january.public_id}/statement.820").content.decode()
    assert "RMR*IK*" in text and "*992.26~" in text and "REF*ZZ*EPISODE T1 URBAN MEDICAID~" in text
    ok, messages = pyx12_check(text, tmp_path)
    assert ok, messages
    history = analyst_api.get(f"/api/v1/contracts/{contract.number}/payment-history/")
    assert history.status_code == 200  # the month's member lines are its episode lines
    assert history.json()["months"][0]["member_lines"] == "2462.26"

    sheet = analyst_api.get(f"/api/v1/contracts/{contract.public_id}/rate-sheet.csv").content.decode()
    assert ",episode_rate,2976.78," in sheet and ",pmpm," not in sheet
    for term in ("episode_days,90", "episode_installments,3", "episode_early_exit,prorated"):
        assert f",{term}," in sheet
    client = Client()
    client.force_login(plan_analyst)
    page = client.get(f"/contracts/{contract.number}/").content.decode()
    assert "a case rate per episode of 90 days" in page and "Rates (per episode, US$)" in page
    run_page = client.get(f"/payments/runs/{january.public_id}/").content.decode()
    assert "Episodes (case rate)" in run_page and "992.26" in run_page


def test_a_roster_past_the_episode_end_is_refused_through_the_api(episode_contract, provider_api):
    """The provider's upload answers with every error at its row and column; nothing is stored."""
    contract = episode_contract()
    rows = [member("E1", start=D(2026, 8, 10)), member("E2", start=D(2026, 10, 1))]  # E1 ends 2026-11-07
    response = provider_api.post(
        f"/api/v1/contracts/{contract.public_id}/rosters/",
        {"month": "2026-11", "file": SimpleUploadedFile("roster.csv", csv_bytes(rows, ROSTER_COLUMNS))},
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    detail = provider_api.get(response.json()["status_url"]).json()
    assert detail["status"] == "rejected"
    assert [(e["row"], e["column"], e["code"]) for e in detail["errors"]] == [
        (2, "enrollment_end", "past_episode_end")
    ]
    assert "ends on 2026-11-07 (90 days)" in detail["errors"][0]["message"]
    assert not contract.roster_submissions.filter(status="accepted").exists()
