"""Settlement of a closed performance period: the withhold returned, the quality bonus and shared savings
become ledger entries once approved; settling again changes nothing unless the data changed, and then
only the difference is posted.

The cohort (conftest): 4 members x 3 months at 300.00 PMPM with a 5% withhold -> 12 member-months,
3,600.00 of member-month payments and 180.00 withheld; the composite score is 1 (ED and readmissions
met, hospice not scored), so the whole 180.00 comes back; shared savings 4,800.00 (gross 12,000 at 50%,
capped at 10% of the 48,000 baseline).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from payments import services as payment_services
from payments.models import LedgerEntry, Settlement
from performance import services as performance_services
from tests.factories import PayerFactory, second_plan_user
from tests.fixtures.contracts import second_scope

from .conftest import (
    FEB,
    JAN,
    MAR,
    D,
    cohort_utilization,
    roster_member,
    submit_roster,
    urow,
    utilization_csv,
)

pytestmark = pytest.mark.django_db


def pay_month(scope, contract, month):
    run, _ = payment_services.payment_run_start(scope=scope, contract=contract, month=month, enqueue=False)
    payment_services.payment_run_calculate(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "review", run.error
    return payment_services.payment_run_approve(scope=second_scope(scope), run=run)


def load(scope, rows):
    upload = performance_services.utilization_upload(
        scope=scope, data=utilization_csv(rows), filename="u.csv", run_inline=True
    )
    assert upload.status == "accepted", upload.errors
    return upload


@pytest.fixture
def paid(cohort, analyst_scope):
    """The quarter's utilisation loaded and its three months paid (withhold on the ledger)."""
    load(analyst_scope, cohort_utilization())
    for month in (JAN, FEB, MAR):
        pay_month(analyst_scope, cohort, month)
    return cohort


def settle(api, contract, period="2026-Q1", **headers):
    return api.post(
        f"/api/v1/contracts/{contract.number}/settlements/", {"period": period}, format="json", **headers
    )


def test_settling_a_quarter_posts_withhold_return_and_shared_savings_once(
    paid, analyst_api, provider_api, analyst2_api
):
    response = settle(analyst_api, paid)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "review" and body["created"] is True and body["kind"] == "settlement"
    assert Decimal(body["composite_score"]) == 1
    assert (body["withheld"], body["base_payments"]) == ("180.00", "3600.00")
    assert (body["withhold_return"], body["bonus"], body["shared_savings"], body["total"]) == (
        "180.00",
        "0.00",
        "4800.00",
        "4980.00",
    )
    assert body["warnings"] == []
    # The provider does not see a settlement under review.
    assert provider_api.get(body["url"]).status_code == 404
    assert LedgerEntry.objects.filter(settlement__isnull=False).count() == 0

    approved = analyst2_api.post(f"{body['url']}approve/")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "approved"
    entries = LedgerEntry.objects.filter(settlement__public_id=body["id"]).order_by("sequence")
    assert [(e.kind, e.amount) for e in entries] == [
        ("withhold_return", Decimal("180.00")),
        ("shared_savings", Decimal("4800.00")),
    ]
    assert {e.service_month for e in entries} == {MAR}
    assert provider_api.get(body["url"]).json()["total"] == "4980.00"

    # Settling again with nothing changed creates nothing and posts nothing.
    again = settle(analyst_api, paid)
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["id"] == body["id"]
    assert analyst2_api.post(f"{body['url']}approve/").status_code == 409
    assert (
        Settlement.objects.count() == 1 and LedgerEntry.objects.filter(settlement__isnull=False).count() == 2
    )

    ledger = analyst_api.get(f"/api/v1/contracts/{paid.number}/ledger/").json()["results"]
    settled = [e for e in ledger if e["settlement"]]
    assert len(settled) == 2 and all(e["run"] is None for e in settled)
    history = provider_api.get(f"/api/v1/contracts/{paid.number}/payment-history/").json()
    assert sum(Decimal(m["settlements"]) for m in history["months"]) == Decimal("4980.00")


