"""The 834 reader against every sample file, and against files broken one defect at a time."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pytest

from enrollment.ingest import x12_834 as X
from enrollment.ingest.x12_834 import parse_834

D = dt.date
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "x12"  # see the README there


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


# (member_id, last, first, birth, sex, INS03, lob, eligibility start, eligibility end)
EXPECTED: dict[str, list[tuple[object, ...]]] = {
    "linuxforhealth-x12/add-dependent.834": [
        ("123456789", "DOE", "JOHN", D(1977, 8, 16), "M", "021", "HLT", D(1996, 6, 1), None)
    ],
    "linuxforhealth-x12/add-subscriber-coverage.834": [
        ("123456789", "SMITH", "WILLIAM", None, None, "001", "DEN", D(2002, 7, 1), None)
    ],
    "linuxforhealth-x12/cancel-dependent.834": [
        ("123456789", "DOE", "JAMES", D(1977, 8, 16), "M", "024", None, None, D(1996, 8, 1))
    ],
    # NM1*70 (2100B, the incorrect name) and its DMG must not overwrite the member's own.
    "linuxforhealth-x12/change-subscriber-information.834": [
        ("123456789", "DOE", "JAMES", D(1950, 4, 15), "M", "001", None, None, None)
    ],
    "linuxforhealth-x12/demo.834": [
        ("123456789", "DOE", "JOHN", D(1940, 8, 16), "M", "021", "HLT", D(1996, 5, 23), None)
    ],
    "linuxforhealth-x12/enroll-employee-managed-care.834": [
        ("123456789", "SMITH", "WILLIAM", D(1970, 6, 14), "M", "021", "HMO", D(1996, 6, 1), None)
    ],
    "linuxforhealth-x12/enroll-employee-multiple-products.834": [
        ("123456789", "DOE", "JOHN", D(1940, 8, 16), "M", "021", "HLT", D(1996, 5, 23), None)
    ],
    "linuxforhealth-x12/reinstate-employee-coverage-level.834": [
        ("202443307", "SMITH", "WILLIAM", None, None, "025", "DEN", D(2002, 7, 1), None)
    ],
    "linuxforhealth-x12/reinstate-employee.834": [
        ("123456789", "DOE", "JAMES", None, None, "025", None, None, None)
    ],
    "linuxforhealth-x12/reinstate-member-eligiblity-ins.834": [
        ("202443307", "SMITH", "WILLIAM", None, None, "025", None, None, None)
    ],
    "linuxforhealth-x12/terminate-subscriber-eligibility.834": [
        ("123456789", "DOE", "JOHN", None, None, "024", None, None, D(1996, 8, 1))
    ],
    "pyx12/834_deident_family.txt": [
        ("M000002", "SMITH", "ROBERT", D(1975, 8, 20), "M", "021", "PPO", D(2026, 4, 1), None),
        ("M000003", "SMITH", "MARY", D(1977, 3, 3), "F", "021", None, D(2026, 4, 1), None),
        ("M000004", "SMITH", "MICHAEL", D(2010, 6, 12), "M", "021", None, D(2026, 4, 1), None),
    ],
    "pyx12/834_deident_new_enroll.txt": [
        ("M000001", "DOE", "JANE", D(1980, 5, 15), "F", "021", "HMO", D(2026, 4, 1), None)
    ],
    "pyx12/834_deident_term.txt": [
        ("M000010", "JONES", "PATRICIA", D(1968, 9, 24), "F", "024", "PPO", D(2021, 1, 1), D(2026, 3, 31)),
        ("M000011", "BROWN", "THOMAS", D(1972, 4, 15), "M", "024", "PPO", D(2021, 6, 1), D(2026, 3, 31)),
    ],
    # NM1*74 (corrected name) opens 2100A; reporting categories (LS/LE, 2700/2750) are skipped.
    "pyx12/834_ls_le_ls.txt": [
        (
            "REF OF",
            "SUBSCRIBER LAST 1",
            "SUBSCRIBER FIRST 1",
            D(1983, 7, 19),
            "F",
            "001",
            "HMO",
            D(2012, 9, 1),
            D(2013, 3, 31),
        )
    ],
    "pyx12/example834_5010.txt": [
        ("00389999", "DOE", "JOHN", D(1967, 3, 30), "M", "030", "AK", D(2015, 3, 1), None)
    ],
    "synthetic/roster_add_3members.834": [
        ("M00000000", "GARCIA", "DAVID", D(1978, 2, 9), "F", "021", "HMO", D(2026, 1, 1), None),
        ("M00000001", "DAVIS", "JAMES", D(1960, 11, 13), "F", "021", "HMO", D(2026, 1, 1), None),
        ("M00000002", "SMITH", "JAMES", D(1931, 7, 14), "F", "021", "HMO", D(2026, 1, 1), None),
    ],
    "synthetic/roster_audit_3members.834": [
        ("M00000000", "GARCIA", "DAVID", D(1978, 2, 9), "F", "030", "HMO", D(2026, 1, 1), None),
        ("M00000001", "DAVIS", "JAMES", D(1960, 11, 13), "F", "030", "HMO", D(2026, 1, 1), None),
        ("M00000002", "SMITH", "JAMES", D(1931, 7, 14), "F", "030", "HMO", D(2026, 1, 1), None),
    ],
}


def summary(result: X.Parse834Result) -> list[tuple[object, ...]]:
    return [
        (m.member_id, m.last_name, m.first_name, m.birth_date, m.sex, m.maintenance_type, m.lob,
         m.eligibility_start, m.eligibility_end)
        for m in result.members
    ]  # fmt: skip


def test_every_sample_834_is_covered():
    on_disk = {str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*") if p.suffix in (".834", ".txt")}
    assert on_disk == set(EXPECTED) | {"synthetic/roster_INVALID_ins03.834"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_valid_samples_parse_with_the_right_members(name):
    result = parse_834(sample(name))
    assert result.errors == []
    assert result.accepted
    assert summary(result) == EXPECTED[name]


def test_public_sample_with_dtp_358_in_loop_2000_is_accepted_with_a_positioned_warning():
    # pyx12 rejects it; the qualifier is not one we read, so the membership is intact.
    result = parse_834(sample("linuxforhealth-x12/enroll-employee-managed-care.834"))
    assert result.accepted
    (w,) = result.warnings
    assert (w.code, w.where["segment_index"], w.where["segment_id"], w.where["position"], w.where["element"], w.where["value"], w.where["loop"]) == (
        X.UNKNOWN_DATE_QUALIFIER, 10, "DTP", 8, 1, "358", "2000"
    )  # fmt: skip


def test_dirty_public_sample_is_accepted_with_a_whitespace_warning():
    # example834_5010.txt: spaces after terminators and INS06 "C   " (an element we never read).
    result = parse_834(sample("pyx12/example834_5010.txt"))
    assert result.accepted
    assert [w.code for w in result.warnings] == [X.WHITESPACE_BETWEEN_SEGMENTS]
    assert result.is_full_file and result.action == "4"


def test_invalid_ins03_is_rejected_with_the_position_of_each_ins():
    result = parse_834(sample("synthetic/roster_INVALID_ins03.834"))
    assert not result.accepted
    assert [
        (
            e.code,
            e.where["segment_index"],
            e.where["segment_id"],
            e.where["position"],
            e.where["element"],
            e.where["value"],
            e.where["st_control"],
        )
        for e in result.errors
    ] == [
        (X.INVALID_MAINTENANCE_TYPE, 9, "INS", 7, 3, "099", "0001"),
        (X.INVALID_MAINTENANCE_TYPE, 19, "INS", 17, 3, "099", "0001"),
        (X.INVALID_MAINTENANCE_TYPE, 29, "INS", 27, 3, "099", "0001"),
    ]


def test_header_information_and_full_file_detection():
    add = parse_834(sample("synthetic/roster_add_3members.834"))
    audit = parse_834(sample("synthetic/roster_audit_3members.834"))
    assert (add.action, add.is_full_file) == ("2", False)
    assert (audit.action, audit.is_full_file) == ("4", True)
    assert audit.interchange is not None and audit.interchange.sender_id == "MCOPLAN"
    assert audit.interchange.control_number == "000000001"
    (ts,) = audit.transactions
    assert (ts.control_number, ts.reference, ts.created, ts.segment_count) == (
        "0001",
        "ROSTER202601",
        D(2026, 1, 1),
        37,
    )
    assert audit.separators == X.Separators("*", ":", "~", "^")


# --------------------------------------------------------------------------- broken files
BASE = sample("synthetic/roster_add_3members.834").decode()


def reseal(text: str) -> str:
    """Recount SE01 so that a test changes exactly one thing."""
    segs = [s.strip() for s in text.split("~")]
    st = next(i for i, s in enumerate(segs) if s.startswith("ST*"))
    se = next(i for i, s in enumerate(segs) if s.startswith("SE*"))
    parts = segs[se].split("*")
    parts[1] = str(se - st + 1)
    segs[se] = "*".join(parts)
    return "~\n".join(s for s in segs if s) + "~\n"


def errors_of(text: str) -> list[tuple[str, int | None, str, int | None, int | None]]:
    result = parse_834(text)
    return [
        (e.code, e.where["segment_index"], e.where["segment_id"], e.where["position"], e.where["element"])
        for e in result.errors
    ]


def test_base_file_and_reseal_are_clean():
    assert reseal(BASE) == BASE
    assert errors_of(BASE) == []


def test_bad_birth_date():
    assert errors_of(BASE.replace("DMG*D8*19780209*F", "DMG*D8*19781309*F")) == [
        (X.INVALID_DATE, 16, "DMG", 14, 2)
    ]


def test_bad_eligibility_date_and_format():
    text = BASE.replace(
        "HD*021**HMO*PALLIATIVE CARE BUNDLE*IND~\nDTP*348*D8*20260101",
        "HD*021**HMO*PALLIATIVE CARE BUNDLE*IND~\nDTP*348*D8*20260231",
        1,
    )
    assert errors_of(text) == [(X.INVALID_DATE, 18, "DTP", 16, 3)]
    text = BASE.replace("DTP*348*D8*20260101", "DTP*348*RD8*20260101-20260131", 1)
    assert errors_of(text) == [(X.INVALID_CODE, 18, "DTP", 16, 2)]


def test_invalid_sex_code():
    assert errors_of(BASE.replace("DMG*D8*19780209*F", "DMG*D8*19780209*X")) == [
        (X.INVALID_CODE, 16, "DMG", 14, 3)
    ]


def test_missing_ref_0f_is_reported_where_it_belongs():
    text = reseal(BASE.replace("REF*0F*M00000001~\n", ""))
    assert errors_of(text) == [(X.MISSING_MEMBER_ID, 20, "REF", 18, None)]
    assert parse_834(text).members[1].member_id is None


def test_missing_member_name():
    text = reseal(BASE.replace("NM1*IL*1*DAVIS*JAMES****ZZ*M00000001~\n", ""))
    assert [e[0] for e in errors_of(text)] == [X.MISSING_MEMBER_NAME]


def test_eligibility_end_before_start():
    text = reseal(BASE.replace("DTP*356*D8*20260101~\n", "DTP*356*D8*20260101~\nDTP*357*D8*20251231~\n", 1))
    assert errors_of(text) == [(X.END_BEFORE_START, 13, "DTP", 11, 3)]


def test_se01_count_mismatch():
    assert errors_of(BASE.replace("SE*37*0001", "SE*36*0001")) == [
        (X.SEGMENT_COUNT_MISMATCH, 39, "SE", 37, 1)
    ]


def test_st_se_control_number_mismatch():
    assert errors_of(BASE.replace("SE*37*0001", "SE*37*0002")) == [
        (X.CONTROL_NUMBER_MISMATCH, 39, "SE", 37, 2)
    ]


def test_ge_and_iea_counts_and_control_numbers():
    assert errors_of(BASE.replace("GE*1*1~", "GE*2*1~")) == [
        (X.TRANSACTION_COUNT_MISMATCH, 40, "GE", None, 1)
    ]
    assert errors_of(BASE.replace("GE*1*1~", "GE*1*7~")) == [(X.CONTROL_NUMBER_MISMATCH, 40, "GE", None, 2)]
    assert errors_of(BASE.replace("IEA*1*000000001", "IEA*2*000000001")) == [
        (X.GROUP_COUNT_MISMATCH, 41, "IEA", None, 1)
    ]
    assert errors_of(BASE.replace("IEA*1*000000001", "IEA*1*000000002")) == [
        (X.CONTROL_NUMBER_MISMATCH, 41, "IEA", None, 2)
    ]


def test_truncated_files():
    no_iea = BASE[: BASE.index("IEA*")]
    assert [e[0] for e in errors_of(no_iea)] == [X.MISSING_IEA]
    cut = BASE[: BASE.index("INS*Y*18*021*XN*A~\nREF*0F*M00000002")]
    result = parse_834(cut)
    assert [e.code for e in result.errors] == [X.MISSING_SE, X.MISSING_GE, X.MISSING_IEA]
    assert [m.member_id for m in result.members] == ["M00000000", "M00000001"]
    assert not result.accepted


def test_terminators_with_and_without_line_breaks():
    assert summary(parse_834(BASE.replace("~\n", "~"))) == EXPECTED["synthetic/roster_add_3members.834"]
    assert summary(parse_834(BASE.replace("~\n", "~\r\n"))) == EXPECTED["synthetic/roster_add_3members.834"]
    assert parse_834(BASE.replace("~\n", "~\r\n")).errors == []


def test_separators_are_read_from_the_isa():
    text = BASE.replace("*", "|").replace("~\n", "\n").replace("|T|:\n", "|T|>\n")
    result = parse_834(text)
    assert result.errors == []
    assert result.separators == X.Separators("|", ">", "\n", "^")
    assert summary(result) == EXPECTED["synthetic/roster_add_3members.834"]


def test_not_x12_and_broken_isa():
    assert errors_of("member_id,last_name\n") == [(X.NOT_X12, 1, "ISA", None, None)]
    assert [e[0] for e in errors_of("ISA*00*  ")] == [X.INVALID_ISA]
    assert [e[0] for e in errors_of(BASE.replace("T*:~", "T*:A", 1))] == [X.INVALID_ISA]


def test_unsupported_transaction_or_version():
    assert [e[0] for e in errors_of(BASE.replace("ST*834*", "ST*835*"))] == [X.UNSUPPORTED_TRANSACTION]
    text = BASE.replace("X*005010X220A1~\nST", "X*004010X095A1~\nST")
    assert errors_of(text) == [(X.UNSUPPORTED_TRANSACTION, 2, "GS", None, 8)]


def test_missing_bgn_and_misplaced_segments():
    assert [e[0] for e in errors_of(reseal(re.sub(r"BGN\*[^~]*~\n", "", BASE)))] == [X.MISSING_BGN]
    outside = BASE.replace("ST*834*", "REF*38*X~\nST*834*")
    assert errors_of(outside) == [(X.UNEXPECTED_SEGMENT, 3, "REF", None, None)]
    after = BASE + "INS*Y*18*021*XN*A~\n"
    assert errors_of(after) == [(X.UNEXPECTED_SEGMENT, 42, "INS", None, None)]


def test_two_transaction_sets_and_a_duplicate_control_number():
    body = BASE[BASE.index("ST*834") : BASE.index("GE*")]
    second = (
        body.replace("ST*834*0001", "ST*834*0002")
        .replace("SE*37*0001", "SE*37*0002")
        .replace("M0000", "N0000")
    )
    two = BASE.replace(body, body + second).replace("GE*1*1", "GE*2*1")
    result = parse_834(two)
    assert result.errors == [] and len(result.members) == 6 and len(result.transactions) == 2
    dup = BASE.replace(body, body + body).replace("GE*1*1", "GE*2*1")
    assert [e[0] for e in errors_of(dup)] == [X.DUPLICATE_CONTROL_NUMBER]


def test_input_forms_and_limits():
    assert parse_834(BASE).accepted and parse_834(BASE.encode()).accepted
    latin = BASE.replace("GARCIA", "GARCÍA").encode("latin-1")
    result = parse_834(latin)
    assert result.accepted and result.members[0].last_name == "GARCÍA"
    assert [w.code for w in result.warnings] == [X.NOT_UTF8]
    assert [e.code for e in parse_834(BASE, max_bytes=100).errors] == [X.FILE_TOO_LARGE]


def make_834(members: int) -> str:
    segs = [
        "ISA*00*          *00*          *ZZ*MCOPLAN        *ZZ*PALLCAREORG    *260101*1200*^*00501*000000001*0*T*:",
        "GS*BE*MCOPLAN*PALLCAREORG*20260101*1200*1*X*005010X220A1",
        "ST*834*0001*005010X220A1",
        "BGN*00*ROSTER202601*20260101*1200****4",
        "N1*P5*STATE MEDICAID MCO*FI*123456789",
        "N1*IN*COMMUNITY PALLIATIVE CARE ORG*FI*987654321",
    ]
    for i in range(members):
        segs += [
            "INS*Y*18*030*XN*A", f"REF*0F*M{i:08d}", "DTP*356*D8*20260101",
            f"NM1*IL*1*LAST{i}*FIRST{i}****ZZ*M{i:08d}", "N3*1 MAIN ST", "N4*SACRAMENTO*CA*95814",
            f"DMG*D8*19{30 + i % 60:02d}0{1 + i % 9}1{i % 9}*{'FM'[i % 2]}", "HD*030**HMO*PALLIATIVE*IND",
            "DTP*348*D8*20260101",
        ]  # fmt: skip
    segs.append(f"SE*{len(segs) - 2 + 1}*0001")
    segs += ["GE*1*1", "IEA*1*000000001"]
    return "~\n".join(segs) + "~\n"


def test_ten_thousand_members_parse_in_under_two_seconds():
    data = make_834(10_000).encode()
    start = time.perf_counter()
    result = parse_834(data)
    elapsed = time.perf_counter() - start
    assert result.errors == [] and len(result.members) == 10_000
    assert result.members[-1].member_id == "M00009999"
    assert elapsed < 2.0, elapsed


# --------------------------------------------------------------------------- INS11/INS12: date of death
def _with_ins(ins: str) -> bytes:
    from tests.enrollment.conftest import make_834

    data = make_834([("GC100005", "DOE", "JANE", "19400517", D(2020, 1, 1), None)], full=False)
    return data.replace(b"INS*Y*18*021*XN*A", ins.encode())


def test_ins12_is_the_date_of_death():
    result = parse_834(_with_ins("INS*Y*18*021*XN*A***N***D8*20261120"))
    assert result.accepted, result.errors
    assert result.members[0].death_date == D(2026, 11, 20)
    assert parse_834(_with_ins("INS*Y*18*021*XN*A")).members[0].death_date is None


@pytest.mark.parametrize(
    ("ins", "code", "element"),
    [
        ("INS*Y*18*021*XN*A***N***D8*20261131", X.INVALID_DATE, 12),
        ("INS*Y*18*021*XN*A***N***DT*20261120", X.INVALID_CODE, 11),
        ("INS*Y*18*021*XN*A***N***D8", X.INVALID_DATE, 12),
    ],
)
def test_a_bad_date_of_death_rejects_the_file_with_its_position(ins, code, element):
    result = parse_834(_with_ins(ins))
    assert not result.accepted
    [error] = result.errors
    assert (error.code, error.where["segment_id"], error.where["element"]) == (code, "INS", element)


def test_the_county_of_the_member_address_is_its_market():
    from tests.enrollment.conftest import make_834

    data = make_834([("GC100005", "DOE", "JANE", "19400517", D(2020, 1, 1), None, "HMO", "06001")])
    assert parse_834(data).members[0].county == "06001"
    # N4 without the county qualifier, or in another loop than the member's name, is not a county.
    no_qualifier = data.replace(b"N4*OAKLAND*CA*94607**CY*06001", b"N4*OAKLAND*CA*94607")
    assert parse_834(no_qualifier).members[0].county == ""
