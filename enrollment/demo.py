"""Demo enrollment: the plan's eligibility file (an 834 audit of its members) and three months of
rosters with initial assessments for each demo provider, processed through the services.

Bayview (urban, any_day/first_day, Medicaid and Medicare Advantage) has 30 members, Sierra Foothills
(rural, daily/highest, Medicaid) 24. Over the three months: a mid-month enrollment, a death, a
transfer to hospice, a tier change, a second assessment inside the look-back window (not payable),
a resubmission that adds a forgotten member (the page shows the difference) and a rejected roster
corrected the same day. Safe to run twice: a month that has a roster is left alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import Membership
from accounts.tenancy import Scope
from contracts.selectors import terms_in_force
from core.domain.months import next_month, shift_month
from core.errors import NotFoundError
from enrollment import services
from enrollment.ingest.roster import ASSESSMENT_COLUMNS, ROSTER_COLUMNS
from enrollment.models import EligibilityFile, InsuranceLineMapping, ProcessingStatus, RosterSubmission

LAST_NAMES = [
    "GARCIA",
    "NGUYEN",
    "SMITH",
    "JOHNSON",
    "LEE",
    "MARTINEZ",
    "BROWN",
    "DAVIS",
    "LOPEZ",
    "WILSON",
    "ANDERSON",
    "THOMAS",
    "TAYLOR",
    "MOORE",
    "JACKSON",
    "WHITE",
    "HARRIS",
    "CLARK",
    "LEWIS",
    "YOUNG",
]
FIRST_NAMES = [
    "MARIA",
    "JAMES",
    "LINDA",
    "ROBERT",
    "PATRICIA",
    "JOHN",
    "BARBARA",
    "MICHAEL",
    "ELIZABETH",
    "DAVID",
    "SUSAN",
    "RICHARD",
    "DOROTHY",
    "JOSEPH",
    "MARGARET",
    "CHARLES",
    "RUTH",
    "THOMAS",
    "HELEN",
    "ROSA",
]
MEDICARE_HD03 = "HLT"  # the demo plan sends Medicare Advantage as HLT and Medicaid as HMO
ELIGIBILITY_NAME = "golden-coast-eligibility-audit.834"


def _scope(user, organization) -> Scope:
    return Scope(
        Membership.objects.select_related("organization", "user").get(user=user, organization=organization)
    )


class DemoMember:
    def __init__(self, member_id, last, first, birth, market, start, tier, hd03="HMO"):
        self.member_id, self.last, self.first, self.birth = member_id, last, first, birth
        self.market, self.start, self.tier, self.hd03 = market, start, tier, hd03
        self.end: dt.date | None = None
        self.reason = ""
        self.tier_change: tuple[dt.date, str] | None = None


def _members(
    prefix: str,
    count: int,
    markets: list[str],
    first_start: dt.date,
    months: list[dt.date],
    rnd: random.Random,
    medicare_from: int | None,
) -> list[DemoMember]:
    people = []
    for i in range(count):
        birth = dt.date(1928, 1, 1) + dt.timedelta(days=rnd.randrange(365 * 35))
        span = max((months[0] - first_start).days, 1)
        start = first_start + dt.timedelta(days=rnd.randrange(span))
        hd03 = MEDICARE_HD03 if medicare_from is not None and i >= medicare_from else "HMO"
        people.append(
            DemoMember(
                f"{prefix}{i + 1:05d}",
                LAST_NAMES[(i * 7) % 20],
                FIRST_NAMES[(i * 3) % 20],
                birth,
                markets[i % len(markets)],
                start,
                str(1 + i % 3),
                hd03,
            )
        )
    m1, m2, m3 = months
    people[1].start = m2.replace(day=15)  # a mid-month enrollment
    people[2].end, people[2].reason = m2.replace(day=10), "death"  # a death
    people[3].end, people[3].reason = m1.replace(day=22), "hospice"  # a transfer to hospice
    people[4].tier, people[4].tier_change = "1", (m3.replace(day=12), "2")  # a tier change
    return people


#: Plan members like each enrolled one (same market, line of business and about the same age) who
#: never enrolled: the pool a comparison group is drawn from. GC8kkkkr is the r-th like the k-th
#: enrolled member (in member id order); claims.demo gives them their claims.
LOOKALIKES = 3
POOL_PREFIX = "GC8"


def lookalikes(people: list[DemoMember], start: dt.date) -> list[DemoMember]:
    rnd = random.Random(2027)  # its own stream: the enrolled members stay as they were
    pool = []
    for k, p in enumerate(sorted(people, key=lambda x: x.member_id)):
        for r in range(LOOKALIKES):
            birth = p.birth + dt.timedelta(days=rnd.randrange(-300, 300))
            pool.append(
                DemoMember(
                    f"{POOL_PREFIX}{k * 10 + r:05d}",
                    LAST_NAMES[(k + r) % 20],
                    FIRST_NAMES[(k * 3 + r) % 20],
                    birth,
                    p.market,
                    start,
                    "1",
                    p.hd03,
                )
            )
    return pool


def _roster_rows(people: list[DemoMember], month: dt.date) -> list[dict]:
    month_end = next_month(month)
    rows = []
    for p in people:
        if p.start >= month_end or (p.end is not None and p.end < month):
            continue
        common = {
            "member_id": p.member_id,
            "last_name": p.last,
            "first_name": p.first,
            "birth_date": p.birth.isoformat(),
            "market": p.market,
            "enrollment_start": p.start.isoformat(),
            "enrollment_end": p.end.isoformat() if p.end else "",
            "disenrollment_reason": p.reason,
        }
        if p.tier_change and p.tier_change[0] < month_end:
            rows.append({**common, "tier": p.tier, "tier_start": ""})
            rows.append({**common, "tier": p.tier_change[1], "tier_start": p.tier_change[0].isoformat()})
        else:
            rows.append({**common, "tier": p.tier, "tier_start": ""})
    return rows


def _assessment_rows(
    people: list[DemoMember],
    month: dt.date,
    months: list[dt.date],
    declined: list[DemoMember],
    reassessed: DemoMember,
) -> list[dict]:
    month_end = next_month(month)
    rows = []

    def add(p: DemoMember, day: dt.date, outcome: str, role: str = "np") -> None:
        rows.append(
            {
                "member_id": p.member_id,
                "last_name": p.last,
                "first_name": p.first,
                "birth_date": p.birth.isoformat(),
                "market": p.market,
                "assessment_date": day.isoformat(),
                "outcome": outcome,
                "assessor_role": role,
            }
        )

    for p in people:
        if month <= p.start < month_end:  # assessed a few days before (or on) enrollment
            add(p, max(month, p.start - dt.timedelta(days=3)), "enrolled")
    if month == months[0]:
        for p in people[5:8]:
            add(p, month.replace(day=4), "enrolled", "physician")
    if month == months[1]:
        for p in declined:
            add(p, month.replace(day=8), "declined")
    if month == months[2]:
        add(reassessed, month.replace(day=6), "enrolled")  # a second assessment in the look-back window
    return rows


def _csv(rows: list[dict], columns) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _834(people: list[DemoMember], eligible_from: dt.date) -> bytes:
    segs = [
        "ISA*00*          *00*          *ZZ*GOLDENCOAST    *ZZ*CAREBUNDLE     *260101*0800*^*00501*000000101*0*P*:",
        "GS*BE*GOLDENCOAST*CAREBUNDLE*20260101*0800*101*X*005010X220A1",
        "ST*834*0001*005010X220A1",
        f"BGN*00*ELIG-AUDIT*{eligible_from:%Y%m%d}*0800****4",
        "N1*P5*GOLDEN COAST HEALTH PLAN*FI*941234567",
        "N1*IN*CAREBUNDLE*FI*000000000",
    ]
    for p in people:
        name = (
            p.last if p.member_id[-2:] != "09" else p.last + "-" + "RUIZ"
        )  # a name that differs from a roster
        segs += [
            "INS*Y*18*030*XN*A",
            f"REF*0F*{p.member_id}",
            f"NM1*IL*1*{name}*{p.first}****ZZ*{p.member_id}",
            "N3*1 MAIN ST",
            f"N4*{'OAKLAND' if p.market.startswith('URBAN') else 'AUBURN'}*CA*{'94607' if p.market.startswith('URBAN') else '95603'}**CY*{p.market}",
            f"DMG*D8*{p.birth:%Y%m%d}*{'FM'[int(p.member_id[-1]) % 2]}",
            f"HD*030**{p.hd03}*PALLIATIVE CARE*IND",
            f"DTP*348*D8*{min(eligible_from, p.start):%Y%m%d}",
        ]
        if p.reason == "death":
            segs.append(f"DTP*349*D8*{p.end:%Y%m%d}")
    segs.append(f"SE*{len(segs) - 1}*0001")
    segs += ["GE*1*101", "IEA*1*000000101"]
    return ("~\n".join(segs) + "~\n").encode()


def _submit(
    scope: Scope,
    contract,
    month: dt.date,
    roster: bytes,
    assessments: bytes | None,
    name: str,
    submitted_at: dt.datetime,
    late: bool,
) -> RosterSubmission:
    submission = services.roster_submit(
        scope=scope,
        contract=contract,
        month=month,
        file=ContentFile(roster, name=f"{name}.csv"),
        assessments_file=ContentFile(assessments, name=f"{name}-assessments.csv") if assessments else None,
        run_inline=True,
    )
    # Demo history: the roster as if sent on that day (before or after the due day).
    RosterSubmission.objects.filter(pk=submission.pk).update(
        submitted_at=min(submitted_at, timezone.now()), late=late
    )
    return submission


def _seed_provider(
    ctx,
    *,
    contract,
    admin,
    people,
    months,
    declined,
    reassessed,
    resubmit_month=None,
    reject_month=None,
    late_month=None,
) -> None:
    scope = _scope(admin, contract.provider)
    for month in months:
        if RosterSubmission.objects.filter(contract=contract, month=month).exists():
            continue
        terms = terms_in_force(contract=contract, on=month)
        due = services.due_date_for(month, terms.roster_due_day)
        sent = timezone.make_aware(dt.datetime.combine(due - dt.timedelta(days=4), dt.time(9, 30)))
        rows = _roster_rows(people, month)
        assessments = _csv(_assessment_rows(people, month, months, declined, reassessed), ASSESSMENT_COLUMNS)
        name = f"{contract.number}-{month:%Y-%m}-roster"
        if month == reject_month:
            bad = [dict(r) for r in rows]
            bad[0]["tier"], bad[1]["birth_date"] = "4", "1931-02-30"
            bad.append(dict(bad[2]))  # a duplicate row
            _submit(scope, contract, month, _csv(bad, ROSTER_COLUMNS), None, name, sent, late=False)
        if month == resubmit_month:
            _submit(
                scope, contract, month, _csv(rows[:-1], ROSTER_COLUMNS), assessments, name, sent, late=False
            )
            sent += dt.timedelta(days=2)
        late = month == late_month
        _submit(
            scope,
            contract,
            month,
            _csv(rows, ROSTER_COLUMNS),
            assessments,
            name,
            sent + (dt.timedelta(days=6) if late else dt.timedelta(0)),
            late=late,
        )


def seed(ctx) -> None:
    urban_contract, rural_contract = ctx.extra.get("urban_contract"), ctx.extra.get("rural_contract")
    if urban_contract is None or rural_contract is None:
        return
    today = timezone.localdate()
    start = urban_contract.current_version.effective_start if urban_contract.current_version else today
    months = [shift_month(today, -k) for k in (3, 2, 1)]
    try:
        for month in months:
            terms_in_force(contract=urban_contract, on=month)
            terms_in_force(contract=rural_contract, on=month)
    except NotFoundError:
        return  # early in the contracts' first year: no three months to show yet
    rnd = random.Random(2026)
    urban = _members("GC1", 30, ["URBAN", "URBAN-E"], start, months, rnd, medicare_from=20)
    rural = _members("GC2", 24, ["RURAL-N", "RURAL-S"], start, months, rnd, medicare_from=None)
    declined = [
        DemoMember(
            f"GC9{i:05d}", LAST_NAMES[i], FIRST_NAMES[i + 5], dt.date(1941, 3, 1 + i), "URBAN", start, "1"
        )
        for i in range(3)
    ]

    pool = lookalikes(urban + rural, start)

    for code, lob in (("HMO", "medicaid"), (MEDICARE_HD03, "medicare_advantage")):
        InsuranceLineMapping.objects.get_or_create(payer=ctx.plan, code=code, defaults={"lob": lob})
    if not EligibilityFile.objects.filter(payer=ctx.plan, status=ProcessingStatus.ACCEPTED).exists():
        services.eligibility_file_load(
            scope=_scope(ctx.users["plan_analyst"], ctx.plan),
            file=ContentFile(_834(urban + rural + declined + pool, start), name=ELIGIBILITY_NAME),
            run_inline=True,
        )

    _seed_provider(
        ctx,
        contract=urban_contract,
        admin=ctx.users["urban_admin"],
        people=urban,
        months=months,
        declined=declined,
        reassessed=urban[5],
        resubmit_month=months[1],
    )
    _seed_provider(
        ctx,
        contract=rural_contract,
        admin=ctx.users["rural_admin"],
        people=rural,
        months=months,
        declined=[],
        reassessed=rural[6],
        reject_month=months[2],
        late_month=months[0],
    )
