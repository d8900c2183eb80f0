"""Demo claims: a year of the plan's paid claims for its members who were assessed but declined the
bundle (eligible, never enrolled), the first members a comparison group is drawn from, and last
month's encounters for them as an X12 837 file.

Office visits, home health, emergency visits, some leading to a stay (with an ICU day now and then),
a few readmissions, one claim corrected by a replacement and one voided. Loaded through the upload
service as one CSV (kept like any upload), after the performance demo so the enrolled members'
utilisation stays the file the plan sent. Claims for enrolled members are not seeded yet: their
utilisation in the demo is the performance demo's file. Safe to run twice: a plan that already has
an accepted claims file is left alone.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from accounts.models import Membership
from accounts.tenancy import Scope
from claims import services
from claims.extract import write_claims_csv
from claims.models import ClaimsUpload, UploadStatus
from claims.records import INSTITUTIONAL, ORIGINAL, PROFESSIONAL, REPLACEMENT, VOID, ClaimLine
from core.domain.months import first_of_month, shift_month
from enrollment.models import Member

MONTHS = 12
FILENAME = "golden-coast-claims.csv"
ENCOUNTERS_FILENAME = "golden-coast-encounters.837"
DIAGNOSES = (("I5022", "R0602"), ("C3490", "R52"), ("J441", "R0600"), ("G3100",), ("N184", "E1122"))


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
    lines = claim_lines(member_ids, first, random.Random(2026))
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
