"""The two statements that make a payment run fast on a large contract (docs/formats.md, bench/bench_payments.py).

Member lines are priced inside the database: one ``INSERT ... SELECT`` writes a detail row per
member (member-months x PMPM, rounded half-up to the cent) joined to its rate cell's line, and
one ``GROUP BY`` adds them up per line. Rounding uses integer arithmetic so that SQLite (which
stores decimals as floating point) and PostgreSQL (exact numerics) give the same cents as
``core.domain.money.to_cents``: member-months in millionths x the rate in ten-thousandths, plus
half a cent, divided by a cent with truncation (both factors are never negative).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet

from payments.models import LineKind, PaymentDetail, PaymentLine, PaymentRun, PaymentRunStatus

MM_SCALE = 1_000_000  # member-months are stored with 6 places
RATE_SCALE = 10_000  # rates with at most 4 places
_HALF_CENT = MM_SCALE * RATE_SCALE // 200  # 0.005 in (mm x rate) units
_CENT = MM_SCALE * RATE_SCALE // 100


def priced_cents(member_months: str, rate: str) -> str:
    """SQL for ``round_half_up(member_months x rate)`` in whole cents, from two SQL expressions (both >= 0)."""
    return (
        f"((CAST(ROUND({member_months} * {MM_SCALE}) AS BIGINT) * CAST(ROUND({rate} * {RATE_SCALE}) AS BIGINT)"
        f" + {_HALF_CENT}) / {_CENT})"
    )


def insert_member_details(*, run_id: int, month: date, source: QuerySet, unpriced_line_id: int) -> int:
    """Price every row of ``source`` (enrollment's payable member-months) into a detail row under the run's
    member-month line of the same rate cell. A row whose cell has no line (no PMPM in the terms) goes under
    ``unpriced_line_id`` at zero, for the caller to refuse. Returns the number of rows written."""
    sub_sql, sub_params = source.order_by().query.sql_with_params()
    detail, line = PaymentDetail._meta.db_table, PaymentLine._meta.db_table
    amount = f"{priced_cents('mm.member_months', 'COALESCE(l.rate, 0)')} / 100.0"
    # Table names and integer constants only are formatted in; every value is a parameter.
    statement = (
        f"INSERT INTO {detail} (line_id, member_id, month, tier, market, lob, phase, member_months, amount, reference) "  # noqa: S608
        f"SELECT COALESCE(l.id, %s), mm.member_id, %s, mm.tier, mm.market, mm.lob, mm.phase, mm.member_months, "
        f"{amount}, '' FROM ({sub_sql}) mm LEFT JOIN {line} l ON l.run_id = %s AND l.kind = %s "
        f"AND l.tier = mm.tier AND l.market = mm.market AND l.lob = mm.lob AND l.phase = mm.phase"
    )
    params = [
        unpriced_line_id,
        connection.ops.adapt_datefield_value(month),
        *sub_params,
        run_id,
        LineKind.MEMBER_MONTHS.value,
    ]
    with connection.cursor() as cursor:
        if (
            connection.vendor == "sqlite"
        ):  # a larger page cache for this connection: a million rows and their index
            cursor.execute("PRAGMA cache_size = -131072")
        cursor.execute(statement, params)
        return cursor.rowcount


def member_line_totals(*, run_id: int) -> dict[int, tuple[int, Decimal, Decimal]]:
    """Per member-month line of the run: (members, member-months, amount), summed exactly."""
    detail, line = PaymentDetail._meta.db_table, PaymentLine._meta.db_table
    statement = (
        f"SELECT d.line_id, COUNT(*), SUM(CAST(ROUND(d.member_months * {MM_SCALE}) AS BIGINT)), "  # noqa: S608
        f"SUM(CAST(ROUND(d.amount * 100) AS BIGINT)) FROM {detail} d "
        f"WHERE d.line_id IN (SELECT id FROM {line} WHERE run_id = %s AND kind = %s) GROUP BY d.line_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [run_id, LineKind.MEMBER_MONTHS.value])
        rows = cursor.fetchall()
    return {
        line_id: (count, Decimal(int(mm)) / MM_SCALE, Decimal(int(cents)) / 100)
        for line_id, count, mm, cents in rows
    }


@dataclass(frozen=True)
class Difference:
    """One member's month: recomputed from the current roster and already paid (``None``: no such side)."""

    member_id: str
    now: Decimal | None
    paid: Decimal | None
    now_member_months: Decimal
    paid_member_months: Decimal
    cell: tuple[str, str, str, str]  # tier, market, lob, phase
    unpriced: bool


def retro_differences(
    *, contract_id: int, month: date, source: QuerySet, rates: dict[tuple[str, str, str, str], Decimal]
) -> list[Difference]:
    """Members of ``month`` whose recomputed amount (``source`` x ``rates``, rounded per member) differs from
    what the contract's approved runs paid them for that month, or whose rate cell has no rate.

    One statement: the current roster's member-months priced in integer arithmetic (the rate by a CASE
    over the few rate cells) and the paid detail rows of that service month, grouped by member; only the
    members that differ come back, and their rate cells are looked up afterwards."""
    detail, line, run = PaymentDetail._meta.db_table, PaymentLine._meta.db_table, PaymentRun._meta.db_table
    cells = sorted(rates.items())
    if cells:
        rate_u = (
            "CASE "
            + " ".join(
                ["WHEN mm.tier = %s AND mm.market = %s AND mm.lob = %s AND mm.phase = %s THEN %s"]
                * len(cells)
            )
            + " END"
        )
        rate_params = [
            v
            for (tier, market, lob, phase), rate in cells
            for v in (tier, market, lob, phase, int(Decimal(rate) * RATE_SCALE))
        ]
    else:
        rate_u, rate_params = "NULL", []
    mm_u = f"CAST(ROUND(mm.member_months * {MM_SCALE}) AS BIGINT)"
    sub_sql, sub_params = source.order_by().query.sql_with_params()
    statement = (
        "SELECT u.member_id, SUM(u.now_cents), SUM(u.paid_cents), SUM(u.now_mm), SUM(u.paid_mm), "  # noqa: S608
        "SUM(u.unpriced), SUM(u.has_now), SUM(u.has_paid) FROM ("
        f"SELECT mm.member_id AS member_id, COALESCE(({mm_u} * ({rate_u}) + {_HALF_CENT}) / {_CENT}, 0) AS now_cents, "
        f"0 AS paid_cents, {mm_u} AS now_mm, 0 AS paid_mm, CASE WHEN ({rate_u}) IS NULL THEN 1 ELSE 0 END AS unpriced, "
        f"1 AS has_now, 0 AS has_paid FROM ({sub_sql}) mm "
        "UNION ALL "
        f"SELECT d.member_id, 0, CAST(ROUND(d.amount * 100) AS BIGINT), 0, "
        f"CAST(ROUND(d.member_months * {MM_SCALE}) AS BIGINT), 0, 0, 1 "
        f"FROM {detail} d INNER JOIN {line} l ON d.line_id = l.id INNER JOIN {run} pr ON l.run_id = pr.id "
        "WHERE pr.contract_id = %s AND pr.status = %s AND l.service_month = %s AND l.kind IN (%s, %s)"
        ") u GROUP BY u.member_id HAVING SUM(u.now_cents) <> SUM(u.paid_cents) OR SUM(u.unpriced) > 0"
    )
    params = [
        *rate_params,
        *rate_params,
        *sub_params,
        contract_id,
        PaymentRunStatus.APPROVED.value,
        connection.ops.adapt_datefield_value(month),
        LineKind.MEMBER_MONTHS.value,
        LineKind.RETRO_ADJUSTMENT.value,
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    now_ids = [r[0] for r in rows if r[6]]
    paid_only = [r[0] for r in rows if not r[6]]
    cells_of: dict[str, tuple[str, str, str, str]] = {}
    for start in range(0, len(now_ids), 500):
        for row in source.order_by().filter(member_id__in=now_ids[start : start + 500]):
            cells_of[row["member_id"]] = (row["tier"], row["market"], row["lob"], row["phase"])
    for start in range(0, len(paid_only), 500):
        paid_rows = (
            PaymentDetail.objects.filter(
                line__run__contract_id=contract_id,
                line__run__status=PaymentRunStatus.APPROVED,
                line__service_month=month,
                line__kind__in=[LineKind.MEMBER_MONTHS, LineKind.RETRO_ADJUSTMENT],
                member_id__in=paid_only[start : start + 500],
            )
            .order_by("pk")
            .values_list("member_id", "tier", "market", "lob", "phase")
        )
        for member_id, *cell in paid_rows:
            cells_of[member_id] = tuple(cell)  # type: ignore[assignment]
    return [
        Difference(
            member_id,
            Decimal(int(now_cents)) / 100 if has_now else None,
            Decimal(int(paid_cents)) / 100 if has_paid else None,
            Decimal(int(now_mm)) / MM_SCALE,
            Decimal(int(paid_mm)) / MM_SCALE,
            cells_of.get(member_id, ("", "", "", "")),
            bool(unpriced),
        )
        for member_id, now_cents, paid_cents, now_mm, paid_mm, unpriced, has_now, has_paid in rows
    ]


DETAIL_COLUMNS = (
    "line_id",
    "member_id",
    "month",
    "tier",
    "market",
    "lob",
    "member_months",
    "amount",
    "reference",
    "phase",
)


def insert_details(rows: list[tuple]) -> None:
    """Insert detail rows (in :data:`DETAIL_COLUMNS` order) with one prepared statement, in batches."""
    if not rows:
        return
    statement = (
        f"INSERT INTO {PaymentDetail._meta.db_table} ({', '.join(DETAIL_COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(DETAIL_COLUMNS))})"
    )
    adapt = connection.ops.adapt_datefield_value
    prepared = [
        (line_id, member_id, adapt(month), tier, market, lob, Decimal(mm), Decimal(amount), reference, phase)
        for line_id, member_id, month, tier, market, lob, mm, amount, reference, phase in rows
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(prepared), 10_000):
            cursor.executemany(statement, prepared[start : start + 10_000])
