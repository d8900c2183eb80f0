"""Payment runs through the services: worked examples of each proration rule with mid-month enrollments,
deaths and tier changes; assessments; the withhold; retroactive changes inside and outside the window;
idempotency; stale approvals; the append-only ledger and its corrections; the daily job."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core import bulk
from core.errors import ApplicationError, ConflictError
from payments import services
from payments.models import LedgerEntry, PaymentDetail, PaymentRun
from tests.fixtures.contracts import second_scope
from tests.payments.conftest import (
    APR,
    FEB,
    FEE,
    JAN,
    MAR,
    assessment,
    calculate,
    member,
    pay,
    submit_roster,
)

pytestmark = pytest.mark.django_db
M = Decimal
D = dt.date


def lines_of(run) -> list[tuple]:
    return [
        (line.kind, line.rate_cell, line.service_month, line.count, line.member_months, line.amount)
        for line in run.lines.order_by("position")
    ]


def details_of(run) -> dict[str, tuple]:
    return {
        d.member_id: (d.tier, d.member_months, d.amount)
        for d in PaymentDetail.objects.filter(line__run=run, line__kind="member_months")
    }


def assert_balanced(run) -> None:
    lines = list(run.lines.all())
    assert run.total == sum((line.amount for line in lines), M("0.00"))
    for line in lines:
        details = list(PaymentDetail.objects.filter(line=line))
        if line.kind != "withhold":
            assert line.amount == sum((d.amount for d in details), M("0.00")), line
            assert line.count == len(details)


# A March (31 days) roster that exercises every rule: joins on the 20th, dies on the 5th, joins on the
# 10th, and moves from tier 1 to tier 3 on the 16th (one row per tier, as docs/formats.md asks).
MARCH_ROWS = [
    member("JOIN20", start=D(2026, 3, 20)),
    member("DIED05", end=D(2026, 3, 5), reason="death"),
    member("JOIN10", start=D(2026, 3, 10), tier="2"),
    member("UPTIER", tier="1"),
    member("UPTIER", tier="3", tier_start=D(2026, 3, 16)),
    member("STEADY", tier="2"),
]


def march_run(contract_factory, provider_scope, analyst_scope, **terms):
    contract = contract_factory(**terms)
    submit_roster(provider_scope=provider_scope, contract=contract, month=MAR, rows=MARCH_ROWS)
    run = calculate(scope=analyst_scope, contract=contract, month=MAR)
    assert run.status == "review", run.error
    assert_balanced(run)
    return run


def test_any_day_counts_every_member_enrolled_on_any_day_in_the_tier_of_their_first_day(
    contract_factory, provider_scope, analyst_scope
):
    run = march_run(
        contract_factory, provider_scope, analyst_scope, proration_rule="any_day", tier_rule="first_day"
    )
    assert details_of(run) == {
        "JOIN20": ("1", M("1.000000"), M("300.00")),
        "DIED05": ("1", M("1.000000"), M("300.00")),
        "JOIN10": ("2", M("1.000000"), M("450.00")),
        "UPTIER": ("1", M("1.000000"), M("300.00")),
        "STEADY": ("2", M("1.000000"), M("450.00")),
    }
    assert lines_of(run) == [
        ("member_months", "1/URBAN/medicaid", MAR, 3, M("3.000000"), M("900.00")),
        ("member_months", "2/URBAN/medicaid", MAR, 2, M("2.000000"), M("900.00")),
    ]
    assert run.total == M("1800.00") and run.member_months == M("5.000000") and run.member_count == 5


def test_first_of_month_pays_only_members_enrolled_on_the_first(
    contract_factory, provider_scope, analyst_scope
):
    run = march_run(contract_factory, provider_scope, analyst_scope, proration_rule="first_of_month")
    assert details_of(run) == {
        "JOIN20": ("1", M("0.000000"), M("0.00")),
        "DIED05": ("1", M("1.000000"), M("300.00")),
        "JOIN10": ("2", M("0.000000"), M("0.00")),
        "UPTIER": ("1", M("1.000000"), M("300.00")),
        "STEADY": ("2", M("1.000000"), M("450.00")),
    }
    assert run.total == M("1050.00")


def test_mid_month_pays_members_enrolled_on_the_15th(contract_factory, provider_scope, analyst_scope):
    run = march_run(contract_factory, provider_scope, analyst_scope, proration_rule="mid_month")
    assert details_of(run) == {
        "JOIN20": ("1", M("0.000000"), M("0.00")),
        "DIED05": ("1", M("0.000000"), M("0.00")),
        "JOIN10": ("2", M("1.000000"), M("450.00")),
        "UPTIER": ("1", M("1.000000"), M("300.00")),
        "STEADY": ("2", M("1.000000"), M("450.00")),
    }
    assert run.total == M("1200.00")


def test_daily_pays_days_enrolled_over_days_in_month_at_the_highest_tier(
    contract_factory, provider_scope, analyst_scope
):
    run = march_run(
        contract_factory, provider_scope, analyst_scope, proration_rule="daily", tier_rule="highest"
    )
    assert details_of(run) == {
        "JOIN20": ("1", M("0.387097"), M("116.13")),  # 12/31 x 300 = 116.129...
        "DIED05": ("1", M("0.161290"), M("48.39")),  # 5/31 x 300 = 48.387 -> 48.39 (half-up)
        "JOIN10": ("2", M("0.709677"), M("319.35")),  # 22/31 x 450 = 319.35
        "UPTIER": ("3", M("1.000000"), M("612.35")),  # highest tier of the month, the whole member-month
        "STEADY": ("2", M("1.000000"), M("450.00")),
    }
    assert lines_of(run) == [
        ("member_months", "1/URBAN/medicaid", MAR, 2, M("0.548387"), M("164.52")),
        ("member_months", "2/URBAN/medicaid", MAR, 2, M("1.709677"), M("769.35")),
        ("member_months", "3/URBAN/medicaid", MAR, 1, M("1.000000"), M("612.35")),
    ]
    assert run.total == M("1546.22")


def test_assessments_are_paid_whatever_the_outcome_and_the_unpayable_are_listed_with_the_reason(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory(withhold_percentage=M("0.05"))
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        rows=[member("A1")],
        assessments=[assessment("A1", D(2026, 1, 5))],
    )
    pay(scope=analyst_scope, contract=contract, month=JAN)
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=FEB,
        rows=[member("A1")],
        assessments=[
            assessment("A1", D(2026, 2, 3)),  # a second one inside the look-back window: flagged, not paid
            assessment("X2", D(2026, 2, 4), outcome="declined"),
            assessment("X3", D(2026, 2, 9), outcome="deceased"),
        ],
    )
    run = calculate(scope=analyst_scope, contract=contract, month=FEB)
    assert lines_of(run) == [
        ("member_months", "1/URBAN/medicaid", FEB, 1, M("1.000000"), M("300.00")),
        ("assessment", "URBAN", FEB, 2, M("0"), M("683.70")),
        ("withhold", "", FEB, 0, M("0"), M("-15.00")),  # 5% of the member lines only
    ]
    assert [(a["member_id"], a["reason"]) for a in run.not_payable_assessments] == [
        ("A1", "second_in_lookback")
    ]
    assert run.total == M("968.70")
    assert_balanced(run)


def test_the_withhold_is_rounded_half_up_on_the_sum_of_the_member_lines(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory(
        withhold_percentage=M("0.0250"), rates={"1": M("300.10"), "2": M("450.00"), "3": M("612.35")}
    )
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("W1")])
    run = calculate(scope=analyst_scope, contract=contract, month=JAN)
    withhold = run.lines.get(kind="withhold")
    assert withhold.amount == M("-7.50")  # 0.025 x 300.10 = 7.5025 -> 7.50
    assert withhold.rate == M("0.0250") and run.total == M("292.60")


def test_a_retroactive_change_inside_the_window_pays_recomputed_minus_paid_per_member_and_month(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory(proration_rule="daily")
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        rows=[member("R1"), member("R2"), member("R3", tier="2")],
    )
    pay(scope=analyst_scope, contract=contract, month=JAN)
    # January again: R1 died on the 10th, R2 was tier 3 all along, R3 was never enrolled, R4 was forgotten.
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        today=D(2026, 2, 20),
        rows=[member("R1", end=D(2026, 1, 10)), member("R2", tier="3"), member("R4", start=D(2026, 1, 17))],
    )
    submit_roster(provider_scope=provider_scope, contract=contract, month=FEB, rows=[member("R2", tier="3")])
    run = calculate(scope=analyst_scope, contract=contract, month=FEB)
    retro = run.lines.get(kind="retro_adjustment")
    adjustments = {d.member_id: (d.month, d.amount) for d in PaymentDetail.objects.filter(line=retro)}
    assert adjustments == {
        "R1": (JAN, M("-203.23")),  # 10/31 x 300 = 96.77 instead of 300.00
        "R2": (JAN, M("312.35")),  # 612.35 - 300.00
        "R3": (JAN, M("-450.00")),  # taken back
        "R4": (JAN, M("145.16")),  # 15/31 x 300, paid late
    }
    assert (retro.service_month, retro.amount, retro.count) == (JAN, M("-195.72"), 4)
    assert run.total == M("612.35") + M("-195.72")
    assert run.outside_window == []
    assert_balanced(run)
    services.payment_run_approve(scope=second_scope(analyst_scope), run=run)
    # Everything was settled: March sees no difference for January any more.
    submit_roster(provider_scope=provider_scope, contract=contract, month=MAR, rows=[member("R2", tier="3")])
    march = calculate(scope=analyst_scope, contract=contract, month=MAR)
    assert [line.kind for line in march.lines.all()] == ["member_months"]


def test_a_change_older_than_the_retro_window_is_reported_not_paid_and_only_once(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory(retro_window_months=1)
    for month in (JAN, FEB):
        submit_roster(
            provider_scope=provider_scope, contract=contract, month=month, rows=[member("O1"), member("O2")]
        )
        pay(scope=analyst_scope, contract=contract, month=month)
    # January corrected late in February (still accepted then), but March's run comes two months after it.
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, today=D(2026, 2, 27), rows=[member("O1")]
    )
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=MAR, rows=[member("O1"), member("O2")]
    )
    march = pay(scope=analyst_scope, contract=contract, month=MAR)
    assert march.lines.filter(kind="retro_adjustment").count() == 0
    assert march.outside_window == [
        {"member_id": "O2", "month": "2026-01", "difference": "-300.00", "reason": "outside_retro_window"}
    ]
    assert march.total == M("600.00")
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=APR, rows=[member("O1"), member("O2")]
    )
    april = calculate(scope=analyst_scope, contract=contract, month=APR)
    assert april.outside_window == [] and april.total == M("600.00")


def test_running_a_paid_month_again_creates_nothing_unless_its_roster_changed_then_only_the_adjustment(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory()
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        rows=[member("I1"), member("I2")],
        assessments=[assessment("I2", D(2026, 1, 8))],
    )
    first = pay(scope=analyst_scope, contract=contract, month=JAN)
    entries = LedgerEntry.objects.count()
    again, created = services.payment_run_start(
        scope=analyst_scope, contract=contract, month="2026-01", enqueue=False
    )
    assert (again, created) == (first, False)
    assert PaymentRun.objects.count() == 1 and LedgerEntry.objects.count() == entries

    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        today=D(2026, 2, 3),
        rows=[member("I1"), member("I2", tier="2")],
        assessments=[assessment("I2", D(2026, 1, 8)), assessment("I3", D(2026, 1, 9))],
    )
    adjustment = calculate(scope=analyst_scope, contract=contract, month=JAN)
    assert (adjustment.kind, adjustment.number) == ("adjustment", 2)
    assert lines_of(adjustment) == [
        ("assessment", "URBAN", JAN, 1, M("0"), FEE),  # the assessment added to January
        ("retro_adjustment", "", JAN, 1, M("0.000000"), M("150.00")),  # I2 tier 1 -> 2
    ]
    services.payment_run_approve(scope=second_scope(analyst_scope), run=adjustment)
    paid = sum(LedgerEntry.objects.filter(contract=contract).values_list("amount", flat=True))
    assert paid == M("300.00") + M("450.00") + FEE * 2
    third, created = services.payment_run_start(
        scope=analyst_scope, contract=contract, month=JAN, enqueue=False
    )
    assert (third, created) == (adjustment, False)
    assert PaymentRun.objects.count() == 2


def test_calculating_twice_or_after_approval_changes_nothing(contract_factory, provider_scope, analyst_scope):
    contract = contract_factory()
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("C1")])
    run, _ = services.payment_run_start(scope=analyst_scope, contract=contract, month=JAN, enqueue=False)
    services.payment_run_calculate(run_id=run.pk)
    snapshot = lines_of(PaymentRun.objects.get(pk=run.pk))
    services.payment_run_calculate(run_id=run.pk)  # a duplicate delivery
    run.refresh_from_db()
    assert lines_of(run) == snapshot and run.attempts == 1
    services.payment_run_approve(scope=second_scope(analyst_scope), run=run)
    services.payment_run_calculate(run_id=run.pk)  # a very late retry
    assert LedgerEntry.objects.filter(run=run).count() == 1
    with pytest.raises(ConflictError):
        services.payment_run_approve(scope=second_scope(analyst_scope), run=run)  # never posted twice
    assert LedgerEntry.objects.filter(run=run).count() == 1


def test_two_runs_of_one_contract_month_are_never_open_at_once(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory()
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("U1")])
    run, created = services.payment_run_start(
        scope=analyst_scope, contract=contract, month=JAN, enqueue=False
    )
    same, created_again = services.payment_run_start(
        scope=analyst_scope, contract=contract, month=JAN, enqueue=False
    )
    assert created and not created_again and same == run
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentRun.objects.create(contract=contract, month=JAN, number=2)


def test_a_run_whose_roster_changed_before_approval_is_refused_then_calculated_again(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory()
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("S1")])
    run = calculate(scope=analyst_scope, contract=contract, month=JAN)
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("S1"), member("S2")]
    )
    with pytest.raises(ConflictError) as info:
        services.payment_run_approve(scope=second_scope(analyst_scope), run=run)
    assert info.value.code == "run_stale" and not LedgerEntry.objects.exists()
    again = calculate(scope=analyst_scope, contract=contract, month=JAN)
    assert again.pk == run.pk and again.total == M("600.00")
    services.payment_run_approve(scope=second_scope(analyst_scope), run=again)
    assert LedgerEntry.objects.count() == 1


def test_a_run_calculated_before_another_month_was_posted_must_be_calculated_again(
    contract_factory, provider_scope, analyst_scope
):
    """Two runs in review that would both adjust January can never both be posted."""
    contract = contract_factory()
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("P1")])
    pay(scope=analyst_scope, contract=contract, month=JAN)
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        today=D(2026, 2, 6),
        rows=[member("P1", tier="3")],
    )
    submit_roster(provider_scope=provider_scope, contract=contract, month=FEB, rows=[member("P1", tier="3")])
    adjustment = calculate(scope=analyst_scope, contract=contract, month=JAN)
    february = calculate(scope=analyst_scope, contract=contract, month=FEB)
    assert february.lines.filter(kind="retro_adjustment").get().amount == M("312.35")
    services.payment_run_approve(scope=second_scope(analyst_scope), run=adjustment)
    with pytest.raises(ConflictError):
        services.payment_run_approve(scope=second_scope(analyst_scope), run=february)
    february = calculate(scope=analyst_scope, contract=contract, month=FEB)
    assert not february.lines.filter(kind="retro_adjustment").exists()
    services.payment_run_approve(scope=second_scope(analyst_scope), run=february)
    paid = sum(LedgerEntry.objects.filter(contract=contract).values_list("amount", flat=True))
    assert paid == M("612.35") * 2  # January once at tier 3, February at tier 3: nothing twice


def test_approval_posts_one_ledger_entry_per_line_in_sequence(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory(withhold_percentage=M("0.05"))
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        rows=[member("L1"), member("L2", tier="2")],
        assessments=[assessment("L3", D(2026, 1, 4))],
    )
    run = pay(scope=analyst_scope, contract=contract, month=JAN)
    entries = list(LedgerEntry.objects.filter(contract=contract).order_by("sequence"))
    assert [e.sequence for e in entries] == [1, 2, 3, 4]
    assert [e.kind for e in entries] == ["member_months", "member_months", "assessment", "withhold"]
    assert sum(e.amount for e in entries) == run.total == M("750.00") + FEE - M("37.50")
    assert run.requested_by == analyst_scope.user and run.approved_by == second_scope(analyst_scope).user
    assert run.history.filter(status="approved").exists()


def test_the_database_refuses_to_change_a_posted_entry(contract_factory, provider_scope, analyst_scope):
    contract = contract_factory()
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("T1")])
    pay(scope=analyst_scope, contract=contract, month=JAN)
    entry = LedgerEntry.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=M("1.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        entry.note = "edited"
        entry.save()
    if (
        connection.vendor == "postgresql"
    ):  # SQLite guards UPDATE only (Django's test flush deletes rows there)
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntry.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.amount == M("300.00") and entry.note == ""


def test_a_correction_is_a_reversing_entry_plus_a_new_one(contract_factory, provider_scope, analyst_scope):
    contract = contract_factory()
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("K1")])
    pay(scope=analyst_scope, contract=contract, month=JAN)
    entry = LedgerEntry.objects.get()
    correction = services.ledger_correction_request(
        scope=analyst_scope, entry=entry, amount=M("290.00"), reason="Rate keyed wrongly"
    )
    correction = services.ledger_correction_approve(scope=second_scope(analyst_scope), correction=correction)
    reversal, replacement = correction.reversal, correction.replacement
    assert (reversal.sequence, reversal.amount, reversal.reverses) == (2, M("-300.00"), entry)
    assert (replacement.sequence, replacement.amount, replacement.reverses) == (3, M("290.00"), None)
    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == M("290.00")
    with pytest.raises(ConflictError):
        services.ledger_correction_request(scope=analyst_scope, entry=entry, amount=M("1"), reason="again")
    with pytest.raises(ConflictError):
        services.ledger_correction_request(scope=analyst_scope, entry=reversal, amount=M("1"), reason="again")


def test_a_month_without_an_accepted_roster_or_outside_the_contract_is_refused(
    contract_factory, analyst_scope
):
    contract = contract_factory()
    with pytest.raises(ConflictError) as info:
        services.payment_run_start(scope=analyst_scope, contract=contract, month=JAN, enqueue=False)
    assert info.value.code == "no_accepted_roster"
    with pytest.raises(ApplicationError) as info:
        services.payment_run_start(scope=analyst_scope, contract=contract, month="2024-12", enqueue=False)
    assert info.value.code == "contract_not_in_force"
    with pytest.raises(ApplicationError) as info:
        services.payment_run_start(scope=analyst_scope, contract=contract, month="2026-13", enqueue=False)
    assert info.value.code == "invalid_month"


def test_the_daily_job_starts_runs_after_the_due_day_once_and_requeues_stalled_runs(
    contract_factory, provider_scope, analyst_scope, monkeypatch, django_capture_on_commit_callbacks
):
    """The due runs go through month-end (tests/payments/test_month_end.py); a run stuck calculating is
    queued again by itself."""
    queued = []
    monkeypatch.setattr("payments.tasks.calculate_run.delay", lambda run_id: queued.append(run_id))
    monkeypatch.setattr("core.bulk._send", lambda item_ids: [bulk.bulk_item_run(item_id=i) for i in item_ids])
    contract = contract_factory(roster_due_day=10)
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("B1")])
    with django_capture_on_commit_callbacks(execute=True):
        assert services.payment_runs_start_due(today=D(2026, 2, 10)) == []  # due day itself: not yet
    with django_capture_on_commit_callbacks(execute=True):
        assert services.payment_runs_start_due(today=D(2026, 2, 11)) == [f"{contract.number} 2026-01"]
    run = PaymentRun.objects.get()
    assert run.status == "review" and run.requested_by is None and queued == []
    with django_capture_on_commit_callbacks(execute=True):
        assert services.payment_runs_start_due(today=D(2026, 2, 12)) == []  # once
    PaymentRun.objects.filter(pk=run.pk).update(
        status="calculating", started_at=timezone.now() - dt.timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.payment_runs_start_due(today=D(2026, 2, 12)) == [f"run {run.pk} queued again"]
    assert queued == [run.pk]


def test_a_run_with_a_member_in_a_cell_without_a_rate_fails_with_the_reason(
    contract_factory, provider_scope, analyst_scope, monkeypatch
):
    contract = contract_factory(markets=("URBAN", "URBAN-E"))
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        rows=[member("F1"), member("F2", market="URBAN-E")],
    )
    from contracts.terms import RateCell
    from payments.services import runs as payment_runs

    real = payment_runs.build_plan

    def without_urban_e(**kwargs):
        plan = real(**kwargs)
        plan.terms.rates.pop(RateCell("1", "URBAN-E", "medicaid"))
        return plan

    monkeypatch.setattr(payment_runs, "build_plan", without_urban_e)  # where _calculate looks it up
    run = calculate(scope=analyst_scope, contract=contract, month=JAN)
    assert run.status == "failed" and run.error["code"] == "missing_rate"
    assert run.error["details"]["cells"] == [{"tier": "1", "market": "URBAN-E", "lob": "medicaid"}]
    assert not run.lines.exists()


def test_a_run_over_its_soft_time_limit_fails_with_the_reason_and_no_line(
    contract_factory, provider_scope, analyst_scope, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    from payments.services import runs as payment_runs
    from payments.tasks import calculate_run

    contract = contract_factory(markets=("URBAN",))
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("T1")])
    real = payment_runs._member_month_lines

    def out_of_time(*args, **kwargs):
        real(*args, **kwargs)  # lines built, then Celery's soft time limit strikes
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(payment_runs, "_member_month_lines", out_of_time)
    run, _created = services.payment_run_start(
        scope=analyst_scope, contract=contract, month=JAN, enqueue=False
    )
    assert calculate_run.apply(args=[run.pk]).get() == "failed"
    run.refresh_from_db()
    assert run.status == "failed" and run.error["code"] == "time_limit"
    assert run.error["message"] == (
        "The calculation took longer than the limit of 10 minutes for a payment run; request it again."
    )
    assert not run.lines.exists()