def test_late_data_after_settlement_posts_only_the_difference(paid, analyst_scope, analyst_api, analyst2_api):
    first = settle(analyst_api, paid).json()
    analyst2_api.post(f"{first['url']}approve/")
    # A late claim for P1 in March: actual TCOC 42,000 / 12 = 3,500 PMPM -> gross 6,000, shared 3,000 (under cap).
    load(analyst_scope, [urow("P1", MAR, tcoc="9000.00")])
    second = settle(analyst_api, paid)
    assert second.status_code == 201
    body = second.json()
    assert body["kind"] == "adjustment" and body["number"] == 2
    assert (body["earned_shared_savings"], body["shared_savings"]) == ("3000.00", "-1800.00")
    assert (body["withhold_return"], body["total"]) == ("0.00", "-1800.00")
    analyst2_api.post(f"{body['url']}approve/")
    posted = sum(
        e.amount for e in LedgerEntry.objects.filter(settlement__contract=paid, kind="shared_savings")
    )
    assert posted == Decimal("3000.00")
    assert settle(analyst_api, paid).json()["created"] is False


def test_a_settlement_in_review_is_stale_when_data_changes_and_is_recalculated_in_place(
    paid, analyst_scope, analyst_api, analyst2_api
):
    first = settle(analyst_api, paid).json()
    load(analyst_scope, [urow("P1", MAR, tcoc="9000.00")])
    stale = analyst2_api.post(f"{first['url']}approve/")
    assert stale.status_code == 409 and stale.json()["code"] == "settlement_stale"
    again = settle(analyst_api, paid).json()
    assert again["id"] == first["id"] and again["shared_savings"] == "3000.00"
    assert analyst2_api.post(f"{first['url']}approve/").status_code == 200
    assert Settlement.objects.count() == 1


def test_unpaid_months_are_warned_and_their_withhold_follows_in_an_adjustment(
    cohort, analyst_scope, analyst_api, analyst2_api
):
    load(analyst_scope, cohort_utilization())
    pay_month(analyst_scope, cohort, JAN)
    body = settle(analyst_api, cohort).json()
    assert body["withheld"] == "60.00" and body["withhold_return"] == "60.00"
    assert body["warnings"][0]["code"] == "months_not_paid"
    assert body["warnings"][0]["months"] == ["2026-02", "2026-03"]
    analyst2_api.post(f"{body['url']}approve/")
    pay_month(analyst_scope, cohort, FEB)
    pay_month(analyst_scope, cohort, MAR)
    adjustment = settle(analyst_api, cohort).json()
    assert adjustment["kind"] == "adjustment" and adjustment["withhold_return"] == "120.00"
    assert adjustment["shared_savings"] == "0.00" and adjustment["warnings"] == []


def test_a_settlement_after_a_retro_reduction_returns_the_withhold_actually_held(
    paid, provider_scope, analyst_scope, analyst_api
):
    # P4 was never enrolled in January after all: its 300.00 comes back with its 15.00 of withhold
    # (a withhold adjustment), so 165.00 is held on 3,300.00 and that is what can come back.
    rows = [roster_member(m) for m in ("P1", "P2", "P3")]
    submit_roster(provider_scope=provider_scope, contract=paid, month=JAN, rows=rows, today=D(2026, 4, 2))
    adjustment = pay_month(analyst_scope, paid, JAN)
    assert [(line.kind, line.amount) for line in adjustment.lines.order_by("position")] == [
        ("retro_adjustment", Decimal("-300.00")),
        ("withhold_adjustment", Decimal("15.00")),
        ("receivable", Decimal("285.00")),  # the adjustment nets below zero: carried, not remitted
    ]
    body = settle(analyst_api, paid).json()
    assert (body["withheld"], body["base_payments"]) == ("165.00", "3300.00")
    assert Decimal(body["withhold_return"]) == Decimal("165.00") * Decimal(body["composite_score"])


def test_open_and_overlapping_periods_are_refused(paid, analyst_api):
    still_open = settle(analyst_api, paid, period="2099-Q1")
    assert still_open.status_code == 409 and still_open.json()["code"] == "period_open"
    assert "2099-04-01" in still_open.json()["message"]
    assert settle(analyst_api, paid, period="Q1").status_code == 400
    assert settle(analyst_api, paid, period="").status_code == 400
    assert settle(analyst_api, paid).status_code == 201
    overlap = settle(analyst_api, paid, period="2026-03")
    assert overlap.status_code == 409 and overlap.json()["code"] == "period_overlap"
    assert "2026-Q1" in overlap.json()["message"]
    assert Settlement.objects.count() == 1


def test_an_idempotency_key_replays_the_first_settlement(paid, analyst_api):
    first = settle(analyst_api, paid, HTTP_IDEMPOTENCY_KEY="settle-q1")
    replay = settle(analyst_api, paid, HTTP_IDEMPOTENCY_KEY="settle-q1")
    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true" and replay.json()["id"] == first.json()["id"]


