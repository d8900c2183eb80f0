"""Claims completion on a contract's performance: the plan's book fitted once per claims file (by the
worker, idempotent), its factors applied to the contract's members' claims for the period, shown in
the API and on the page; the provider sees the figures, never the claims."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from claims import services as claims_services
from claims.extract import write_claims_csv
from claims.models import CompletionRun, MonthCompletionRow
from core.domain.months import shift_month
from tests.claims.conftest import line

from .conftest import D, scope_of

pytestmark = pytest.mark.django_db

BOOK_START = D(2025, 1, 1)
VALUED = D(2026, 4, 30)
LAG_OF = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3]  # 40% paid in the month of service, 30% a month later, ...


def book_and_members() -> list:
    """40 plan members with one $100 visit a month, paid after the lag their index gives; and the
    contract's P1-P3 with a $100 visit each month of Q1 2026, paid the same month. Only what was paid
    by the valuation date is in the file."""
    lines = []
    month = BOOK_START
    while month <= D(2026, 3, 1):
        for i in range(40):
            paid = shift_month(month, LAG_OF[i % 10]) + dt.timedelta(days=14)
            lines.append(
                line(
                    member_id=f"B{i:02d}",
                    claim_id=f"B{i:02d}-{month:%Y%m}",
                    service_from=month,
                    service_to=month,
                    paid_date=paid,
                )
            )
        month = shift_month(month, 1)
    for member in ("P1", "P2", "P3"):
        for month in (D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)):
            lines.append(
                line(
                    member_id=member,
                    claim_id=f"{member}-{month:%Y%m}",
                    service_from=month,
                    service_to=month,
                    paid_date=month + dt.timedelta(days=20),
                )
            )
    return [x for x in lines if x.paid_date <= VALUED]


@pytest.fixture
def claims_loaded(cohort, plan, plan_analyst):
    upload = claims_services.claims_upload(
        scope=scope_of(plan_analyst, plan),
        data=write_claims_csv(book_and_members()).encode(),
        filename="claims.csv",
        run_inline=True,
    )
    assert upload.status == "accepted", upload.errors[:3]
    return upload


def test_the_book_is_fitted_once_per_file(claims_loaded, plan):
    run = claims_services.completion_compute(payer_id=plan.pk, upload_id=claims_loaded.pk)
    assert (run.status, run.valued_at) == ("done", D(2026, 4, 1))
    march = MonthCompletionRow.objects.get(run=run, category="professional", month=D(2026, 3, 1))
    # March has had its month and the next paid: 70% of the pattern (the P members' $300 paid at once)
    assert march.paid == Decimal("3100.00")  # 2,800 of the book's 4,000 + P1-P3
    assert march.fitted and Decimal("0.70") < march.completion < Decimal("0.8")
    january = MonthCompletionRow.objects.get(run=run, category="professional", month=D(2025, 1, 1))
    assert january.completion == Decimal(1)
    again = claims_services.completion_compute(payer_id=plan.pk, upload_id=claims_loaded.pk)
    assert again.pk == run.pk and CompletionRun.objects.count() == 1
    assert MonthCompletionRow.objects.filter(run=run).count() == run.months.count()


def test_the_period_shows_how_complete_its_claims_are(
    claims_loaded, plan, analyst_api, provider_api, client, provider_admin
):
    path = f"/api/v1/performance/contracts/{_number()}/?period=2026-Q1"
    before = analyst_api.get(path).json()
    assert before["claims_completion"] is None  # nothing fitted yet: the worker has not run
    run = claims_services.completion_compute(payer_id=plan.pk, upload_id=claims_loaded.pk)
    body = analyst_api.get(path).json()["claims_completion"]
    assert body["valued_at"] == "2026-04-01"
    total = body["total"]
    factors = {
        row.month: row.completion
        for row in MonthCompletionRow.objects.filter(
            run=run, category="professional", month__gte=D(2026, 1, 1)
        )
    }
    expected = sum((Decimal("300.00") / factors[m] for m in sorted(factors)), Decimal(0)).quantize(
        Decimal("0.01")
    )
    assert (total["paid"], total["completed"]) == ("900.00", str(expected))
    assert Decimal(total["completed"]) > Decimal("900.00") and Decimal(total["completion"]) < 1
    assert [c["category"] for c in body["categories"]] == ["professional"]
    # The provider reads the same aggregate figures for its contract.
    assert provider_api.get(path).json()["claims_completion"] == body
    client.force_login(provider_admin)
    page = client.get(f"/performance/contracts/{_number()}/?period=2026-Q1").content.decode()
    assert "Claims completion" in page and "$900.00" in page


def _number() -> str:
    from contracts.models import Contract

    return Contract.objects.get().number
