"""Partitioned history (core.partitions; docs/operations.md, "Partitioned history"): on PostgreSQL the
large append-only tables are partitioned by month, the coming months are made ahead, queries for a
month read only its partition, expired months are detached to the archive schema; SQLite keeps one
plain table per model.

The PostgreSQL tests run in the test's transaction: the partitions they make and detach are rolled
back with it.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from claims.models import ClaimLineRow, ClaimsUpload
from core.models import AccessEvent
from core.partitions import (
    ARCHIVE_SCHEMA,
    _read_schema,
    add_months,
    ensure_partitions,
    month_partition_name,
    month_start,
    partition_by_month,
    partitioned_tables,
)
from core.tasks import ensure_partitions as ensure_partitions_task
from enrollment.models import MemberMonth, RosterSubmission
from payments.models import LineKind, PaymentDetail, PaymentLine, PaymentRun
from tests.factories import ContractFactory, MembershipFactory

#: Each partitioned table and the column its months are of.
PARTITIONED = {
    "claims_claimlinerow": "service_from",
    "core_accessevent": "at",
    "enrollment_membermonth": "month",
    "payments_paymentdetail": "month",
}
#: Left whole: foreign keys point at them (docs/operations.md says which).
NOT_PARTITIONED = ("payments_paymentline", "payments_ledgerentry")

ON_POSTGRESQL = connection.vendor == "postgresql"
postgresql_only = pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="table partitioning is PostgreSQL's; SQLite keeps one table per model (CI runs PostgreSQL)",
)

TODAY = timezone.now().date()
CURRENT = month_start(TODAY)


def test_months_add_across_years():
    assert add_months(dt.date(2026, 11, 1), 2) == dt.date(2027, 1, 1)
    assert add_months(dt.date(2026, 1, 1), -1) == dt.date(2025, 12, 1)
    assert add_months(dt.date(2026, 5, 1), -120) == dt.date(2016, 5, 1)
    assert month_start(dt.date(2026, 2, 28)) == dt.date(2026, 2, 1)
    assert month_partition_name("core_accessevent", dt.date(2027, 3, 1)) == "core_accessevent_p202703"


@pytest.mark.django_db
@pytest.mark.skipif(ON_POSTGRESQL, reason="the SQLite side: PostgreSQL's tables are partitioned")
def test_sqlite_keeps_plain_tables_and_ensuring_partitions_does_nothing(capsys):
    assert partitioned_tables(connection) == []
    report = ensure_partitions(connection, months_ahead=3, retention_months=1)
    assert (report.created, report.detached, report.skipped) == ([], [], [])
    call_command("ensure_partitions")
    assert "nothing to do" in capsys.readouterr().out
    event = _event()
    assert AccessEvent.objects.get(pk=event.pk) == event


@pytest.mark.django_db
def test_the_daily_task_is_scheduled_and_runs(settings):
    assert settings.CELERY_BEAT_SCHEDULE["core-ensure-partitions"]["task"] == "core.ensure_partitions"
    ensure_partitions_task()  # the migrations made the months ahead; nothing is old enough to detach
    assert all(add_months(CURRENT, 3) in t.months() for t in partitioned_tables(connection))


# --- PostgreSQL ----------------------------------------------------------------------------------


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _partition_of(table: str, pk: int) -> str:
    return _rows(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [pk])[0][0]  # noqa: S608


def _event(**fields) -> AccessEvent:
    membership = MembershipFactory()
    return AccessEvent.objects.create(
        user=membership.user,
        organization=membership.organization,
        action="roster.view",
        object_type="roster_submission",
        object_id="1",
        **fields,
    )


def _event_at(at: dt.datetime) -> AccessEvent:
    event = _event()
    AccessEvent.objects.filter(pk=event.pk).update(at=at)  # ``at`` is auto_now_add; the row moves partition
    event.refresh_from_db()
    return event


def _midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _claim_line(service_from: dt.date, **fields) -> ClaimLineRow:
    contract = ContractFactory()
    upload = ClaimsUpload.objects.create(
        payer=contract.payer,
        status="accepted",
        file="claims/x.csv",
        original_filename="x.csv",
        file_sha256="0",
    )
    values = dict(
        upload=upload,
        payer=contract.payer,
        row=1,
        member_id="M1",
        claim_id="C1",
        line_number=1,
        claim_type="professional",
        frequency_code="1",
        service_from=service_from,
        service_to=service_from,
        paid_date=service_from,
        paid_amount=Decimal("100.00"),
    )
    return ClaimLineRow.objects.create(**{**values, **fields})


def _payment_line(month: dt.date) -> PaymentLine:
    run = PaymentRun.objects.create(contract=ContractFactory(), month=month)
    return PaymentLine.objects.create(run=run, kind=LineKind.MEMBER_MONTHS, service_month=month)


def _submission(month: dt.date) -> RosterSubmission:
    return RosterSubmission.objects.create(
        contract=ContractFactory(), month=month, version=1, file="rosters/x.csv", original_filename="x.csv"
    )


def _member_month(submission: RosterSubmission, member_id: str) -> MemberMonth:
    return MemberMonth(
        submission=submission,
        contract=submission.contract,
        month=submission.month,
        member_id=member_id,
        tier="high",
        market="urban",
        lob="mapd",
        member_months=Decimal("1"),
        days_enrolled=30,
    )


@postgresql_only
@pytest.mark.django_db
def test_each_history_table_is_partitioned_by_month_with_its_key_in_its_unique_keys():
    found = {table.name: table for table in partitioned_tables(connection)}
    assert {name: table.key for name, table in found.items()} == PARTITIONED
    for name, key in PARTITIONED.items():
        assert found[name].default in found[name].partitions
        # A unique index, not a constraint: pg_restore --clean could not drop a partition's share of one.
        ((definition,),) = _rows("SELECT pg_get_indexdef(%s::regclass)", [f"{name}_pkey"])
        assert definition.endswith(f"USING btree (id, {key})") and " UNIQUE INDEX " in definition
        assert not _rows(
            "SELECT 1 FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('p', 'u')", [name]
        )
    partitioned = {row[0] for row in _rows("SELECT partrelid::regclass::text FROM pg_partitioned_table")}
    assert not partitioned & set(NOT_PARTITIONED)


@postgresql_only
@pytest.mark.django_db
def test_a_table_something_points_at_is_refused():
    with connection.cursor() as cursor, pytest.raises(RuntimeError, match="foreign keys point at it"):
        _read_schema(cursor, "payments_ledgerentry")


@postgresql_only
@pytest.mark.django_db
def test_the_migrations_made_two_years_back_for_history_loaded_later():
    for table in partitioned_tables(connection):
        assert all(add_months(CURRENT, -k) in table.months() for k in range(25)), table.name


@postgresql_only
@pytest.mark.django_db
def test_months_back_are_made_on_request_unless_their_rows_are_in_the_default_partition():
    old = add_months(CURRENT, -40)
    _event_at(_midnight_utc(old))
    report = ensure_partitions(connection, months_ahead=3, months_back=42)
    assert month_partition_name("core_accessevent", add_months(CURRENT, -41)) in report.created
    assert month_partition_name("core_accessevent", old) in report.skipped
    assert month_partition_name("claims_claimlinerow", old) in report.created


@postgresql_only
@pytest.mark.django_db
def test_ensure_partitions_makes_the_current_month_and_those_ahead_once():
    report = ensure_partitions(connection, months_ahead=30)
    for table in partitioned_tables(connection):
        months = table.months()
        assert all(add_months(CURRENT, k) in months for k in range(31)), table.name
    # The migrations made three months ahead: the last of the thirty is new.
    assert month_partition_name("core_accessevent", add_months(CURRENT, 30)) in report.created
    again = ensure_partitions(connection, months_ahead=30)
    assert (again.created, again.detached, again.skipped) == ([], [], [])


@postgresql_only
@pytest.mark.django_db
def test_ensure_partitions_command_reports_what_it_made(capsys, settings):
    settings.PARTITION_MONTHS_AHEAD = 31
    call_command("ensure_partitions", "--no-detach")
    out = capsys.readouterr().out
    assert f"Created {month_partition_name('payments_paymentdetail', add_months(CURRENT, 31))}" in out
    assert "(31 months ahead; nothing detached)" in out


@postgresql_only
@pytest.mark.django_db
def test_rows_far_in_the_past_or_future_land_in_the_default_partition():
    old, future, now = (
        _event_at(_midnight_utc(dt.date(1999, 1, 15))),
        _event_at(_midnight_utc(dt.date(2999, 1, 15))),
        _event(),
    )
    assert _partition_of("core_accessevent", old.pk) == "core_accessevent_default"
    assert _partition_of("core_accessevent", future.pk) == "core_accessevent_default"
    assert _partition_of("core_accessevent", now.pk) == month_partition_name(
        "core_accessevent", month_start(now.at.astimezone(dt.UTC).date())
    )
    line = _claim_line(dt.date(1990, 6, 1))
    assert _partition_of("claims_claimlinerow", line.pk) == "claims_claimlinerow_default"
    detail = PaymentDetail.objects.create(
        line=_payment_line(CURRENT), member_id="M1", month=dt.date(3000, 1, 1), amount=Decimal("1")
    )
    assert _partition_of("payments_paymentdetail", detail.pk) == "payments_paymentdetail_default"
    assert set(AccessEvent.objects.values_list("pk", flat=True)) == {old.pk, future.pk, now.pk}


@postgresql_only
@pytest.mark.django_db
def test_a_month_in_the_default_partition_gets_no_partition_of_its_own():
    # PostgreSQL would refuse the partition (the default holds its rows): the month is reported instead.
    far = add_months(CURRENT, 9)
    _event_at(_midnight_utc(far))
    report = ensure_partitions(connection, months_ahead=10)
    assert month_partition_name("core_accessevent", far) in report.skipped
    assert month_partition_name("core_accessevent", add_months(CURRENT, 10)) in report.created


def _scanned(plan: str, table: str) -> set[str]:
    return set(re.findall(rf"\b{table}_(p\d{{6}}|default)", plan))


@postgresql_only
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "table", "month_filter"),
    [
        (
            AccessEvent,
            "core_accessevent",
            lambda m, n: {"at__gte": _midnight_utc(m), "at__lt": _midnight_utc(n)},
        ),
        (ClaimLineRow, "claims_claimlinerow", lambda m, n: {"service_from__gte": m, "service_from__lt": n}),
        (MemberMonth, "enrollment_membermonth", lambda m, n: {"month": m}),
        (PaymentDetail, "payments_paymentdetail", lambda m, n: {"month__gte": m, "month__lt": n}),
    ],
)
def test_a_query_for_one_month_reads_only_that_months_partition(model, table, month_filter):
    month = add_months(CURRENT, 1)
    plan = model.objects.filter(**month_filter(month, add_months(month, 1))).explain()
    assert _scanned(plan, table) == {f"p{month:%Y%m}"}, plan
    # Without the month every partition is read (the default one too).
    everything = model.objects.all().explain()
    assert {"default", f"p{CURRENT:%Y%m}", f"p{month:%Y%m}"} <= _scanned(everything, table)


@postgresql_only
@pytest.mark.django_db
def test_retention_detaches_only_the_months_before_the_window_to_the_archive():
    first = add_months(CURRENT, -14)
    ensure_partitions(connection, months_ahead=3, today=first)  # months -14 to -11
    kept_event = _event_at(_midnight_utc(add_months(CURRENT, -12)))
    archived_event = _event_at(_midnight_utc(add_months(first, 0)) + dt.timedelta(days=3))

    before = partitioned_tables(connection)
    report = ensure_partitions(connection, months_ahead=3, retention_months=12)

    # Every month that ended 12 months or more before the current one (the migrations made 24 back).
    expected = {
        f"{ARCHIVE_SCHEMA}.{name}"
        for table in before
        for month, name in table.months().items()
        if add_months(month, 1) <= add_months(CURRENT, -12)
    }
    assert set(report.detached) == expected
    assert {
        f"{ARCHIVE_SCHEMA}.{month_partition_name(t, m)}"
        for t in PARTITIONED
        for m in (first, add_months(first, 1))
    } <= expected
    for table in partitioned_tables(connection):
        months = table.months()
        assert first not in months and add_months(first, 1) not in months
        assert {add_months(CURRENT, -12), add_months(CURRENT, -11), CURRENT} <= set(months)
        assert table.default in table.partitions
    # Detached, not deleted: the row left the application's table for the archive schema.
    assert list(AccessEvent.objects.filter(pk__in=[kept_event.pk, archived_event.pk])) == [kept_event]
    archive = month_partition_name("core_accessevent", first)
    assert _rows(f"SELECT id FROM {ARCHIVE_SCHEMA}.{archive}") == [(archived_event.pk,)]  # noqa: S608


@postgresql_only
@pytest.mark.django_db
def test_a_month_archived_before_and_made_again_stays_attached():
    month = add_months(CURRENT, -20)
    first = ensure_partitions(connection, months_ahead=3, retention_months=12)
    assert f"{ARCHIVE_SCHEMA}.{month_partition_name('core_accessevent', month)}" in first.detached
    ensure_partitions(connection, months_ahead=3, months_back=20)  # made again (an operator's --months-back)
    again = ensure_partitions(connection, months_ahead=3, retention_months=12)
    assert month_partition_name("core_accessevent", month) in again.skipped
    assert month in next(t for t in partitioned_tables(connection) if t.name == "core_accessevent").months()


@pytest.mark.django_db
def test_the_orm_creates_filters_and_bulk_creates_with_ids():  # on both engines
    event = _event()
    assert AccessEvent.objects.get(pk=event.pk).action == "roster.view"
    event.detail = "changed"
    event.save()
    assert AccessEvent.objects.get(pk=event.pk).detail == "changed"

    line = _payment_line(CURRENT)
    details = PaymentDetail.objects.bulk_create(
        PaymentDetail(line=line, member_id=f"M{k}", month=add_months(CURRENT, -k), amount=Decimal(k))
        for k in range(3)
    )
    assert all(d.pk for d in details)
    assert sorted(line.details.values_list("pk", flat=True)) == sorted(d.pk for d in details)
    assert PaymentDetail.objects.filter(month=CURRENT).get().member_id == "M0"

    submission = _submission(CURRENT)
    rows = MemberMonth.objects.bulk_create([_member_month(submission, "M1"), _member_month(submission, "M2")])
    assert [r.pk for r in MemberMonth.objects.filter(submission=submission).order_by("member_id")] == [
        r.pk for r in rows
    ]
    # Still once per submission: the month in the unique constraint is the submission's.
    with transaction.atomic(), pytest.raises(IntegrityError):
        _member_month(submission, "M1").save()

    line.delete()  # the details go with their line (CASCADE)
    assert not PaymentDetail.objects.filter(pk__in=[d.pk for d in details]).exists()


@postgresql_only
@pytest.mark.django_db
def test_the_claim_lines_guard_holds_on_the_partitioned_table():
    line = _claim_line(CURRENT)
    with transaction.atomic(), pytest.raises(IntegrityError, match="kept as received"):
        ClaimLineRow.objects.filter(pk=line.pk).update(paid_amount=Decimal("1"))
    with transaction.atomic(), pytest.raises(IntegrityError, match="kept as received"):
        ClaimLineRow.objects.filter(pk=line.pk).delete()
    ClaimLineRow.objects.filter(pk=line.pk).update(standing=False)  # what the guard lets through
    assert not ClaimLineRow.objects.get(pk=line.pk).standing


@postgresql_only
@pytest.mark.django_db
def test_the_migration_reverses_to_a_plain_table_and_back_keeping_rows_and_ids():
    old = _event_at(_midnight_utc(dt.date(2020, 2, 10)))
    now = _event()
    operation = partition_by_month("core_accessevent", "at")
    with connection.schema_editor() as editor:
        operation.reverse_code(None, editor)
    assert "core_accessevent" not in {t.name for t in partitioned_tables(connection)}
    assert set(AccessEvent.objects.values_list("pk", flat=True)) == {old.pk, now.pk}
    with connection.schema_editor() as editor:
        operation.code(None, editor)
    table = next(t for t in partitioned_tables(connection) if t.name == "core_accessevent")
    # Every month from the oldest row's: 2020-02 has its partition now.
    assert dt.date(2020, 2, 1) in table.months()
    assert _partition_of("core_accessevent", old.pk) == "core_accessevent_p202002"
    assert _event().pk > now.pk  # the identity goes on after the copied ids
