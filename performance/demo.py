"""Demo performance data: a year of utilisation for the demo members, the plan's unit costs and a
rural patient story.

For every member on the demo contracts' current rosters: the nine months before their first
enrolled month (the baseline) and their enrolled months, with ED visits and admissions dropping
visibly once the palliative team is in (about 0.45 ED visits per member-month before, 0.12 after),
TCOC falling from about $4,400 to $3,100 PMPM, advance care plans documented for most new
enrollees within 60 days, satisfaction scores, and the demo's death at home. Loaded through the
upload service as one CSV (kept like any upload). Safe to run twice: a plan that already has an
accepted upload is left alone.

:func:`settle` (run by seed_demo after the claims demo) settles and approves the urban contract's latest
closed quarter with member-months (withhold returned, shared savings on the ledger), so both sides can
see a settlement; settling is idempotent.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

from django.db.models import Min
from django.utils import timezone

from accounts.models import Membership
from accounts.tenancy import Scope
from claims.demo import poisson
from core.bulk import bulk_item_run
from core.domain.months import shift_month
from core.errors import ApplicationError
from enrollment.models import RosterEntry
from payments import services as payment_services
from payments.models import SettlementStatus
from performance import services
from performance.ingest import COLUMNS
from performance.models import UploadStatus, UtilizationUpload
from performance.selectors import member_month_rows

BASELINE_MONTHS = 9
UNIT_COSTS = {
    "ed_visit": "1450.00",
    "inpatient_admission": "13800.00",
    "icu_admission": "24500.00",
    "readmission": "15200.00",
}
RURAL_STORY_TITLE = "Mr. H., 84, heart failure, 40 miles from the nearest hospital"
RURAL_STORY = (
    "Before he enrolled, Mr. H. had been to the emergency department five times in six months, each time by "
    "ambulance, usually at night when his breathing got worse. Our nurse now visits every week and the care "
    "navigator calls on the days between; his diuretic plan is adjusted at home and his daughter knows whom to "
    "call. He and his family wrote down what matters to him: staying on the farm. Since enrolling he has had one "
    "ED visit and no admissions. The chaplain's visits, which no fee schedule pays for, are the ones he asks about."
)


def _scope(user, organization) -> Scope:
    return Scope(
        Membership.objects.select_related("organization", "user").get(user=user, organization=organization)
    )


def utilization_rows(contract, rnd: random.Random) -> list[dict]:
    """A year of rows for the members on ``contract``'s current rosters."""
    firsts = dict(
        member_month_rows(contract)
        .values("member_id")
        .annotate(first=Min("month"))
        .values_list("member_id", "first")
    )
    if not firsts:
        return []
    last = member_month_rows(contract).order_by("-month").values_list("month", flat=True).first()
    ends = {
        e["member_id"]: e
        for e in RosterEntry.objects.filter(submission__contract=contract, submission__is_current=True)
        .exclude(disenrollment_reason="")
        .values("member_id", "enrollment_end", "disenrollment_reason")
    }
    # The ACP measure counts from the enrollment start, which for members enrolled before the demo's
    # first roster month lies before their first member-month.
    starts = dict(
        RosterEntry.objects.filter(submission__contract=contract, submission__is_current=True)
        .values("member_id")
        .annotate(start=Min("enrollment_start"))
        .values_list("member_id", "start")
    )
    rows = []
    for member_id, first in sorted(firsts.items()):
        month = shift_month(first, -BASELINE_MONTHS)
        began = starts.get(member_id, first)
        acp_day = began + dt.timedelta(
            days=rnd.randrange(3, 45) if rnd.random() < 0.92 else rnd.randrange(61, 90)
        )
        end = ends.get(member_id)
        while month <= last:
            enrolled = month >= first
            if end and month > end["enrollment_end"]:
                break
            inpatient = poisson(rnd, 0.06 if enrolled else 0.16)
            row = {
                "member_id": member_id,
                "month": month.isoformat(),
                "ed_visits": poisson(rnd, 0.12 if enrolled else 0.45),
                "inpatient_admissions": inpatient,
                "icu_admissions": poisson(rnd, 0.01 if enrolled else 0.04),
                "discharges": inpatient,
                "readmissions_30d": 1 if inpatient and rnd.random() < (0.1 if enrolled else 0.25) else 0,
                "tcoc_amount": f"{rnd.uniform(2700, 3500) if enrolled else rnd.uniform(3900, 4900):.2f}",
            }
            if month == first:  # the plan reports the date on the first enrolled month's row
                row["acp_documented_date"] = acp_day.isoformat()
            if enrolled and rnd.random() < 0.5:
                row["satisfaction_score"] = str(rnd.randint(78, 99))
            if (
                end
                and end["disenrollment_reason"] == "death"
                and month == end["enrollment_end"].replace(day=1)
            ):
                row["death_date"] = end["enrollment_end"].isoformat()
                row["death_place"] = "home"
            rows.append(row)
            month = shift_month(month, 1)
    return rows


