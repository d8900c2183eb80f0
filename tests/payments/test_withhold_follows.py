"""The withhold follows the money (issue 14): for every service month, what is withheld equals the
withhold percentage times the net member payments for that month (member lines plus every retro line),
rounded once on the month, whatever sequence of runs produced them. Each run that adjusts a month
carries that month's withhold adjustment; the statement and the 820 show it.

Through the API: request a month, approve it as a second analyst, change the roster, and the
adjustment run (or the next month's payment) has the withhold adjustment line.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q, Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.domain.money import to_cents
from core.domain.months import parse_period
from core.errors import ConflictError
from payments import services
from payments.models import LedgerEntry, PaymentRun
from performance.selectors import withheld
from tests.fixtures.contracts import second_scope
from tests.payments.conftest import FEB, JAN, MAR, calculate, member, pay, submit_roster

pytestmark = pytest.mark.django_db
M = Decimal
D = dt.date
FIVE = M("0.05")


@pytest.fixture
def inline_runs(monkeypatch):
    """The API queues a run's calculation on commit; calculate it in this process instead."""
    monkeypatch.setattr(
        "payments.tasks.calculate_run.delay", lambda run_id: services.payment_run_calculate(run_id=run_id)
    )


def request_run(api, contract, month: str, capture) -> dict:
    with capture(execute=True):
        response = api.post(
            f"/api/v1/contracts/{contract.public_id}/payment-runs/", {"month": month}, format="json"
        )
    assert response.status_code == 202, response.json()
    body = api.get(response.json()["url"]).json()
    assert body["status"] == "review", body
    return body


def approve(api, body: dict) -> None:
    response = api.post(f"{body['url']}approve/")
    assert response.status_code == 200, response.json()


def posted_by_service_month(contract) -> dict[dt.date, tuple[Decimal, Decimal]]:
    """Per service month on the ledger: (net member payments, withheld)."""
    rows = (
        LedgerEntry.objects.filter(contract=contract)
        .values("service_month")
        .order_by("service_month")
        .annotate(
            net=Sum("amount", filter=Q(kind__in=["member_months", "retro_adjustment"])),
            held=Sum("amount", filter=Q(kind__in=["withhold", "withhold_adjustment"])),
        )
    )
    return {r["service_month"]: (to_cents(M(r["net"] or 0)), to_cents(M(r["held"] or 0))) for r in rows}


def assert_withhold_follows(contract, fraction: Decimal = FIVE) -> None:
    for month, (net, held) in posted_by_service_month(contract).items():
        assert held == -to_cents(fraction * net), month


def kinds_of(body: dict) -> list[tuple[str, str, str, str | None]]:
    return [(x["kind"], x["service_month"], x["amount"], x["rate"]) for x in body["lines"]]


