"""Utilisation per member-month from claim lines (claims/classify.py; docs/domain.md, "Utilisation
from claims"). Pure: no database, no Django. Each hand-made case is decided by one rule; the
properties check the sums and orderings that must hold for any set of lines."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claims.classify import (
    SERVICE_CATEGORIES,
    TRANSFER_STATUSES,
    MemberMonthUse,
    incurred_month,
    member_months,
    service_category,
)
from claims.records import INSTITUTIONAL, ORIGINAL, PROFESSIONAL, ClaimLine
from core.domain.months import first_of_month

D = date
JAN, FEB, MAR = D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)
JAN_10 = D(2026, 1, 10)


def line(
    *,
    member: str = "M1",
    claim: str = "C1",
    n: int = 1,
    bill: str = "",
    pos: str = "",
    rev: str = "",
    proc: str = "",
    admit: date | None = None,
    discharge: date | None = None,
    status: str = "",
    start: date = JAN_10,
    end: date | None = None,
    paid: str = "100.00",
) -> ClaimLine:
    """A current claim line: institutional when it has a bill type, else professional."""
    return ClaimLine(
        member_id=member,
        claim_id=claim,
        line_number=n,
        claim_type=INSTITUTIONAL if bill else PROFESSIONAL,
        frequency_code=ORIGINAL,
        bill_type=bill,
        place_of_service="" if bill else pos,
        revenue_code=rev,
        procedure_code=proc,
        modifiers=(),
        diagnosis_codes=("Z515",),
        admission_date=admit,
        discharge_date=discharge,
        discharge_status=status,
        service_from=start,
        service_to=end or start,
        paid_date=D(2026, 6, 1),
        allowed_amount=None,
        paid_amount=Decimal(paid),
    )


def stay(claim: str, admit: date, discharge: date, status: str = "01", **kw) -> ClaimLine:
    """One line of an inpatient (111) claim covering the whole stay."""
    kw.setdefault("rev", "0120")
    kw.setdefault("bill", "111")
    return line(
        claim=claim,
        admit=admit,
        discharge=discharge,
        status=status,
        start=admit,
        end=discharge,
        **kw,
    )


def month(result: dict, when: date, member: str = "M1") -> MemberMonthUse:
    return result[(member, when)]


def total(result: dict, field: str, member: str = "M1") -> int:
    return sum(getattr(use, field) for (m, _), use in result.items() if m == member)


# --- inpatient stays, transfers, discharges, readmissions ---------------------------------------


@pytest.mark.parametrize(("days", "readmitted"), [(0, 1), (29, 1), (30, 1), (31, 0)])
def test_a_readmission_is_within_30_days_of_the_discharge_inclusive(days, readmitted):
    second = D(2026, 1, 10) + timedelta(days=days)
    result = member_months(
        [stay("A", D(2026, 1, 1), D(2026, 1, 10)), stay("B", second, second + timedelta(days=2))]
    )
    jan = month(result, JAN)
    assert jan.discharges == 1 + (second.month == 1)
    assert jan.readmissions_30d == readmitted
    assert total(result, "inpatient_admissions") == 2
    assert total(result, "readmissions_30d") == readmitted


def test_a_same_day_stay_is_not_its_own_readmission():
    jan = month(member_months([stay("A", D(2026, 1, 7), D(2026, 1, 7))]), JAN)
    assert (jan.inpatient_admissions, jan.discharges, jan.readmissions_30d) == (1, 1, 0)


def test_claims_with_one_admission_date_are_one_stay():
    # Interim bills of a long stay: 112 (first), 113 (continuing, still a patient), 114 (last).
    interim = [
        stay("A", D(2026, 1, 7), D(2026, 1, 31), status="30", bill="112"),
        stay("B", D(2026, 1, 7), D(2026, 2, 28), status="30", bill="113"),
        stay("C", D(2026, 1, 7), D(2026, 3, 9), status="01", bill="114"),
    ]
    result = member_months(interim)
    assert total(result, "inpatient_admissions") == 1
    assert (month(result, JAN).inpatient_admissions, month(result, MAR).discharges) == (1, 1)
    assert total(result, "discharges") == 1 and total(result, "readmissions_30d") == 0
    assert month(result, JAN).tcoc_by_category["inpatient"] == Decimal("300.00")
    same_day = member_months(
        [stay("A", D(2026, 1, 7), D(2026, 1, 7)), stay("B", D(2026, 1, 7), D(2026, 1, 7))]
    )
    assert (month(same_day, JAN).inpatient_admissions, month(same_day, JAN).readmissions_30d) == (1, 0)


def test_a_readmission_counts_in_the_month_of_the_index_discharge():
    result = member_months(
        [stay("A", D(2026, 1, 20), D(2026, 1, 31)), stay("B", D(2026, 2, 15), D(2026, 2, 18))]
    )
    assert (month(result, JAN).discharges, month(result, JAN).readmissions_30d) == (1, 1)
    assert (month(result, FEB).discharges, month(result, FEB).readmissions_30d) == (1, 0)
    assert (month(result, JAN).inpatient_admissions, month(result, FEB).inpatient_admissions) == (1, 1)


@pytest.mark.parametrize("status", TRANSFER_STATUSES)
@pytest.mark.parametrize("gap", [0, 1])
def test_a_transfer_to_another_stay_that_day_or_the_next_is_one_admission(status, gap):
    later = D(2026, 1, 5) + timedelta(days=gap)
    result = member_months(
        [stay("A", D(2026, 1, 1), D(2026, 1, 5), status), stay("B", later, D(2026, 1, 12))]
    )
    jan = month(result, JAN)
    assert (jan.inpatient_admissions, jan.discharges, jan.readmissions_30d) == (1, 1, 0)


def test_a_transfer_stay_keeps_the_first_admission_and_the_last_discharge_and_status():
    # A (transfer) -> B (transfer) -> C, expired: one admission in January, no live discharge.
    result = member_months(
        [
            stay("A", D(2026, 1, 30), D(2026, 1, 31), "02"),
            stay("B", D(2026, 2, 1), D(2026, 2, 3), "05"),
            stay("C", D(2026, 2, 3), D(2026, 2, 9), "20"),
        ]
    )
    assert month(result, JAN).inpatient_admissions == 1
    assert month(result, FEB).inpatient_admissions == 0
    assert total(result, "discharges") == 0
    assert month(result, FEB).death_date == D(2026, 2, 9)


def test_a_transfer_chain_discharged_alive_counts_its_discharge_in_the_last_month():
    result = member_months(
        [stay("A", D(2026, 1, 30), D(2026, 1, 31), "02"), stay("B", D(2026, 2, 1), D(2026, 2, 3))]
    )
    assert (month(result, JAN).inpatient_admissions, month(result, JAN).discharges) == (1, 0)
    assert (month(result, FEB).inpatient_admissions, month(result, FEB).discharges) == (0, 1)


def test_a_non_transfer_status_keeps_two_stays_and_the_second_is_a_readmission():
    result = member_months(
        [stay("A", D(2026, 1, 1), D(2026, 1, 5), "01"), stay("B", D(2026, 1, 5), D(2026, 1, 12))]
    )
    jan = month(result, JAN)
    assert (jan.inpatient_admissions, jan.discharges, jan.readmissions_30d) == (2, 2, 1)


def test_a_transfer_two_days_later_is_a_new_admission():
    result = member_months(
        [stay("A", D(2026, 1, 1), D(2026, 1, 5), "02"), stay("B", D(2026, 1, 7), D(2026, 1, 12))]
    )
    jan = month(result, JAN)
    assert (jan.inpatient_admissions, jan.discharges, jan.readmissions_30d) == (2, 2, 1)


@pytest.mark.parametrize("status", ["30", "20", "40", "41", "42"])
def test_still_a_patient_or_dead_is_no_discharge_and_no_readmission(status):
    result = member_months(
        [stay("A", D(2026, 1, 1), D(2026, 1, 5), status), stay("B", D(2026, 1, 8), D(2026, 1, 12))]
    )
    jan = month(result, JAN)
    assert (jan.inpatient_admissions, jan.discharges, jan.readmissions_30d) == (2, 1, 0)


def test_a_stay_without_dates_on_its_lines_is_admitted_at_its_first_service_and_discharged_at_its_last():
    lines = [
        line(claim="A", n=2, bill="111", status="01", start=D(2026, 2, 2), end=D(2026, 2, 4), paid="300.00"),
        line(claim="A", n=1, bill="111", start=D(2026, 1, 31), end=D(2026, 2, 1), paid="200.00"),
    ]
    result = member_months(lines)
    assert (month(result, JAN).inpatient_admissions, month(result, JAN).discharges) == (1, 0)
    assert month(result, JAN).tcoc_by_category["inpatient"] == Decimal("500.00")
    assert (month(result, FEB).discharges, month(result, FEB).tcoc_amount) == (1, Decimal("0.00"))


def test_the_claims_status_is_its_first_non_empty_one_by_line_number():
    lines = [
        line(claim="A", n=2, bill="111", admit=D(2026, 1, 1), discharge=D(2026, 1, 4), status="02"),
        line(claim="A", n=3, bill="111", admit=D(2026, 1, 1), discharge=D(2026, 1, 4), status="01"),
        line(claim="A", n=1, bill="111", admit=D(2026, 1, 1), discharge=D(2026, 1, 4)),
        stay("B", D(2026, 1, 5), D(2026, 1, 9)),
    ]
    jan = month(member_months(lines), JAN)
    assert (jan.inpatient_admissions, jan.discharges, jan.readmissions_30d) == (1, 1, 0)


def test_members_are_counted_apart():
    result = member_months(
        [stay("A", D(2026, 1, 1), D(2026, 1, 5)), stay("B", D(2026, 1, 10), D(2026, 1, 12), member="M2")]
    )
    assert month(result, JAN).readmissions_30d == 0
    assert month(result, JAN, "M2").inpatient_admissions == 1


# --- ICU -----------------------------------------------------------------------------------------


def test_icu_days_across_a_month_boundary_count_in_their_own_months_and_overlaps_once():
    admit, discharge = D(2026, 1, 28), D(2026, 2, 10)
    lines = [
        stay("A", admit, discharge, n=1),
        line(
            claim="A",
            n=2,
            bill="111",
            rev="0200",
            admit=admit,
            discharge=discharge,
            start=D(2026, 1, 30),
            end=D(2026, 2, 2),
        ),
        line(
            claim="A",
            n=3,
            bill="111",
            rev="0214",
            admit=admit,
            discharge=discharge,
            start=D(2026, 2, 1),
            end=D(2026, 2, 3),
        ),
        line(claim="A", n=4, bill="111", rev="0219", admit=admit, discharge=discharge, start=D(2026, 2, 3)),
    ]
    result = member_months(lines)
    assert (month(result, JAN).icu_admissions, month(result, JAN).icu_days) == (1, 2)  # Jan 30, 31
    assert (month(result, FEB).icu_admissions, month(result, FEB).icu_days) == (0, 3)  # Feb 1, 2, 3


@pytest.mark.parametrize(
    ("rev", "icu"),
    [("0199", False), ("0200", True), ("0209", True), ("0210", True), ("0219", True), ("0220", False)],
)
def test_icu_revenue_codes_are_0200_to_0219(rev, icu):
    lines = [
        stay("A", D(2026, 1, 1), D(2026, 1, 9)),
        line(
            claim="A", n=2, bill="111", rev=rev, admit=D(2026, 1, 1), start=D(2026, 1, 2), end=D(2026, 1, 4)
        ),
    ]
    jan = month(member_months(lines), JAN)
    assert (jan.icu_admissions, jan.icu_days) == ((1, 3) if icu else (0, 0))


def test_icu_lines_on_two_transfer_claims_are_one_icu_admission_and_the_transfer_day_once():
    lines = [
        stay("A", D(2026, 1, 1), D(2026, 1, 5), "02"),
        line(
            claim="A",
            n=2,
            bill="111",
            rev="0200",
            admit=D(2026, 1, 1),
            start=D(2026, 1, 3),
            end=D(2026, 1, 5),
        ),
        stay("B", D(2026, 1, 5), D(2026, 1, 9)),
        line(
            claim="B",
            n=2,
            bill="111",
            rev="0210",
            admit=D(2026, 1, 5),
            start=D(2026, 1, 5),
            end=D(2026, 1, 6),
        ),
    ]
    jan = month(member_months(lines), JAN)
    assert (jan.inpatient_admissions, jan.icu_admissions, jan.icu_days) == (1, 1, 4)


def test_an_icu_revenue_code_outside_an_inpatient_stay_is_not_icu():
    jan = month(member_months([line(bill="131", rev="0200", start=D(2026, 1, 3))]), JAN)
    assert (jan.icu_admissions, jan.icu_days, jan.inpatient_admissions) == (0, 0, 0)


# --- ED visits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("days_before", "visits"), [(0, 0), (1, 0), (2, 1)])
def test_an_ed_visit_that_led_to_an_admission_counts_as_the_admission(days_before, visits):
    admit = D(2026, 3, 10)
    ed = line(claim="E", pos="23", proc="99284", start=admit - timedelta(days=days_before))
    result = member_months([ed, stay("A", admit, D(2026, 3, 14))])
    assert month(result, MAR).ed_visits == visits
    assert month(result, MAR).inpatient_admissions == 1


def test_an_ed_line_on_an_inpatient_claim_is_no_ed_visit_and_costs_inpatient():
    lines = [
        stay("A", D(2026, 1, 5), D(2026, 1, 8), paid="900.00"),
        line(claim="A", n=2, bill="111", rev="0450", admit=D(2026, 1, 5), start=D(2026, 1, 5), paid="100.00"),
    ]
    jan = month(member_months(lines), JAN)
    assert jan.ed_visits == 0
    assert jan.tcoc_by_category["inpatient"] == Decimal("1000.00")
    assert jan.tcoc_by_category["emergency"] == Decimal("0.00")


def test_ed_visits_are_distinct_days_whatever_the_lines_that_show_them():
    lines = [
        line(claim="F", bill="131", rev="0450", start=D(2026, 1, 3)),
        line(claim="F", n=2, bill="131", rev="0981", start=D(2026, 1, 3)),
        line(claim="P", proc="99285", start=D(2026, 1, 3)),
        line(claim="Q", pos="23", proc="99213", start=D(2026, 1, 20)),
        line(claim="R", bill="131", rev="0459", start=D(2026, 2, 1)),
        line(claim="S", proc="99281", start=D(2026, 1, 25)),
        line(claim="T", proc="99286", start=D(2026, 1, 26)),  # not an ED code
        line(claim="U", bill="131", rev="0460", start=D(2026, 1, 27)),  # not an ED code
    ]
    result = member_months(lines)
    assert (month(result, JAN).ed_visits, month(result, FEB).ed_visits) == (3, 1)


# --- hospice, death, advance care planning --------------------------------------------------------


def test_the_hospice_election_is_the_earliest_hospice_line_and_shows_in_its_month_only():
    lines = [
        line(claim="H1", bill="811", rev="0651", start=D(2026, 3, 5)),
        line(claim="H2", bill="131", rev="0655", start=D(2026, 2, 20)),
        line(claim="H3", bill="821", rev="0100", start=D(2026, 2, 25)),
        line(claim="X", bill="131", rev="0660", start=D(2026, 1, 2)),  # not a hospice code
    ]
    result = member_months(lines)
    assert month(result, FEB).hospice_election_date == D(2026, 2, 20)
    assert month(result, MAR).hospice_election_date is None
    assert month(result, JAN).hospice_election_date is None


@pytest.mark.parametrize(
    ("status", "bill", "place"),
    [
        ("20", "111", "hospital"),
        ("20", "211", "nursing_facility"),
        ("20", "221", "nursing_facility"),
        ("20", "131", "other"),
        ("20", "811", "other"),
        ("40", "811", "home"),
        ("41", "811", "hospice_facility"),
        ("42", "821", "other"),
    ],
)
def test_a_death_status_gives_the_date_and_place(status, bill, place):
    dead = line(
        claim="D",
        bill=bill,
        rev="0651",
        admit=D(2026, 1, 5),
        status=status,
        start=D(2026, 1, 5),
        end=D(2026, 2, 2),
        discharge=D(2026, 2, 3),
    )
    result = member_months([dead])
    assert (month(result, FEB).death_date, month(result, FEB).death_place) == (D(2026, 2, 3), place)
    assert (month(result, JAN).death_date, month(result, JAN).death_place) == (None, "")


@pytest.mark.parametrize("status", ["01", "30", "", "07"])
def test_other_statuses_are_no_death(status):
    result = member_months([line(bill="811", status=status, start=D(2026, 1, 5), end=D(2026, 1, 9))])
    assert month(result, JAN).death_date is None


def test_without_a_discharge_date_death_is_the_claims_last_service_day():
    lines = [
        line(claim="D", n=1, bill="811", rev="0651", status="40", start=D(2026, 1, 1), end=D(2026, 1, 31)),
        line(claim="D", n=2, bill="811", rev="0651", status="40", start=D(2026, 2, 1), end=D(2026, 2, 6)),
    ]
    result = member_months(lines)
    assert (month(result, FEB).death_date, month(result, FEB).death_place) == (D(2026, 2, 6), "home")
    assert month(result, JAN).death_date is None


def test_the_earliest_death_wins():
    lines = [
        line(
            claim="D1",
            bill="111",
            admit=D(2026, 3, 1),
            discharge=D(2026, 3, 4),
            status="20",
            start=D(2026, 3, 1),
        ),
        line(claim="D2", bill="811", status="41", start=D(2026, 2, 10), end=D(2026, 2, 14)),
    ]
    result = member_months(lines)
    assert (month(result, FEB).death_date, month(result, FEB).death_place) == (
        D(2026, 2, 14),
        "hospice_facility",
    )
    assert (month(result, MAR).death_date, month(result, MAR).death_place) == (None, "")
    assert month(result, MAR).discharges == 0


def test_advance_care_planning_is_the_earliest_documented_day_of_each_month():
    lines = [
        line(claim="A", proc="99497", start=D(2026, 1, 20)),
        line(claim="B", proc="1124F", start=D(2026, 1, 5)),
        line(claim="C", proc="1123F", start=D(2026, 1, 9)),
        line(claim="D", proc="99498", start=D(2026, 2, 3)),
        line(claim="E", proc="99499", start=D(2026, 3, 1)),  # not an ACP code
    ]
    result = member_months(lines)
    assert month(result, JAN).acp_documented_date == D(2026, 1, 5)
    assert month(result, FEB).acp_documented_date == D(2026, 2, 3)
    assert month(result, MAR).acp_documented_date is None


# --- cost ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim_line", "category"),
    [
        (line(bill="111", rev="0120"), "inpatient"),
        (line(bill="111", rev="0450"), "inpatient"),
        (line(bill="211"), "snf"),
        (line(bill="221", rev="0450"), "snf"),
        (line(bill="321"), "home_health"),
        (line(bill="331"), "home_health"),
        (line(bill="341"), "home_health"),
        (line(bill="811"), "hospice"),
        (line(bill="821"), "hospice"),
        (line(bill="131", rev="0450"), "emergency"),
        (line(bill="131", rev="0981"), "emergency"),
        (line(bill="131", rev="0300"), "outpatient"),
        (line(bill="711", rev="0521"), "outpatient"),
        (line(pos="23", proc="99213"), "emergency"),
        (line(pos="11", proc="99283"), "emergency"),
        (line(pos="11", proc="99213"), "professional"),
        (line(pos="12", proc="99497"), "professional"),
    ],
)
def test_each_line_has_one_service_category(claim_line, category):
    assert service_category(claim_line) == category
    use = month(member_months([claim_line]), JAN)
    assert use.tcoc_by_category == {
        key: Decimal("100.00") if key == category else Decimal("0.00") for key in SERVICE_CATEGORIES
    }
    assert use.tcoc_amount == Decimal("100.00")


def test_inpatient_cost_is_incurred_in_the_admission_month_even_for_next_months_services():
    admit = D(2026, 1, 30)
    late = line(
        claim="A",
        n=2,
        bill="111",
        rev="0250",
        admit=admit,
        discharge=D(2026, 2, 3),
        status="01",
        start=D(2026, 2, 2),
        paid="250.50",
    )
    lines = [
        stay("A", admit, D(2026, 2, 3), paid="1000.25"),
        late,
        line(claim="P", proc="99232", start=D(2026, 2, 2), paid="80.00"),
    ]
    assert incurred_month(late) == JAN
    result = member_months(lines)
    assert month(result, JAN).tcoc_by_category["inpatient"] == Decimal("1250.75")
    assert month(result, JAN).tcoc_amount == Decimal("1250.75")
    assert month(result, FEB).tcoc_by_category["inpatient"] == Decimal("0.00")
    assert month(result, FEB).tcoc_by_category["professional"] == Decimal("80.00")
    assert (month(result, FEB).discharges, month(result, FEB).tcoc_amount) == (1, Decimal("80.00"))


def test_other_lines_are_incurred_in_the_month_their_service_starts():
    assert incurred_month(line(bill="131", start=D(2026, 1, 31), end=D(2026, 2, 2))) == JAN
    assert incurred_month(line(start=D(2026, 2, 28))) == FEB


def test_a_month_with_only_an_event_is_present_with_zero_cost():
    result = member_months([stay("A", D(2026, 1, 20), D(2026, 3, 2))])
    assert set(result) == {("M1", JAN), ("M1", MAR)}
    mar = month(result, MAR)
    assert mar == MemberMonthUse(
        ed_visits=0,
        inpatient_admissions=0,
        icu_admissions=0,
        icu_days=0,
        discharges=1,
        readmissions_30d=0,
        hospice_election_date=None,
        acp_documented_date=None,
        death_date=None,
        death_place="",
        tcoc_amount=Decimal("0.00"),
        tcoc_by_category=dict.fromkeys(SERVICE_CATEGORIES, Decimal("0.00")),
    )


def test_no_lines_no_member_months():
    assert member_months([]) == {}


# --- properties ----------------------------------------------------------------------------------

BILLS = ["", "", "111", "111", "112", "211", "221", "321", "331", "341", "811", "821", "131", "711"]
STATUSES = ["", "01", "02", "05", "06", "20", "30", "40", "41", "42", "65", "93"]
REVENUES = ["", "0120", "0200", "0209", "0214", "0250", "0450", "0459", "0651", "0981"]
PROCEDURES = ["", "99213", "99283", "99285", "99497", "1123F", "G0299"]
BASE = D(2025, 11, 20)


@st.composite
def claim_lines(draw) -> list[ClaimLine]:
    """Claims of a few members over about four months: claim-level fields shared by a claim's
    lines (as a plan sends them), line-level fields drawn per line."""
    lines: list[ClaimLine] = []
    for index in range(draw(st.integers(0, 12))):
        member = draw(st.sampled_from(["M1", "M2", "M3"]))
        bill = draw(st.sampled_from(BILLS))
        first = BASE + timedelta(days=draw(st.integers(0, 120)))
        last = first + timedelta(days=draw(st.integers(0, 20)))
        admit = draw(st.one_of(st.none(), st.just(first))) if bill else None
        discharge = draw(st.one_of(st.none(), st.just(last))) if bill else None
        status = draw(st.sampled_from(STATUSES)) if bill else ""
        for n in range(1, draw(st.integers(1, 4)) + 1):
            start = first + timedelta(days=draw(st.integers(0, (last - first).days)))
            lines.append(
                line(
                    member=member,
                    claim=f"C{index}",
                    n=n,
                    bill=bill,
                    pos="" if bill else draw(st.sampled_from(["11", "12", "23"])),
                    rev=draw(st.sampled_from(REVENUES)) if bill else "",
                    proc=draw(st.sampled_from(PROCEDURES)),
                    admit=admit,
                    discharge=discharge,
                    status=draw(st.sampled_from([status, ""])),
                    start=start,
                    end=start + timedelta(days=draw(st.integers(0, (last - start).days))),
                    paid=str(draw(st.decimals(min_value=0, max_value=100000, places=2))),
                )
            )
    return lines


@settings(max_examples=300)
@given(claim_lines())
def test_total_cost_is_every_paid_amount_once_and_the_sum_of_its_categories(lines):
    result = member_months(lines)
    assert sum((use.tcoc_amount for use in result.values()), Decimal(0)) == sum(
        (x.paid_amount for x in lines), Decimal(0)
    )
    for use in result.values():
        assert set(use.tcoc_by_category) == set(SERVICE_CATEGORIES)
        assert use.tcoc_amount == sum(use.tcoc_by_category.values(), Decimal(0))
    # An inpatient claim's cost is incurred in the month of the claim's admission (its earliest).
    # (The earliest admission date its lines give, else its earliest service date.)
    admitted: dict[tuple[str, str], tuple[bool, date]] = {}
    for x in lines:
        if x.bill_type.startswith("11"):
            day = (x.admission_date is None, x.admission_date or x.service_from)
            key = (x.member_id, x.claim_id)
            admitted[key] = min(admitted.get(key, day), day)
    for x in lines:
        inpatient = admitted.get((x.member_id, x.claim_id)) if x.bill_type.startswith("11") else None
        expected = first_of_month(inpatient[1]) if inpatient else incurred_month(x)
        assert (x.member_id, expected) in result


@settings(max_examples=300)
@given(claim_lines())
def test_counts_keep_their_order_and_one_death_and_election_per_member(lines):
    result = member_months(lines)
    for use in result.values():
        assert 0 <= use.readmissions_30d <= use.discharges
        assert use.icu_admissions <= use.inpatient_admissions
        assert (use.death_date is None) == (use.death_place == "")
    for member in {x.member_id for x in lines}:
        assert total(result, "icu_admissions", member) <= total(result, "inpatient_admissions", member)
        assert total(result, "readmissions_30d", member) <= total(result, "discharges", member)
        assert sum(use.death_date is not None for (m, _), use in result.items() if m == member) <= 1
        assert (
            sum(use.hospice_election_date is not None for (m, _), use in result.items() if m == member) <= 1
        )


@settings(max_examples=200)
@given(claim_lines(), st.randoms(use_true_random=False))
def test_the_order_of_the_lines_does_not_matter(lines, rng: random.Random):
    shuffled = list(lines)
    rng.shuffle(shuffled)
    assert member_months(shuffled) == member_months(lines)
