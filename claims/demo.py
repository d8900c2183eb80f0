"""Demo claims: the plan's paid claims for its members, enrolled or not, and last month's encounters
for the members who declined the bundle as an X12 837 file.

- **The enrolled members** (the demo contracts' rosters): their nine months before enrolling and
  their enrolled months, costly before (about $4,400 PMPM, 0.45 ED visits a month) and less after
  (about $3,100, 0.12). Their utilisation becomes the one derived from these claims (what the
  performance demo's file said about satisfaction, advance care plans and the death is carried).
- **Members like them who never enrolled** (enrollment.demo's GC8 pool, three per enrolled member,
  with the same diagnoses): as costly until about the month their look-alike enrolled, then less
  so (about $3,900) without the program. People enroll at their costliest, and cost falls anyway:
  against these, the savings the members' own history shows shrink.
- **The members assessed who declined** (GC9): a year of office visits, home health, emergency
  visits, some leading to a stay (with an ICU day now and then), one claim corrected by a
  replacement and one voided.

Loaded through the upload service as one CSV (kept like any upload), after the performance demo
(which sent the utilisation file these claims then supersede) and before its settlement. Only what
is paid by today is in it. Safe to run twice: a plan that already has an accepted claims file is
left alone.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

from django.utils import timezone

from accounts.models import Membership
from accounts.tenancy import Scope
from claims import services
from claims.extract import write_claims_csv
from claims.models import ClaimsUpload, UploadStatus
from claims.records import INSTITUTIONAL, ORIGINAL, PROFESSIONAL, REPLACEMENT, VOID, ClaimLine
from core.domain.money import to_cents
from core.domain.months import first_of_month, shift_month
from enrollment.demo import POOL_PREFIX
from enrollment.models import Member, MemberMonth, RosterEntry

MONTHS = 12
FILENAME = "golden-coast-claims.csv"
ENCOUNTERS_FILENAME = "golden-coast-encounters.837"
DIAGNOSES = (("I5022", "R0602"), ("C3490", "R52"), ("J441", "R0600"), ("G3100",), ("N184", "E1122"))
#: The enrolled members and their look-alikes: heart failure, cancer, COPD (the bundle's groups).
ENROLLED_DIAGNOSES = DIAGNOSES[:3]
BEFORE_MONTHS = 9
#: (ED visits, admissions, ICU admissions a month; TCOC range) by phase.
COSTLY = (0.45, 0.16, 0.04, (3900, 4900))
ENROLLED = (0.12, 0.06, 0.01, (2700, 3500))
WITHOUT_PROGRAM = (0.38, 0.13, 0.03, (3500, 4300))


def _line(member: str, claim: str, n: int, day: dt.date, paid: str, **fields) -> ClaimLine:
    values = dict(
        member_id=member,
        claim_id=claim,
        line_number=n,
        claim_type=PROFESSIONAL,
        frequency_code=ORIGINAL,
        bill_type="",
        place_of_service="11",
        revenue_code="",
        procedure_code="99214",
        modifiers=(),
        diagnosis_codes=(),
        admission_date=None,
        discharge_date=None,
        discharge_status="",
        service_from=day,
        service_to=day,
        paid_date=day + dt.timedelta(days=21),
        allowed_amount=Decimal(paid),
        paid_amount=Decimal(paid),
    )
    values.update(fields)
    return ClaimLine(**values)


def claim_lines(member_ids: list[str], first: dt.date, rnd: random.Random) -> list[ClaimLine]:
    lines: list[ClaimLine] = []
    for index, member in enumerate(member_ids):
        dx = DIAGNOSES[index % len(DIAGNOSES)]
        for k in range(MONTHS):
            month = shift_month(first, k)
            day = month + dt.timedelta(days=rnd.randrange(0, 27))
            claim = f"{member}-{k:02d}"
            lines.append(
                _line(member, f"{claim}-OV", 1, day, f"{rnd.uniform(95, 160):.2f}", diagnosis_codes=dx)
            )
            if rnd.random() < 0.45:  # an emergency visit
                ed_day = month + dt.timedelta(days=rnd.randrange(0, 20))
                if rnd.random() < 0.4:  # ... that becomes a stay
                    discharge = ed_day + dt.timedelta(days=rnd.randrange(2, 7))
                    stay = dict(
                        claim_type=INSTITUTIONAL,
                        bill_type="111",
                        place_of_service="",
                        procedure_code="",
                        admission_date=ed_day,
                        discharge_date=discharge,
                        discharge_status="01",
                        diagnosis_codes=dx,
                        paid_date=discharge + dt.timedelta(days=35),
                    )
                    lines.append(
                        _line(
                            member,
                            f"{claim}-IP",
                            1,
                            ed_day,
                            f"{rnd.uniform(900, 1500):.2f}",
                            revenue_code="0450",
                            **stay,
                        )
                    )
                    lines.append(
                        _line(
                            member,
                            f"{claim}-IP",
                            2,
                            ed_day,
                            f"{rnd.uniform(9000, 16000):.2f}",
                            revenue_code="0120",
                            **{**stay, "service_to": discharge},
                        )
                    )
                    if rnd.random() < 0.3:
                        lines.append(
                            _line(
                                member,
                                f"{claim}-IP",
                                3,
                                ed_day,
                                f"{rnd.uniform(4000, 7000):.2f}",
                                revenue_code="0200",
                                **stay,
                            )
                        )
                else:
                    lines.append(
                        _line(
                            member,
                            f"{claim}-ED",
                            1,
                            ed_day,
                            f"{rnd.uniform(600, 1400):.2f}",
                            place_of_service="23",
                            procedure_code="99284",
                            diagnosis_codes=dx,
                        )
                    )
            if rnd.random() < 0.3:  # a home health episode
                lines.append(
                    _line(
                        member,
                        f"{claim}-HH",
                        1,
                        day,
                        f"{rnd.uniform(1800, 2600):.2f}",
                        claim_type=INSTITUTIONAL,
                        bill_type="321",
                        place_of_service="",
                        procedure_code="",
                        revenue_code="0551",
                        diagnosis_codes=dx,
                        service_to=day + dt.timedelta(days=13),
                    )
                )
    # One office visit corrected by a replacement, one voided.
    if lines:
        corrected = lines[0]
        lines.append(
            corrected._replace(
                frequency_code=REPLACEMENT,
                paid_amount=corrected.paid_amount - 10,
                paid_date=corrected.paid_date + dt.timedelta(days=30),
            )
        )
        voided = lines[1]  # an early claim, so its void has been paid by today
        lines.append(voided._replace(frequency_code=VOID, paid_date=voided.paid_date + dt.timedelta(days=30)))
    return lines


def poisson(rnd: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method: fine for the small means of a demo)."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rnd.random()
        if p <= limit:
            return k
        k += 1


def month_claims(
    member: str, month: dt.date, dx: tuple[str, ...], phase: tuple, rnd: random.Random
) -> list[ClaimLine]:
    """A month of a member's claims in a phase: its ED visits (early in the month), its stays (later,
    the first with an ICU day when there is one) and an office visit, costing the month's TCOC in all."""
    ed_rate, ip_rate, icu_rate, (low, high) = phase
    ed, stays = poisson(rnd, ed_rate), min(poisson(rnd, ip_rate), 2)
    icu = stays and poisson(rnd, icu_rate) > 0
    tcoc = to_cents(Decimal(str(rnd.uniform(low, high))))
    share = Decimal("0.08") * ed + Decimal("0.22") * stays + (Decimal("0.06") if icu else 0)
    scale = min(Decimal(1), Decimal("0.9") / share) if share else Decimal(1)
    ed_cost = to_cents(tcoc * Decimal("0.08") * scale)
    stay_cost = to_cents(tcoc * Decimal("0.22") * scale)
    icu_cost = to_cents(tcoc * Decimal("0.06") * scale) if icu else Decimal("0.00")
    key = f"{member}-{month:%Y%m}"
    lines = [
        _line(member, f"{key}-ED{n}", 1, month + dt.timedelta(days=1 + 2 * n), str(ed_cost),
              place_of_service="23", procedure_code="99284", diagnosis_codes=dx)
        for n in range(ed)
    ]  # fmt: skip
    for n in range(stays):
        admitted = month + dt.timedelta(days=14 + 6 * n)
        stay = dict(
            claim_type=INSTITUTIONAL, bill_type="111", place_of_service="", procedure_code="",
            admission_date=admitted, discharge_date=admitted + dt.timedelta(days=3), discharge_status="01",
            diagnosis_codes=dx, paid_date=admitted + dt.timedelta(days=40),
        )  # fmt: skip
        lines.append(
            _line(member, f"{key}-IP{n}", 1, admitted, str(stay_cost), revenue_code="0120",
                  **{**stay, "service_to": admitted + dt.timedelta(days=3)})
        )  # fmt: skip
        if icu and n == 0:
            lines.append(
                _line(member, f"{key}-IP{n}", 2, admitted, str(icu_cost), revenue_code="0200", **stay)
            )
    office = tcoc - ed * ed_cost - stays * stay_cost - icu_cost
    day = month + dt.timedelta(days=rnd.randrange(0, 27))
    lines.append(_line(member, f"{key}-OV", 1, day, str(office), diagnosis_codes=dx))
    return lines