def _csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: r.get(c, "") for c in COLUMNS} for r in rows)
    return buffer.getvalue().encode()


def seed(ctx) -> None:
    analyst = ctx.users.get("plan_analyst")
    contracts = [
        c for c in (ctx.extra.get("urban_contract"), ctx.extra.get("rural_contract")) if c is not None
    ]
    if analyst is None or not contracts:
        return
    scope = _scope(analyst, ctx.plan)
    services.unit_costs_set(scope=scope, costs=UNIT_COSTS)
    if not UtilizationUpload.objects.filter(payer=ctx.plan, status=UploadStatus.ACCEPTED).exists():
        rnd = random.Random(2026)
        rows = [row for contract in contracts for row in utilization_rows(contract, rnd)]
        if rows:
            upload = services.utilization_upload(
                scope=scope, data=_csv(rows), filename="golden-coast-utilization.csv", run_inline=True
            )
            assert upload.status == UploadStatus.ACCEPTED, upload.errors[:5]
    rural = ctx.extra.get("rural_contract")
    rural_admin = ctx.users.get("rural_admin")
    if rural is not None and rural_admin is not None:
        latest = member_month_rows(rural).order_by("-month").values_list("month", flat=True).first()
        if latest is not None:
            services.patient_story_save(
                scope=_scope(rural_admin, ctx.rural),
                contract=rural,
                period=str(latest.year),
                text=RURAL_STORY,
                title=RURAL_STORY_TITLE,
            )


def settle(ctx) -> None:
    """Settle the urban contract's latest closed quarter (seed_demo runs it after the claims)."""
    analyst, second = ctx.users.get("plan_analyst"), ctx.users.get("plan_analyst2")
    if analyst is None:
        return
    scope = _scope(analyst, ctx.plan)
    period = settle_latest_quarter(
        ctx, scope, approver=_scope(second, ctx.plan) if second is not None else None
    )
    if period is not None:
        _settle_every_contract(scope, period)


def _settle_every_contract(scope: Scope, period: str) -> None:
    """The same quarter settled for every contract, its items done here (the urban contract's finds its
    approved settlement unchanged)."""
    try:
        _operation, queued = payment_services.settlement_all_start(scope=scope, period=period)
    except ApplicationError:
        return  # e.g. no contract was in force then: nothing to settle
    for item in queued:
        bulk_item_run(item_id=item.pk)


def latest_closed_quarter(contract, today: dt.date) -> str | None:
    """The code of the latest quarter that is over and has member-months (the demo settles it)."""
    for month in member_month_rows(contract).order_by("-month").values_list("month", flat=True).distinct():
        quarter_start = month.replace(month=3 * ((month.month - 1) // 3) + 1)
        if shift_month(quarter_start, 3) <= today:
            return f"{month.year}-Q{(month.month - 1) // 3 + 1}"
    return None


def settle_latest_quarter(ctx, scope: Scope, approver: Scope | None = None) -> str | None:
    """Settle the latest closed quarter (requested by ``scope``) and approve it as ``approver``, the
    second analyst (four eyes); without one the settlement stays in review. Returns the quarter's code."""
    contract = ctx.extra.get("urban_contract")
    period = latest_closed_quarter(contract, timezone.localdate()) if contract is not None else None
    if period is None:
        return None
    settlement, _created = payment_services.settlement_request(scope=scope, contract=contract, period=period)
    if settlement.status == SettlementStatus.REVIEW and approver is not None:
        payment_services.settlement_approve(scope=approver, settlement=settlement)
    return period