def test_who_may_settle(paid, api_for, member_of, plan, provider_api, analyst_api):
    manager = api_for(member_of(plan, Role.CONTRACT_MANAGER))
    assert settle(manager, paid).status_code == 403
    assert settle(provider_api, paid).status_code == 403
    other_plan = api_for(member_of(PayerFactory(), Role.ANALYST))
    assert settle(other_plan, paid).status_code == 404
    body = settle(analyst_api, paid).json()
    assert other_plan.get(body["url"]).status_code == 404
    assert other_plan.post(f"{body['url']}approve/").status_code == 404
    assert manager.post(f"{body['url']}approve/").status_code == 403
    assert (
        provider_api.post(f"{body['url']}approve/").status_code == 404
    )  # in review: not the provider's to see
    assert other_plan.get(f"/api/v1/contracts/{paid.number}/settlements/").status_code == 404
    assert Settlement.objects.get().status == "review"


def test_settlement_entries_are_append_only(paid, analyst_api, analyst2_api):
    body = settle(analyst_api, paid).json()
    analyst2_api.post(f"{body['url']}approve/")
    entry = LedgerEntry.objects.filter(settlement__isnull=False).first()
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("1.00"))
    entry.refresh_from_db()
    assert entry.amount == Decimal("180.00")


def test_settlement_list_has_a_fixed_number_of_queries(paid, analyst_api, analyst_scope):
    for period in ("2026-01", "2026-02"):
        settle(analyst_api, paid, period=period)
    url = f"/api/v1/contracts/{paid.number}/settlements/"
    with CaptureQueriesContext(connection) as two:
        assert analyst_api.get(url).status_code == 200
    settle(analyst_api, paid, period="2026-03")
    with CaptureQueriesContext(connection) as three:
        assert len(analyst_api.get(url).json()["results"]) == 3
    assert len(three.captured_queries) == len(two.captured_queries)


def test_settle_and_approve_on_the_pages(paid, client, plan_analyst, provider_admin, plan, provider):
    client.force_login(plan_analyst)
    page = client.get(f"/payments/contracts/{paid.number}/")
    assert page.status_code == 200 and b"Settle period" in page.content
    assert page.content.count(b"Performance settlements") == 1
    response = client.post(f"/payments/contracts/{paid.number}/settle/", {"period": "2026-Q1"})
    settlement = Settlement.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/payments/settlements/{settlement.public_id}/"
    )
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert b"4,980.00" in detail.content and b"Approve and post" in detail.content
    refused = client.post(f"/payments/settlements/{settlement.public_id}/approve/", follow=True)
    assert b"cannot also approve it" in refused.content  # four eyes: the analyst who settled it
    client.force_login(second_plan_user(plan, other_than=plan_analyst))
    client.post(f"/payments/settlements/{settlement.public_id}/approve/")
    settlement.refresh_from_db()
    assert settlement.status == "approved"
    client.force_login(plan_analyst)
    refused = client.post(f"/payments/contracts/{paid.number}/settle/", {"period": "2099-Q1"}, follow=True)
    assert b"The period is not over yet" in refused.content
    client.force_login(provider_admin)
    assert client.get(f"/payments/settlements/{settlement.public_id}/").status_code == 200
    assert b"Settle period" not in client.get(f"/payments/contracts/{paid.number}/").content
    assert client.post(f"/payments/contracts/{paid.number}/settle/", {"period": "2026-Q2"}).status_code == 403


def test_bonus_is_settled_when_the_contract_pays_one(paid, analyst_api):
    from contracts.models import ContractVersion

    version = ContractVersion.objects.filter(contract=paid).order_by("number").first()
    if not hasattr(version, "quality_bonus"):
        pytest.fail("contracts carry no quality_bonus term")
    ContractVersion.objects.filter(pk=version.pk).update(
        quality_bonus={"threshold": "0.9", "percentage": "0.01"}
    )
    body = settle(analyst_api, paid).json()
    assert body["bonus"] == "36.00" and body["total"] == "5016.00"  # 1% of 3,600.00