def enrolled_and_lookalike_lines(payer, today: dt.date, rnd: random.Random) -> list[ClaimLine]:
    """The enrolled members' claims around their enrollment and their look-alikes' (module docstring)."""
    firsts: dict[str, dt.date] = {}
    for member_id, month in (
        MemberMonth.objects.filter(contract__payer=payer, submission__is_current=True)
        .order_by("month")
        .values_list("member_id", "month")
    ):
        firsts.setdefault(member_id, month)
    ends: dict[str, dt.date] = dict(
        RosterEntry.objects.filter(submission__contract__payer=payer, submission__is_current=True)
        .exclude(disenrollment_reason="")
        .values_list("member_id", "enrollment_end")
    )
    enrolled = sorted(firsts)
    last = first_of_month(today)
    lines: list[ClaimLine] = []
    for k, member in enumerate(enrolled):
        dx = ENROLLED_DIAGNOSES[k % len(ENROLLED_DIAGNOSES)]
        month, end = shift_month(firsts[member], -BEFORE_MONTHS), ends.get(member)
        while month < last and (end is None or month <= end):
            lines += month_claims(member, month, dx, ENROLLED if month >= firsts[member] else COSTLY, rnd)
            month = shift_month(month, 1)
    pool = Member.objects.filter(payer=payer, member_id__startswith=POOL_PREFIX).order_by("member_id")
    for member in pool.values_list("member_id", flat=True):
        k = int(member[len(POOL_PREFIX) :]) // 10
        if k >= len(enrolled):
            continue
        dx = ENROLLED_DIAGNOSES[k % len(ENROLLED_DIAGNOSES)]
        turn = shift_month(firsts[enrolled[k]], rnd.choice((-1, 0, 0, 1)))
        month = shift_month(turn, -BEFORE_MONTHS - 3)
        while month < last:
            lines += month_claims(member, month, dx, WITHOUT_PROGRAM if month >= turn else COSTLY, rnd)
            month = shift_month(month, 1)
    return [line for line in lines if line.paid_date <= today]  # a claim paid later is not in yet


