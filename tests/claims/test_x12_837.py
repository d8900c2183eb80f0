"""The 837 encounter reader (pure): 837P and 837I to claim lines, every problem at its segment, the 999."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from claims.extract import read_claims, write_claims_csv
from claims.records import INSTITUTIONAL, ORIGINAL, PROFESSIONAL, REPLACEMENT, VOID, ClaimLine
from claims.x12_837 import (
    INSTITUTIONAL_VERSION,
    MISSING_ADJUDICATION,
    PROFESSIONAL_VERSION,
    is_x12,
    read_837,
    write_999_for_837,
)

D = dt.date
CREATED = dt.datetime(2026, 4, 2, 9, 30)  # noqa: DTZ001 - a fixed stamp for a reproducible 999
# Segment index in the file of the first body segment (ISA = 1, GS = 2, ST = 3) and its position (ST = 1).
FIRST_INDEX, FIRST_POSITION = 4, 2


def isa(control: str = "000000001") -> str:
    """A fixed-width ISA (106 characters with its terminator), as the 834 reader expects."""
    return (
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'PLAN1':15}*ZZ*{'CAREBUNDLE':15}*260401*1200*^*00501*{control}*0*P*:"
    )


def x12(
    body: list[str],
    *,
    version: str = PROFESSIONAL_VERSION,
    st_type: str = "837",
    gs_id: str = "HC",
    se_count: int | None = None,
    se_control: str = "0001",
) -> bytes:
    """An interchange of one group of one transaction set around ``body`` (segments without ``~``)."""
    st = [f"ST*{st_type}*0001*{version}", *body]
    count = len(st) + 1 if se_count is None else se_count
    segments = [
        isa(),
        f"GS*{gs_id}*PLAN1*CAREBUNDLE*20260401*1200*1*X*{version}",
        *st,
        f"SE*{count}*{se_control}",
        "GE*1*1",
        "IEA*1*000000001",
    ]
    return "".join(s + "~\n" for s in segments).encode()


def at(body: list[str], segment: str, occurrence: int = 1) -> tuple[int, int]:
    """(segment index in the file, position in the transaction set) of a body segment."""
    hits = [i for i, s in enumerate(body) if s == segment]
    i = hits[occurrence - 1]
    return FIRST_INDEX + i, FIRST_POSITION + i


HEADER = [
    "BHT*0019*00*ENC1*20260401*1200*RP",
    "NM1*41*2*PLAN*****46*PLAN1",
    "PER*IC*EDI DESK*TE*5555550100",
    "NM1*40*2*CAREBUNDLE*****46*CB1",
    "HL*1**20*1",
    "NM1*85*2*NORTH CLINIC*****XX*1234567893",
    "N3*1 MAIN ST",
    "N4*SPRINGFIELD*IL*62701",
    "REF*EI*123456789",
    "HL*2*1*22*0",
    "SBR*P*18*******MC",
    "NM1*IL*1*DOE*JANE****MI*M100",
    "NM1*PR*2*PLAN*****PI*PLAN1",
]


def professional(frequency: str = "1", *, line2: list[str] | None = None) -> list[str]:
    return [
        *HEADER,
        f"CLM*P100*250***11:B:{frequency}*Y*A*Y*Y",
        "HI*ABK:J20.9*ABF:R05*ABF:R509",
        # An other subscriber (loop 2330A) is not the member.
        "SBR*S*18*******MC",
        "NM1*IL*1*DOE*JOHN****MI*OTHER1",
        "LX*1",
        "SV1*HC:99214:25*150*UN*1***1",
        "DTP*472*D8*20260302",
        "SVD*PLAN1*80.5*HC:99214:25**1",
        "DTP*573*D8*20260320",
        "LX*2",
        *(
            line2
            if line2 is not None
            else [
                "SV1*HC:87880:QW:59*100*UN*1*23**1",
                "DTP*472*RD8*20260302-20260303",
                "SVD*PLAN1*40*HC:87880:QW:59**1",
                "CAS*CO*45*60",
                "DTP*573*D8*20260321",
            ]
        ),
    ]


def prof_line(**fields) -> ClaimLine:
    defaults = dict(
        member_id="M100",
        claim_id="P100",
        line_number=1,
        claim_type=PROFESSIONAL,
        frequency_code=ORIGINAL,
        bill_type="",
        place_of_service="11",
        revenue_code="",
        procedure_code="99214",
        modifiers=("25",),
        diagnosis_codes=("J209", "R05", "R509"),
        admission_date=None,
        discharge_date=None,
        discharge_status="",
        service_from=D(2026, 3, 2),
        service_to=D(2026, 3, 2),
        paid_date=D(2026, 3, 20),
        allowed_amount=None,
        paid_amount=Decimal("80.50"),
    )
    return ClaimLine(**{**defaults, **fields})


PROFESSIONAL_LINES = [
    prof_line(),
    prof_line(
        line_number=2,
        place_of_service="23",
        procedure_code="87880",
        modifiers=("QW", "59"),
        service_to=D(2026, 3, 3),
        paid_date=D(2026, 3, 21),
        paid_amount=Decimal("40"),
    ),
]


def institutional(clm05: str = "11:A:1", *, discharge: str = "DTP*096*D8*20260304") -> list[str]:
    return [
        *HEADER[:5],
        "NM1*85*2*GENERAL HOSPITAL*****XX*1234567893",
        "HL*2*1*22*0",
        "SBR*P*18*******MC",
        "NM1*IL*1*ROE*RICHARD****MI*M200",
        "NM1*PR*2*PLAN*****PI*PLAN1",
        f"CLM*I200*5000***{clm05}**A*Y*Y",
        "DTP*434*RD8*20260301-20260304",
        "DTP*435*DT*202603010830",
        discharge,
        "CL1*1*1*01",
        "HI*ABK:I214",
        "HI*ABJ:R079*APR:R0789",
        "HI*ABF:E119*ABF:I10",
        "LX*1",
        "SV2*0120**3000*UN*3",
        "SVD*PLAN1*2500**0120*3",
        "DTP*573*D8*20260320",
        "LX*2",
        "SV2*450*HC:99285*2000*UN*1",
        "DTP*472*D8*20260301",
        "SVD*PLAN1*900*HC:99285*0450*1",
        "DTP*573*D8*20260320",
    ]


def inst_line(**fields) -> ClaimLine:
    defaults = dict(
        member_id="M200",
        claim_id="I200",
        line_number=1,
        claim_type=INSTITUTIONAL,
        frequency_code=ORIGINAL,
        bill_type="111",
        place_of_service="",
        revenue_code="0120",
        procedure_code="",
        modifiers=(),
        diagnosis_codes=("I214", "E119", "I10"),
        admission_date=D(2026, 3, 1),
        discharge_date=D(2026, 3, 4),
        discharge_status="01",
        service_from=D(2026, 3, 1),
        service_to=D(2026, 3, 4),
        paid_date=D(2026, 3, 20),
        allowed_amount=None,
        paid_amount=Decimal("2500"),
    )
    return ClaimLine(**{**defaults, **fields})


INSTITUTIONAL_LINES = [
    inst_line(),
    inst_line(
        line_number=2,
        revenue_code="0450",
        procedure_code="99285",
        service_to=D(2026, 3, 1),
        paid_amount=Decimal("900"),
    ),
]


def codes(result) -> set[tuple[str, str, int, int | None]]:
    """(code, segment id, segment index, element) of each error."""
    return {
        (p.code, p.where["segment_id"], p.where["segment_index"], p.where["element"]) for p in result.errors
    }


# -- reading -------------------------------------------------------------------------------------------


def test_a_professional_encounter_reads_to_its_lines():
    body = professional()
    result = read_837(x12(body), "encounters.837")
    assert result.errors == []
    assert result.warnings == []
    assert result.records == PROFESSIONAL_LINES
    assert result.rows == [at(body, "LX*1")[0], at(body, "LX*2")[0]]
    assert result.error_count == 0 and result.accepted
    (ts,) = result.transactions
    assert (ts.control_number, ts.version, ts.transaction_type) == ("0001", PROFESSIONAL_VERSION, "837")


def test_an_institutional_inpatient_encounter_reads_to_its_lines():
    result = read_837(x12(institutional(), version=INSTITUTIONAL_VERSION))
    assert result.errors == []
    assert result.records == INSTITUTIONAL_LINES


def test_an_institutional_discharge_hour_takes_the_statement_periods_end():
    body = institutional(discharge="DTP*096*TM*1000")
    result = read_837(x12(body, version=INSTITUTIONAL_VERSION))
    assert result.errors == []
    assert {r.discharge_date for r in result.records} == {D(2026, 3, 4)}


def test_replacement_and_void_carry_their_frequency():
    for frequency in (REPLACEMENT, VOID):
        result = read_837(x12(professional(frequency)))
        assert result.errors == []
        assert [r.frequency_code for r in result.records] == [frequency, frequency]
        inst = read_837(x12(institutional(f"11:A:{frequency}"), version=INSTITUTIONAL_VERSION))
        assert inst.errors == []
        assert {(r.frequency_code, r.bill_type) for r in inst.records} == {(frequency, f"11{frequency}")}


def test_a_patient_loop_with_its_own_id_is_the_member():
    body = professional()
    i = body.index("NM1*PR*2*PLAN*****PI*PLAN1") + 1
    body[i:i] = ["HL*3*2*23*0", "PAT*19", "NM1*QC*1*DOE*JIM****MI*M101"]
    result = read_837(x12(body))
    assert result.errors == []
    assert {r.member_id for r in result.records} == {"M101"}


def test_the_two_formats_agree():
    prof = read_837(x12(professional()))
    inst = read_837(x12(institutional(), version=INSTITUTIONAL_VERSION))
    lines = prof.records + inst.records
    back = read_claims(write_claims_csv(lines).encode(), "claims.csv")
    assert back.errors == []
    assert back.records == lines


def test_is_x12():
    assert is_x12(x12(professional()))
    assert is_x12(b"\xef\xbb\xbf \r\n" + x12(professional()))
    assert not is_x12(b"member_id,claim_id\n")
    assert not is_x12(b"")


# -- problems, each at its segment ---------------------------------------------------------------------


def test_a_bad_service_date_is_reported_at_its_dtp():
    body = professional()
    body[body.index("DTP*472*D8*20260302")] = "DTP*472*D8*20260231"
    result = read_837(x12(body))
    index, position = at(body, "DTP*472*D8*20260231")
    (problem,) = result.errors
    assert problem.code == "not_a_date"
    assert problem.row == index
    assert problem.where["segment_index"] == index
    assert problem.where["position"] == position
    assert (problem.where["segment_id"], problem.where["element"], problem.where["loop"]) == (
        "DTP",
        3,
        "2400",
    )
    assert problem.where["st_control"] == "0001" and problem.where["gs_control"] == "1"
    assert result.error_count == 1 and not result.accepted
    assert result.records == [PROFESSIONAL_LINES[1]]  # the other line was complete


def test_a_line_without_svd_is_missing_its_adjudication():
    body = professional(line2=["SV1*HC:87880:QW:59*100*UN*1*23**1", "DTP*472*RD8*20260302-20260303"])
    result = read_837(x12(body))
    index, position = at(body, "DTP*472*RD8*20260302-20260303")
    (problem,) = result.errors
    assert problem.code == MISSING_ADJUDICATION
    # Where the SVD should have been: after the line's last segment.
    assert (problem.row, problem.where["position"]) == (index + 1, position + 1)
    assert (problem.where["segment_id"], problem.where["loop"]) == ("SVD", "2430")
    assert "LX at segment" in problem.message


def test_paid_before_service_and_the_same_rules_as_the_extract():
    body = professional()
    body[body.index("DTP*573*D8*20260320")] = "DTP*573*D8*20260301"
    body[body.index("SVD*PLAN1*40*HC:87880:QW:59**1")] = "SVD*PLAN1*4O*HC:87880:QW:59**1"
    body[body.index("SV1*HC:87880:QW:59*100*UN*1*23**1")] = "SV1*HC:8788:QW:59*100*UN*1*2X**1"
    result = read_837(x12(body))
    assert codes(result) == {
        ("paid_before_service", "DTP", at(body, "DTP*573*D8*20260301")[0], 3),
        ("not_a_procedure_code", "SV1", at(body, "SV1*HC:8788:QW:59*100*UN*1*2X**1")[0], 1),
        ("not_a_place_of_service", "SV1", at(body, "SV1*HC:8788:QW:59*100*UN*1*2X**1")[0], 5),
        ("not_an_amount", "SVD", at(body, "SVD*PLAN1*4O*HC:87880:QW:59**1")[0], 2),
    }


def test_an_inpatient_claim_needs_its_admission_and_discharges_after_it():
    body = [s for s in institutional() if not s.startswith("DTP*435")]
    result = read_837(x12(body, version=INSTITUTIONAL_VERSION))
    assert codes(result) == {("required", "CLM", at(body, "CLM*I200*5000***11:A:1**A*Y*Y")[0], 5)}
    body = institutional(discharge="DTP*096*D8*20260228")
    result = read_837(x12(body, version=INSTITUTIONAL_VERSION))
    assert codes(result) == {("discharge_before_admission", "DTP", at(body, "DTP*096*D8*20260228")[0], 3)}


def test_a_duplicate_line_and_a_claim_for_two_members():
    body = professional()
    body += ["LX*1", "SV1*HC:99214*150*UN*1***1", "DTP*472*D8*20260302", "SVD*PLAN1*1*HC:99214**1",
             "DTP*573*D8*20260320"]  # fmt: skip
    body += [
        "HL*3*1*22*0",
        "SBR*P*18*******MC",
        "NM1*IL*1*ROE*ANN****MI*M999",
        *professional(REPLACEMENT)[13:],
    ]
    result = read_837(x12(body))
    clm = at(body, "CLM*P100*250***11:B:7*Y*A*Y*Y")[0]
    assert codes(result) == {
        ("duplicate_line", "LX", at(body, "LX*1", 2)[0], 1),
        ("claim_member_mismatch", "CLM", clm, 1),
    }


def test_an_se_count_mismatch():
    body = professional()
    result = read_837(x12(body, se_count=7))
    se = FIRST_INDEX + len(body)
    assert codes(result) == {("segment_count_mismatch", "SE", se, 1)}
    assert result.errors[0].row == se


def test_a_control_number_mismatch():
    body = professional()
    result = read_837(x12(body, se_control="0002"))
    se = FIRST_INDEX + len(body)
    assert codes(result) == {("control_number_mismatch", "SE", se, 2)}


def test_an_834_is_not_an_837():
    body = ["BGN*00*12456*20260401*1200****4", "INS*Y*18*030*XN*A***FT", "REF*0F*M100"]
    result = read_837(x12(body, version="005010X220A1", st_type="834", gs_id="BE"))
    assert codes(result) == {
        ("unsupported_transaction", "GS", 2, 1),
        ("unsupported_transaction", "GS", 2, 8),
        ("unsupported_transaction", "ST", 3, 1),
        ("unsupported_transaction", "ST", 3, 3),
    }
    assert result.records == []


def test_not_x12_and_a_truncated_file():
    assert codes(read_837(b"member_id,claim_id\nM1,C1\n")) == {("not_x12", "ISA", 1, None)}
    data = x12(professional())
    cut = read_837(data[: data.index(b"GE*")])
    assert {p.code for p in cut.errors} == {"missing_ge", "missing_iea"}


# -- the 999 -------------------------------------------------------------------------------------------


def test_the_999_of_an_accepted_encounter_file():
    ack = write_999_for_837(read_837(x12(professional())), control_number=7, created=CREATED)
    assert "ST*999*0001*005010X231A1~" in ack
    assert f"AK1*HC*1*{PROFESSIONAL_VERSION}~" in ack
    assert f"AK2*837*0001*{PROFESSIONAL_VERSION}~" in ack
    assert "IK5*A~" in ack
    assert "AK9*A*1*1*1~" in ack
    assert "IK3" not in ack


def test_the_999_of_a_file_with_a_segment_error_rejects_it_at_the_segment():
    body = professional()
    body[body.index("DTP*472*D8*20260302")] = "DTP*472*D8*20260231"
    ack = write_999_for_837(read_837(x12(body)), control_number=7, created=CREATED)
    position = at(body, "DTP*472*D8*20260231")[1]
    assert f"IK3*DTP*{position}*2400*8~" in ack
    assert "IK4*3*1251*8*20260231~" in ack  # IK403 8: invalid date
    assert "IK5*R*5~" in ack
    assert "AK9*R*1*1*0~" in ack


def test_the_999_of_a_missing_adjudication_says_a_segment_is_missing():
    body = professional(line2=["SV1*HC:87880:QW:59*100*UN*1*23**1", "DTP*472*RD8*20260302-20260303"])
    ack = write_999_for_837(read_837(x12(body)), control_number=7, created=CREATED)
    position = at(body, "DTP*472*RD8*20260302-20260303")[1] + 1
    assert f"IK3*SVD*{position}*2430*3~" in ack  # IK304 3: required segment missing
    assert "IK5*R*5~" in ack


def test_a_transaction_set_without_a_claim_and_without_bht():
    body = HEADER[1:13]
    result = read_837(x12(body))
    se = FIRST_INDEX + len(body)
    assert codes(result) == {("missing_bht", "BHT", FIRST_INDEX, None), ("no_data_rows", "CLM", se, None)}


def test_a_subscriber_without_id_and_a_line_with_two_adjudications():
    body = professional()
    body[body.index("NM1*IL*1*DOE*JANE****MI*M100")] = "NM1*IL*1*DOE*JANE"
    second_svd = "SVD*PLAN2*10*HC:99214:25**1"
    body.insert(body.index("LX*2"), second_svd)
    result = read_837(x12(body))
    assert codes(result) == {
        ("required", "NM1", at(body, "NM1*IL*1*DOE*JANE")[0], 9),
        ("multiple_adjudications", "SVD", at(body, second_svd)[0], None),
    }
    assert result.records == []