def test_an_adjustment_run_carries_the_withhold_adjustment_of_its_month_through_the_api(
    contract_factory,
    provider_scope,
    analyst_api,
    analyst2_api,
    provider_api,
    provider_admin,
    inline_runs,
    django_capture_on_commit_callbacks,
):
    contract = contract_factory(withhold_percentage=FIVE)
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        rows=[member("W1"), member("W2", tier="2")],
    )
    january = request_run(analyst_api, contract, "2026-01", django_capture_on_commit_callbacks)
    assert ("withhold", "2026-01", "-37.50", "0.0500") in kinds_of(january)  # 5% of 750.00
    approve(analyst2_api, january)

    # W2 was never enrolled in January: 450.00 comes back and so does its 22.50 of withhold; the run nets
    # below zero, so the 427.50 is carried to a receivable (payments.recovery).
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, today=D(2026, 2, 20), rows=[member("W1")]
    )
    adjustment = request_run(analyst_api, contract, "2026-01", django_capture_on_commit_callbacks)
    assert adjustment["kind"] == "adjustment"
    assert kinds_of(adjustment) == [
        ("retro_adjustment", "2026-01", "-450.00", None),
        ("withhold_adjustment", "2026-01", "22.50", "0.0500"),
        ("receivable", "2026-01", "427.50", None),
    ]
    line = adjustment["lines"][1]
    assert line["description"] == "5.00% of the net change for 2026-01"
    assert adjustment["total"] == "0.00"
    approve(analyst2_api, adjustment)
    assert posted_by_service_month(contract) == {JAN: (M("300.00"), M("-15.00"))}

    # W2 after all, in tier 3 (612.35): the net is 912.35, 5% = 45.6175 -> 45.62, 30.62 more withheld.
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        today=D(2026, 2, 21),
        rows=[member("W1"), member("W2", tier="3")],
    )
    again = request_run(analyst_api, contract, "2026-01", django_capture_on_commit_callbacks)
    assert kinds_of(again) == [
        ("retro_adjustment", "2026-01", "612.35", None),
        ("withhold_adjustment", "2026-01", "-30.62", "0.0500"),
        ("recovery_offset", "2026-01", "-427.50", "1.0000"),
    ]
    approve(analyst2_api, again)
    assert posted_by_service_month(contract) == {JAN: (M("912.35"), M("-45.62"))}
    assert_withhold_follows(contract)

    # The provider sees the approved line with its label on the run page and its statement rows.
    web = Client()
    web.force_login(provider_admin)
    page = web.get(f"/payments/runs/{again['id']}/")
    assert page.status_code == 200
    assert "Withhold adjustment" in page.content.decode()
    rows = provider_api.get(f"{again['url']}statement.csv").content.decode().splitlines()
    assert any(",withhold_adjustment,2026-01," in row and row.endswith(",0.0500,-30.62,,") for row in rows)


def test_the_next_month_payment_carries_the_withhold_adjustment_of_every_month_it_adjusts(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory(withhold_percentage=FIVE)
    for month in (JAN, FEB):
        submit_roster(
            provider_scope=provider_scope,
            contract=contract,
            month=month,
            rows=[member("A1"), member("A2"), member("A3", tier="3")],
        )
        pay(scope=analyst_scope, contract=contract, month=month)
    # Late in February: A3 was never enrolled in January, and A2 was tier 2 in February.
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        today=D(2026, 2, 27),
        rows=[member("A1"), member("A2")],
    )
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=FEB,
        today=D(2026, 2, 27),
        rows=[member("A1"), member("A2", tier="2"), member("A3", tier="3")],
    )
    submit_roster(provider_scope=provider_scope, contract=contract, month=MAR, rows=[member("A1")])
    with CaptureQueriesContext(connection) as captured:
        march = calculate(scope=analyst_scope, contract=contract, month=MAR)
    grouped = [
        q["sql"]
        for q in captured.captured_queries
        if "payments_ledgerentry" in q["sql"] and "GROUP BY" in q["sql"] and "service_month" in q["sql"]
    ]
    assert len(grouped) == 1, grouped  # one aggregate for both months, not one per month
    adjustments = [
        (line.service_month, line.amount, line.rate, line.description)
        for line in march.lines.filter(kind="withhold_adjustment").order_by("position")
    ]
    assert adjustments == [
        (JAN, M("30.62"), M("0.0500"), "5.00% of the net change for 2026-01"),  # 612.35 back
        (FEB, M("-7.50"), M("0.0500"), "5.00% of the net change for 2026-02"),  # 150.00 more
    ]
    # The month's own withhold is still on its own member lines only.
    assert march.lines.get(kind="withhold").amount == M("-15.00")
    assert march.total == sum((line.amount for line in march.lines.all()), M("0.00"))
    services.payment_run_approve(scope=second_scope(analyst_scope), run=march)
    assert_withhold_follows(contract)
    assert posted_by_service_month(contract)[JAN] == (M("600.00"), M("-30.00"))


def test_a_contract_without_a_withhold_gets_no_withhold_adjustment(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory()
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("Z1")])
    pay(scope=analyst_scope, contract=contract, month=JAN)
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        today=D(2026, 2, 10),
        rows=[member("Z1", tier="2")],
    )
    january = calculate(scope=analyst_scope, contract=contract, month=JAN)
    assert [(x.kind, x.amount) for x in january.lines.order_by("position")] == [
        ("retro_adjustment", M("150.00"))
    ]