def test_the_performance_page_shows_the_settlement_and_settles(paid, client, plan_analyst, provider_admin):
    client.force_login(plan_analyst)
    url = f"/performance/contracts/{paid.number}/?period=2026-Q1"
    page = client.get(url)
    assert b"Not settled yet." in page.content and b"Settle this period" in page.content
    client.post(f"/payments/contracts/{paid.number}/settle/", {"period": "2026-Q1", "next": url})
    assert b"In review" in client.get(url).content
    overlap = client.post(
        f"/payments/contracts/{paid.number}/settle/", {"period": "2026-03", "next": "/performance/?x=1"}
    )
    assert overlap["Location"] == "/performance/?x=1"
    evil = client.post(
        f"/payments/contracts/{paid.number}/settle/", {"period": "2026-03", "next": "https://evil.example/"}
    )
    assert evil["Location"] == f"/payments/contracts/{paid.number}/"
    assert (
        b"it can be settled from 2099-04-01"
        in client.get(f"/performance/contracts/{paid.number}/?period=2099-Q1").content
    )
    client.force_login(provider_admin)
    provider_page = client.get(url).content
    assert b"Settle this period" not in provider_page and b"In review" not in provider_page


def test_a_settlement_total_is_its_lines_to_the_cent(paid, analyst_api):
    # Amounts whose float sum is not exact: the total is added as Decimals (SQLite adds NUMERIC as floats).
    body = settle(analyst_api, paid).json()
    settlement = Settlement.objects.get(public_id=body["id"])
    settlement.withhold_return, settlement.bonus, settlement.shared_savings = (
        Decimal("1762.68"),
        Decimal("352.54"),
        Decimal("12727.93"),
    )
    settlement.save()
    settlement.refresh_from_db()
    assert settlement.total == Decimal("14843.15")


def test_settling_a_period_leaves_a_run_in_review_approvable(
    cohort, analyst_scope, analyst_api, analyst2_api
):
    load(analyst_scope, cohort_utilization())
    pay_month(analyst_scope, cohort, JAN)
    run, _ = payment_services.payment_run_start(
        scope=analyst_scope, contract=cohort, month=FEB, enqueue=False
    )
    payment_services.payment_run_calculate(run_id=run.pk)
    body = settle(analyst_api, cohort, period="2026-01").json()
    assert analyst2_api.post(f"{body['url']}approve/").status_code == 200
    run.refresh_from_db()
    assert run.status == "review"
    assert (
        payment_services.payment_run_approve(scope=second_scope(analyst_scope), run=run).status == "approved"
    )


def test_a_settlement_statement_downloads_as_pdf_and_csv_for_both_parties(
    paid, analyst_api, provider_api, api_for, member_of, client, plan_analyst, analyst2_api
):
    import csv
    import io

    from pypdf import PdfReader

    body = settle(analyst_api, paid).json()
    url = body["url"]
    draft = analyst_api.get(f"{url}statement.pdf")
    assert draft.status_code == 200 and draft["Content-Type"] == "application/pdf"
    assert draft["Content-Disposition"] == f'attachment; filename="{paid.number}-2026-Q1-settlement.pdf"'
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(draft.content)).pages)
    assert "SETTLEMENT STATEMENT" in text and "Not approved" in text and "$4,980.00" in text
    assert "Withhold returned" in text and "Shared savings" in text and "Posted when approved." in text
    assert provider_api.get(f"{url}statement.pdf").status_code == 404  # in review: the plan's alone

    assert analyst2_api.post(f"{url}approve/").status_code == 200
    pdf = provider_api.get(f"{url}statement.pdf")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert pdf.status_code == 200 and "Not approved" not in text and "Approved" in text
    assert "Posted when approved." not in text and "4,800.00" in text

    response = provider_api.get(f"{url}statement.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["line"], r["earned_for_period"], r["posted_before"], r["amount"]) for r in rows] == [
        ("withhold_return", "180.00", "0.00", "180.00"),
        ("quality_bonus", "0.00", "0.00", "0.00"),
        ("shared_savings", "4800.00", "0.00", "4800.00"),
    ]
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal(body["total"])
    assert {(r["contract"], r["period"], r["status"], r["composite_score"]) for r in rows} == {
        (paid.number, "2026-Q1", "approved", "1.000000")
    }

    other_plan = api_for(member_of(PayerFactory(), Role.ANALYST))
    for suffix in ("statement.pdf", "statement.csv"):
        refused = other_plan.get(f"{url}{suffix}")
        assert refused.status_code == 404 and refused["Content-Type"] == "application/json"

    client.force_login(plan_analyst)
    page = client.get(f"/payments/settlements/{body['id']}/").content.decode()
    assert f"{url}statement.pdf" in page and f"{url}statement.csv" in page