def encounters_837(member_ids: list[str], served: dt.date, paid: dt.date) -> bytes:
    """An X12 837 professional encounter file: for each member, a visit with advance care planning,
    as the plan adjudicated it (SVD paid amounts, DTP*573 paid dates)."""
    d8 = f"{served:%Y%m%d}"
    body = [
        "BHT*0019*00*GCENC1*20260401*1200*RP",
        "NM1*41*2*GOLDEN COAST HEALTH PLAN*****46*GCHP",
        "PER*IC*EDI DESK*TE*5555550100",
        "NM1*40*2*CAREBUNDLE*****46*CB1",
        "HL*1**20*1",
        "NM1*85*2*BAYVIEW PALLIATIVE*****XX*1234567893",
        "N3*1 BAY ST",
        "N4*OAKLAND*CA*94607",
        "REF*EI*123456789",
    ]
    for n, member in enumerate(member_ids, start=2):
        body += [
            f"HL*{n}*1*22*0",
            "SBR*P*18*******MC",
            f"NM1*IL*1*MEMBER*DEMO****MI*{member}",
            "NM1*PR*2*GOLDEN COAST*****PI*GCHP",
            f"CLM*{member}-ENC*310***12:B:1*Y*A*Y*Y",
            "HI*ABK:C3490*ABF:R52",
            "LX*1",
            "SV1*HC:99214*150*UN*1***1",
            f"DTP*472*D8*{d8}",
            "SVD*GCHP*112.4*HC:99214**1",
            f"DTP*573*D8*{paid:%Y%m%d}",
            "LX*2",
            "SV1*HC:99497*160*UN*1***1",
            f"DTP*472*D8*{d8}",
            "SVD*GCHP*86.12*HC:99497**1",
            f"DTP*573*D8*{paid:%Y%m%d}",
        ]
    version = "005010X222A1"
    transaction = [f"ST*837*0001*{version}", *body]
    segments = [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'GCHP':15}*ZZ*{'CAREBUNDLE':15}*260401*1200*^*00501*000000837*0*P*:",
        f"GS*HC*GCHP*CAREBUNDLE*20260401*1200*837*X*{version}",
        *transaction,
        f"SE*{len(transaction) + 1}*0001",
        "GE*1*837",
        "IEA*1*000000837",
    ]
    return "".join(segment + "~\n" for segment in segments).encode()