def test_a_run_in_review_with_a_withhold_adjustment_is_stale_once_another_run_posts_it(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory(withhold_percentage=FIVE)
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("S1"), member("S2")]
    )
    pay(scope=analyst_scope, contract=contract, month=JAN)
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, today=D(2026, 2, 3), rows=[member("S1")]
    )
    submit_roster(provider_scope=provider_scope, contract=contract, month=FEB, rows=[member("S1")])
    february = calculate(scope=analyst_scope, contract=contract, month=FEB)
    assert february.lines.get(kind="withhold_adjustment").amount == M("15.00")
    # January's own adjustment run posts the same change first ...
    january = calculate(scope=analyst_scope, contract=contract, month=JAN)
    assert january.lines.get(kind="withhold_adjustment").amount == M("15.00")
    services.payment_run_approve(scope=second_scope(analyst_scope), run=january)
    # ... so February, calculated before, may not post it a second time.
    with pytest.raises(ConflictError) as refused:
        services.payment_run_approve(scope=second_scope(analyst_scope), run=february)
    assert refused.value.code == "run_stale"
    february = calculate(scope=analyst_scope, contract=contract, month=FEB)
    assert february.status == "review"
    assert not february.lines.filter(kind__in=["retro_adjustment", "withhold_adjustment"]).exists()
    services.payment_run_approve(scope=second_scope(analyst_scope), run=february)
    assert_withhold_follows(contract)
    assert PaymentRun.objects.filter(contract=contract, status="approved").count() == 3


def test_a_settlement_counts_what_is_held_after_a_retro_reduction(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory(withhold_percentage=FIVE)
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        rows=[member("H1"), member("H2"), member("H3", tier="3")],
    )
    pay(scope=analyst_scope, contract=contract, month=JAN)
    quarter = parse_period("2026-Q1")
    assert withheld(contract, quarter) == (M("60.62"), M("1212.35"))  # 5% of 1,212.35 = 60.6175
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, today=D(2026, 2, 5), rows=[member("H1")]
    )
    pay(scope=analyst_scope, contract=contract, month=JAN)
    # Only H1's 300.00 is left: 15.00 is held, not the 68.12 withheld at first.
    assert withheld(contract, quarter) == (M("15.00"), M("300.00"))


def test_the_withhold_adjustment_uses_the_percentage_of_the_terms_in_force_in_its_service_month(
    contract_factory, plan_scope, provider_scope, analyst_scope
):
    from contracts import services as contract_services

    contract = contract_factory(withhold_percentage=FIVE)
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("T1"), member("T2")]
    )
    pay(scope=analyst_scope, contract=contract, month=JAN)  # 5% of 600.00: 30.00 withheld
    # From February the withhold is 10%; January stays under its own terms (5%).
    amendment = contract_services.contract_amend(scope=plan_scope, contract=contract, effective_start=FEB)
    contract_services.contract_version_update(
        scope=plan_scope, version=amendment, terms={"withhold_percentage": "0.10"}
    )
    contract_services.contract_propose(scope=plan_scope, contract=contract)
    contract_services.contract_accept(scope=plan_scope, contract=contract)
    contract_services.contract_accept(scope=provider_scope, contract=contract)
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, today=D(2026, 2, 12), rows=[member("T1")]
    )
    submit_roster(provider_scope=provider_scope, contract=contract, month=FEB, rows=[member("T1")])
    february = calculate(scope=analyst_scope, contract=contract, month=FEB)
    assert february.status == "review", february.error
    lines = {
        line.kind: (line.service_month, line.rate, line.amount)
        for line in february.lines.exclude(kind="member_months")
    }
    assert lines == {
        "retro_adjustment": (JAN, None, M("-300.00")),
        "withhold": (FEB, M("0.1000"), M("-30.00")),  # 10% of February's 300.00
        "withhold_adjustment": (JAN, M("0.0500"), M("15.00")),  # 5% of January's 300.00, not 10%
        "receivable": (FEB, None, M("15.00")),  # 300 - 300 - 30 + 15 nets below zero: carried
    }
    services.payment_run_approve(scope=second_scope(analyst_scope), run=february)
    held = posted_by_service_month(contract)
    assert held == {JAN: (M("300.00"), M("-15.00")), FEB: (M("300.00"), M("-30.00"))}
