"""The 820 capitation remittance: pyx12 validates what we write and rejects what is broken."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.calc import (
    RETRO_ADJUSTMENT,
    WITHHOLD_ADJUSTMENT,
    AssessmentEntry,
    MemberMonthEntry,
    PaymentLine,
    member_line,
    monthly_payment,
)
from payments.x12_820 import BankAccount, MemberName, Party, Remittance, write_820
from tests.fixtures.x12 import pyx12_check

D = dt.date
M = Decimal
MARCH = D(2026, 3, 1)
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "x12" / "synthetic"


REMITTANCE = Remittance(
    payer=Party("State Medicaid MCO", "123456789"),
    payee=Party("Community Palliative Care Org", "987654321"),
    coverage_month=MARCH,
    contract_ref="CTR-2026-0001",
    trace_number="EFT20260315001",
    originator_id="1123456789",
    payment_date=D(2026, 3, 15),
    sender_id="MCOPLAN",
    receiver_id="PALLCAREORG",
    control_number=7,
    created=dt.datetime(2026, 3, 14, 9, 30, tzinfo=dt.UTC),
    payer_bank=BankAccount("011000015", "123456789"),
    payee_bank=BankAccount("021000021", "987654321"),
    usage="T",
)
NAMES = {
    "M1": MemberName("Garcia", "David"),
    "M2": MemberName("Smith", "Linda"),
    "M3": MemberName("Núñez", "José"),
    "M4": MemberName("O'Brien*Doe", "Ann~Marie"),
}


def segs(text: str) -> list[list[str]]:
    return [s.strip().split("*") for s in text.split("~") if s.strip()]


def test_the_synthetic_samples_calibrate_the_validator(tmp_path):
    ok, _ = pyx12_check((SAMPLES / "capitation_pmpm_3members.820").read_text(), tmp_path)
    assert ok
    ok, messages = pyx12_check((SAMPLES / "capitation_INVALID_ent02_secount.820").read_text(), tmp_path)
    assert not ok and any("SE count" in m for m in messages)


def test_a_one_member_820_is_valid(tmp_path):
    lines = [member_line("M1", MARCH, "T1-URBAN", M("1.000000"), M("450.00"))]
    text = write_820(REMITTANCE, lines, NAMES)
    ok, messages = pyx12_check(text, tmp_path)
    assert ok, messages
    s = segs(text)
    assert s[3][:3] == ["BPR", "C", "450.00"] and s[3][4] == "ACH"
    assert ["DTM", "582", "", "", "", "RD8", "20260301-20260331"] in s
    assert s[-3] == ["SE", str(len(s) - 4), "0001"]


def multi_member_payment() -> list[PaymentLine]:
    payment = monthly_payment(
        month=MARCH,
        entries=[
            MemberMonthEntry("M1", "T1-URBAN", M("1.000000")),
            MemberMonthEntry("M2", "T2-URBAN", M("0.548387")),
            MemberMonthEntry("M3", "T3-RURAL-N", M("1.000000")),
        ],
        pmpm={"T1-URBAN": M("450.00"), "T2-URBAN": M("612.35"), "T3-RURAL-N": M("890.10")},
        assessments=[AssessmentEntry("M3", "RURAL-N", D(2026, 3, 4))],
        assessment_fees={"RURAL-N": M("468.10")},
        recomputed={("M1", D(2026, 2, 1)): M("450.00"), ("M2", D(2026, 1, 1)): M("612.35")},
        paid={
            ("M1", D(2026, 2, 1)): M("612.35"),
            ("M4", D(2026, 2, 1)): M("450.00"),
            ("M2", D(2026, 1, 1)): M("306.18"),
        },
        retro_window_months=3,
        withhold_fraction=M("0.05"),
    )
    return payment.lines


def test_a_multi_member_820_with_adjustments_withhold_and_assessment_is_valid_and_balances(tmp_path):
    lines = multi_member_payment()
    text = write_820(REMITTANCE, lines, NAMES)
    ok, messages = pyx12_check(text, tmp_path)
    assert ok, messages
    s = segs(text)
    bpr_total = M(s[3][2])
    rmr = sum(M(x[4]) for x in s if x[0] == "RMR")
    adx = sum(M(x[1]) for x in s if x[0] == "ADX")
    assert bpr_total == rmr + adx == sum(line.amount for line in lines)
    # one ENT per member plus the organisation-level withhold, numbered from 1
    ents = [x for x in s if x[0] == "ENT"]
    assert [x[1] for x in ents] == ["1", "2", "3", "4", "5"]
    assert ents[0][2] == "2L" and all(x[2] == "2J" for x in ents[1:])
    assert ["ADX", "-162.35", "52"] in s and ["ADX", "306.17", "53"] in s and ["ADX", "-450.00", "52"] in s
    assert ["NM1", "IL", "1", "NUNEZ", "JOSE", "", "", "", "N", "M3"] in s
    assert ["REF", "ZZ", "ASSESSMENT"] in s and ["REF", "ZZ", "WITHHOLD"] in s
    # a member with only an adjustment still gets its required (zero) RMR
    m4 = [x[0] for x in s[[i for i, x in enumerate(s) if x[:2] == ["ENT", "5"]][0] :]]
    assert m4[:5] == ["ENT", "NM1", "ADX", "RMR", "DTM"]
    st_index = next(i for i, x in enumerate(s) if x[0] == "ST")
    se_index = next(i for i, x in enumerate(s) if x[0] == "SE")
    assert s[se_index][1] == str(se_index - st_index + 1)
    assert s[-2] == ["GE", "1", "7"] and s[-1] == ["IEA", "1", "000000007"]


def test_withhold_adjustments_join_the_organisation_level_withhold_with_their_own_service_month(tmp_path):
    # March's payment with the withhold, and withhold adjustments for January (given back) and
    # February (more withheld), sorted by service month whatever order they come in.
    jan, feb = D(2026, 1, 1), D(2026, 2, 1)
    lines = [
        *multi_member_payment(),
        PaymentLine(WITHHOLD_ADJUSTMENT, M("-7.50"), feb, rate=M("0.05")),
        PaymentLine(WITHHOLD_ADJUSTMENT, M("30.62"), jan, rate=M("0.05")),
    ]
    text = write_820(REMITTANCE, lines, NAMES)
    ok, messages = pyx12_check(text, tmp_path)
    assert ok, messages
    s = segs(text)
    assert M(s[3][2]) == sum(line.amount for line in lines)
    ents = [i for i, x in enumerate(s) if x[0] == "ENT"]
    assert s[ents[0]][2] == "2L" and len(ents) == 5  # no extra ENT: the same organisation loop
    org = s[ents[0] : ents[1]]
    assert org[1:] == [
        ["RMR", "CT", "CTR-2026-0001", "", "-83.80"],
        ["REF", "ZZ", "WITHHOLD"],
        ["DTM", "582", "", "", "", "RD8", "20260301-20260331"],
        ["RMR", "CT", "CTR-2026-0001", "", "30.62"],
        ["REF", "ZZ", "WITHHOLD ADJUSTMENT"],
        ["DTM", "582", "", "", "", "RD8", "20260101-20260131"],
        ["RMR", "CT", "CTR-2026-0001", "", "-7.50"],
        ["REF", "ZZ", "WITHHOLD ADJUSTMENT"],
        ["DTM", "582", "", "", "", "RD8", "20260201-20260228"],
    ]


def test_an_adjustment_only_820_carries_its_withhold_adjustment_alone_in_the_organisation_loop(tmp_path):
    # An adjustment run: a member paid late for February and February's withhold following it.
    feb = D(2026, 2, 1)
    lines = [
        PaymentLine(RETRO_ADJUSTMENT, M("300.00"), feb, member_id="M1"),
        PaymentLine(WITHHOLD_ADJUSTMENT, M("-15.00"), feb, rate=M("0.05")),
    ]
    text = write_820(REMITTANCE, lines, NAMES)
    ok, messages = pyx12_check(text, tmp_path)
    assert ok, messages
    s = segs(text)
    assert s[3][2] == "285.00"
    at = s.index(["ENT", "1", "2L", "FI", "987654321"])
    assert s[at + 1 : at + 4] == [
        ["RMR", "CT", "CTR-2026-0001", "", "-15.00"],
        ["REF", "ZZ", "WITHHOLD ADJUSTMENT"],
        ["DTM", "582", "", "", "", "RD8", "20260201-20260228"],
    ]
    assert ["REF", "ZZ", "WITHHOLD"] not in s


def test_check_payment_and_separator_characters_in_names(tmp_path):
    lines = [
        member_line("M4", MARCH, "T1", M("1"), M("450.00")),
        member_line("M3", MARCH, "T1", M("1"), M("450.00")),
    ]
    text = write_820(
        dataclasses.replace(REMITTANCE, payment_method="CHK", payer_bank=None, payee_bank=None), lines, NAMES
    )
    ok, messages = pyx12_check(text, tmp_path)
    assert ok, messages
    assert "NM1*IL*1*O'BRIEN DOE*ANN MARIE****N*M4~" in text
    assert text.index("ENT*1*2J*II*M3") < text.index("ENT*2*2J*II*M4")  # members in id order


def test_a_broken_820_of_ours_fails_the_validator(tmp_path):
    text = write_820(REMITTANCE, multi_member_payment(), NAMES)
    se = next(line for line in text.splitlines() if line.startswith("SE*"))
    broken = text.replace(se, "SE*3*0001~")
    assert not pyx12_check(broken, tmp_path)[0]
    assert not pyx12_check(text.replace("ENT*2*2J", "ENT*2*XX"), tmp_path)[0]


def test_what_cannot_be_remitted_is_refused():
    refund = [PaymentLine("retro_adjustment", M("-10.00"), D(2026, 2, 1), member_id="M1")]
    with pytest.raises(ValueError, match="negative"):
        write_820(REMITTANCE, refund, NAMES)
    with pytest.raises(ValueError):
        write_820(dataclasses.replace(REMITTANCE, payee_bank=None), [], NAMES)
    with pytest.raises(ValueError):
        write_820(REMITTANCE, [PaymentLine("member_month", M("1.005"), MARCH, member_id="M1")], NAMES)
    with pytest.raises(KeyError):
        write_820(REMITTANCE, [member_line("M9", MARCH, "T", M("1"), M("1.00"))], NAMES)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1_000_000).map(lambda n: (Decimal(n) / 1_000_000).quantize(Decimal("0.000001"))),
            st.decimals(min_value=1, max_value=9999, places=2, allow_nan=False, allow_infinity=False),
            st.decimals(min_value=-300, max_value=300, places=2, allow_nan=False, allow_infinity=False),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["ACH", "CHK", "NON"]),
)
def test_generated_payments_always_validate(tmp_path, members, method):
    payment = monthly_payment(
        month=MARCH,
        entries=[MemberMonthEntry(f"M{k}", f"C{k}", mm) for k, (mm, _rate, _adj) in enumerate(members)],
        pmpm={f"C{k}": rate for k, (_mm, rate, _adj) in enumerate(members)},
        recomputed={
            (f"M{k}", D(2026, 2, 1)): M("300.00") + adj for k, (_mm, _rate, adj) in enumerate(members)
        },
        paid={(f"M{k}", D(2026, 2, 1)): M("300.00") for k in range(len(members))},
        retro_window_months=2,
        withhold_fraction=M("0.02"),
    )
    names = {f"M{k}": MemberName(f"Last{k}", f"First{k}") for k in range(len(members))}
    remittance = REMITTANCE
    if method != "ACH":
        remittance = dataclasses.replace(REMITTANCE, payment_method=method, payer_bank=None, payee_bank=None)
    if payment.total < 0:
        with pytest.raises(ValueError):
            write_820(remittance, payment.lines, names)
        return
    text = write_820(remittance, payment.lines, names)
    ok, messages = pyx12_check(text, tmp_path)
    assert ok, messages
    assert M(segs(text)[3][2]) == payment.total


def test_a_carried_month_and_an_offset_share_the_organisation_loop(tmp_path):
    """Issue 14, point 3: one 2000A loop holds the offset's ADX (reason 52), then the withhold, the
    receivable and the offset's RMR named RECOVERY; the file balances and passes pyx12."""
    member = member_line("M1", MARCH, "T1 URBAN MEDICAID", M("1"), M("300.00"))
    carried = write_820(
        REMITTANCE,
        [
            member,
            PaymentLine("retro_adjustment", M("-450.00"), D(2026, 2, 1), member_id="M2"),
            PaymentLine("withhold", M("-15.00"), MARCH, rate=M("0.05")),
            PaymentLine("receivable", M("165.00"), MARCH),
        ],
        NAMES,
    )
    found = segs(carried)
    assert found[[s[0] for s in found].index("BPR")][2] == "0.00"
    org = [s for s in found[found.index(["ENT", "1", "2L", "FI", "987654321"]) :]][:7]
    assert org[1:] == [
        ["RMR", "CT", "CTR-2026-0001", "", "-15.00"],
        ["REF", "ZZ", "WITHHOLD"],
        ["DTM", "582", "", "", "", "RD8", "20260301-20260331"],
        ["RMR", "CT", "CTR-2026-0001", "", "165.00"],
        ["REF", "ZZ", "RECEIVABLE"],
        ["DTM", "582", "", "", "", "RD8", "20260301-20260331"],
    ]
    assert pyx12_check(carried, tmp_path)[0]
    offset = write_820(REMITTANCE, [member, PaymentLine("recovery_offset", M("-120.00"), MARCH)], NAMES)
    found = segs(offset)
    start = found.index(["ENT", "1", "2L", "FI", "987654321"])
    assert found[start + 1 : start + 5] == [
        ["ADX", "-120.00", "52"],
        ["RMR", "CT", "CTR-2026-0001", "", "0.00"],
        ["REF", "ZZ", "RECOVERY"],
        ["DTM", "582", "", "", "", "RD8", "20260301-20260331"],
    ]
    assert found[[s[0] for s in found].index("BPR")][2] == "180.00"
    assert pyx12_check(offset, tmp_path)[0]


@pytest.mark.parametrize(
    "line",
    [
        PaymentLine("receivable", M("0.00"), MARCH),
        PaymentLine("receivable", M("-1.00"), MARCH),
        PaymentLine("recovery_offset", M("0.00"), MARCH),
        PaymentLine("recovery_offset", M("1.00"), MARCH),
    ],
)
def test_a_receivable_is_positive_and_an_offset_negative(line):
    member = member_line("M1", MARCH, "T1 URBAN MEDICAID", M("1"), M("300.00"))
    with pytest.raises(ValueError, match="receivable|recovery offset"):
        write_820(REMITTANCE, [member, line], NAMES)