def seed(ctx) -> None:
    analyst = ctx.users.get("plan_analyst")
    if analyst is None or ClaimsUpload.objects.filter(payer=ctx.plan, status=UploadStatus.ACCEPTED).exists():
        return
    # The members assessed who declined the bundle (the enrollment demo's GC9 members): in the 834, never enrolled.
    member_ids = list(
        Member.objects.filter(payer=ctx.plan, member_id__startswith="GC9")
        .order_by("member_id")
        .values_list("member_id", flat=True)
    )
    if not member_ids:
        return
    first = shift_month(first_of_month(timezone.localdate()), -MONTHS)
    rnd = random.Random(2026)
    lines = claim_lines(member_ids, first, rnd) + enrolled_and_lookalike_lines(
        ctx.plan, timezone.localdate(), rnd
    )
    # Only what has been paid by today: a claim paid later has not arrived yet.
    today = timezone.localdate()
    lines = [line for line in lines if line.paid_date <= today]
    scope = Scope(
        Membership.objects.select_related("organization", "user").get(user=analyst, organization=ctx.plan)
    )
    upload = services.claims_upload(
        scope=scope, data=write_claims_csv(lines).encode(), filename=FILENAME, run_inline=True
    )
    assert upload.status == UploadStatus.ACCEPTED, upload.errors[:5]
    # Last month's encounters, as the plan's X12 837 (with its 999).
    served = shift_month(first_of_month(today), -1) + dt.timedelta(days=4)
    encounters = services.claims_upload(
        scope=scope,
        data=encounters_837(member_ids, served, min(today, served + dt.timedelta(days=20))),
        filename=ENCOUNTERS_FILENAME,
        run_inline=True,
    )
    assert encounters.status == UploadStatus.ACCEPTED, encounters.errors[:5]
