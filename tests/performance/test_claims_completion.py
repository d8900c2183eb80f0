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
from tests.claims.lines import line

from .conftest import D, scope_of

pytestmark = pytest.mark.django_db

BOOK_START = D(2025, 1, 1)
VALUED = D(2026, 4, 30)
LAG_OF = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3]  # 40% paid in the month of service, 30% a month later, ...


def book_and_members() -> list:
    """40 plan members with one $100 visit a month, paid after the lag their index gives; and the
    contract's P1-P3 with a $100 visit each month of Q1 2026, paid the same month. Only what was paid
    by the valuation date is in the file."""
    members = [
        line(
            member_id=m,
            claim_id=f"{m}-{month:%Y%m}",
            service_from=month,
            service_to=month,
            paid_date=month + dt.timedelta(days=20),
        )
        for m in ("P1", "P2", "P3")
        for month in (D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1))
    ]
    return [x for x in _book_lines() + members if x.paid_date <= VALUED]


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


Q1 = (D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1))


def p_claims(amount: str, paid_on: dt.date, months=Q1, tag="") -> list:
    return [
        line(
            member_id=m,
            claim_id=f"{m}-{month:%Y%m}{tag}",
            service_from=month,
            service_to=month,
            paid_date=paid_on,
            paid_amount=Decimal(amount),
        )
        for m in ("P1", "P2", "P3")
        for month in months
    ]


def load_claims(scope, lines, name):
    upload = claims_services.claims_upload(
        scope=scope, data=write_claims_csv(lines).encode(), filename=name, run_inline=True
    )
    assert upload.status == "accepted", upload.errors[:3]
    claims_services.completion_compute(payer_id=upload.payer_id, upload_id=upload.pk)
    return upload


def test_a_period_is_settled_after_its_run_out_once_its_claims_are_complete_and_trued_up_later(
    cohort, plan, analyst_scope, analyst2_scope
):
    from contracts.models import ContractVersion
    from core.errors import ConflictError
    from payments import services as payment_services

    version = ContractVersion.objects.get(contract=cohort)
    terms = {**version.shared_savings_terms, "runout_months": 3, "completion_threshold": "0.95"}
    ContractVersion.objects.filter(pk=version.pk).update(shared_savings_terms=terms)  # as amended
    baseline = p_claims("4000.00", D(2025, 12, 28), months=(D(2025, 10, 1), D(2025, 11, 1), D(2025, 12, 1)))
    load_claims(analyst_scope, book_and_members() + baseline, "april.csv")

    def settle(today):
        return payment_services.settlement_request(
            scope=analyst_scope, contract=cohort, period="2026-Q1", today=today
        )

    with pytest.raises(ConflictError) as early:
        settle(D(2026, 6, 30))
    assert early.value.code == "run_out_not_over"
    assert early.value.details["settles_from"] == "2026-07-01" and "3-month run-out" in early.value.message
    with pytest.raises(ConflictError) as incomplete:
        settle(D(2026, 7, 1))
    assert incomplete.value.code == "claims_incomplete"
    share = Decimal(incomplete.value.details["completion"])
    assert (
        Decimal("0.8") < share < Decimal("0.95") and "the contract settles at 95%" in incomplete.value.message
    )
    assert f"Only {(share * 100).quantize(Decimal('0.1'))}%" in incomplete.value.message

    # By the end of June every book claim is in (the longest lag is 3 months) and the members' March
    # has a late claim: the period is complete enough to settle.
    june = [x for x in _book_lines() if D(2026, 4, 30) < x.paid_date <= D(2026, 6, 30)]
    load_claims(
        analyst_scope, june + p_claims("50.00", D(2026, 6, 10), months=(D(2026, 3, 1),), tag="b"), "june.csv"
    )
    first, created = settle(D(2026, 7, 1))
    assert created and first.kind == "settlement"
    assert Decimal(first.summary["claims_completion"]["total"]["completion"]) >= Decimal("0.95")
    assert first.summary["run_out"]["settles_from"] == "2026-07-01"
    payment_services.settlement_approve(scope=analyst2_scope, settlement=first)

    # Claims paid in June that missed June's file arrive after the settlement: settling again is the
    # true-up (their lag is one the book knows, so the period stays complete). Savings were capped;
    # with March's cost they no longer are.
    late = p_claims("14000.00", D(2026, 6, 25), months=(D(2026, 3, 1),), tag="c")
    load_claims(analyst_scope, late, "july.csv")
    true_up, created = settle(D(2026, 9, 1))
    assert created and (true_up.kind, true_up.number) == ("adjustment", 2)
    assert true_up.earned_shared_savings < first.earned_shared_savings
    assert true_up.shared_savings == true_up.earned_shared_savings - first.earned_shared_savings
    assert Decimal(true_up.summary["claims_completion"]["total"]["paid"]) > Decimal(
        first.summary["claims_completion"]["total"]["paid"]
    )


def _book_lines() -> list:
    """Every book line, whenever paid (book_and_members keeps those paid by the valuation date)."""
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
    return lines
