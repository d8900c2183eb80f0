"""Utilisation per member-month, derived from a plan's claim lines (docs/domain.md, "Utilisation
from claims"): admissions, discharges and 30-day readmissions, ICU use, ED visits, hospice
election, death and its place, advance care planning, and total cost of care by service category.

Pure: no Django, stdlib only, so that it runs over millions of lines in a worker and is tested
without a database. The input is the *current* lines of a plan (voids and replacements already
applied by :mod:`claims.versions`). Lines are grouped by member once; each member's lines are read
once and its stays sorted once, so the work is linear in lines (plus a sort per member).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import NamedTuple

from claims.records import INSTITUTIONAL, PROFESSIONAL, ClaimLine
from core.domain.months import first_of_month, last_of_month

# --- service categories --------------------------------------------------------------------------

CATEGORY_INPATIENT = "inpatient"
CATEGORY_EMERGENCY = "emergency"
CATEGORY_OUTPATIENT = "outpatient"
CATEGORY_PROFESSIONAL = "professional"
CATEGORY_SNF = "snf"
CATEGORY_HOME_HEALTH = "home_health"
CATEGORY_HOSPICE = "hospice"
SERVICE_CATEGORIES: tuple[str, ...] = (
    CATEGORY_INPATIENT,
    CATEGORY_EMERGENCY,
    CATEGORY_OUTPATIENT,
    CATEGORY_PROFESSIONAL,
    CATEGORY_SNF,
    CATEGORY_HOME_HEALTH,
    CATEGORY_HOSPICE,
)

# --- codes ---------------------------------------------------------------------------------------

# Bill types by their first two digits (type of facility and bill classification).
INPATIENT_BILL_TYPES = frozenset({"11"})  # hospital inpatient
SNF_BILL_TYPES = frozenset({"21", "22"})  # skilled nursing facility, inpatient and Part B
HOME_HEALTH_BILL_TYPES = frozenset({"32", "33", "34"})  # home health
HOSPICE_BILL_TYPES = frozenset({"81", "82"})  # hospice, non-hospital and hospital based

# Revenue codes.
ICU_REVENUE_CODES = frozenset(f"{code:04d}" for code in range(200, 220))  # 0200-0209, 0210-0219
ED_REVENUE_CODES = frozenset([f"{code:04d}" for code in range(450, 460)] + ["0981"])
HOSPICE_REVENUE_CODES = frozenset(f"{code:04d}" for code in range(650, 660))  # 0650-0659

ED_PLACE_OF_SERVICE = "23"  # emergency room, hospital
ED_PROCEDURE_CODES = frozenset(str(code) for code in range(99281, 99286))  # ED E/M visits
ACP_PROCEDURE_CODES = frozenset({"99497", "99498", "1123F", "1124F"})

# Patient (discharge) status codes.
EXPIRED = "20"
STILL_A_PATIENT = "30"
EXPIRED_AT_HOME = "40"  # hospice claims only
EXPIRED_IN_MEDICAL_FACILITY = "41"  # hospice claims only
EXPIRED_PLACE_UNKNOWN = "42"  # hospice claims only
TRANSFER_STATUSES = ("02", "05", "65", "66", "82", "85", "88", "93", "94")
NOT_LIVE_DISCHARGE_STATUSES = frozenset(
    {EXPIRED, STILL_A_PATIENT, EXPIRED_AT_HOME, EXPIRED_IN_MEDICAL_FACILITY, EXPIRED_PLACE_UNKNOWN}
)

DEATH_PLACES = ("home", "hospital", "nursing_facility", "hospice_facility", "other")
DEATH_PLACE_BY_STATUS = {
    EXPIRED_AT_HOME: "home",
    EXPIRED_IN_MEDICAL_FACILITY: "hospice_facility",
    EXPIRED_PLACE_UNKNOWN: "other",
}
#: Where a member with status 20 (expired) died, by the bill type's first two digits; else "other".
EXPIRED_PLACE_BY_BILL_TYPE = {"11": "hospital", "21": "nursing_facility", "22": "nursing_facility"}
DEATH_PLACE_OTHER = "other"
DEATH_STATUSES = frozenset({EXPIRED, *DEATH_PLACE_BY_STATUS})

# Windows, in days.
TRANSFER_GAP_DAYS = 1  # a transfer's next admission is on the discharge day or the day after
ED_BEFORE_ADMISSION_DAYS = 1  # an ED visit on the admission day or the day before led to it
READMISSION_WINDOW_DAYS = 30  # 0 to 30 days after a discharge, inclusive

ZERO = Decimal("0.00")
_ONE_DAY = dt.timedelta(days=1)
_READMISSION_WINDOW = dt.timedelta(days=READMISSION_WINDOW_DAYS)
_ED_LEADS_TO_ADMISSION = range(ED_BEFORE_ADMISSION_DAYS + 1)  # days from the visit to the admission


class MemberMonthUse(NamedTuple):
    """What one member used in one month. Counts are events placed in the month the rules say;
    the dates are reported only in the month containing them."""

    ed_visits: int
    inpatient_admissions: int
    icu_admissions: int
    icu_days: int
    discharges: int
    readmissions_30d: int
    hospice_election_date: dt.date | None
    acp_documented_date: dt.date | None
    death_date: dt.date | None
    death_place: str  # "" or one of DEATH_PLACES
    tcoc_amount: Decimal
    tcoc_by_category: dict[str, Decimal]  # every SERVICE_CATEGORIES key


# --- one line ------------------------------------------------------------------------------------


def _bill_class(line: ClaimLine) -> str:
    """The bill type's first two digits for an institutional line, "" for a professional one: the
    category rules are about institutional bills only."""
    return line.bill_type[:2] if line.claim_type == INSTITUTIONAL else ""


def _is_ed_line(line: ClaimLine) -> bool:
    return (
        line.revenue_code in ED_REVENUE_CODES
        or line.place_of_service == ED_PLACE_OF_SERVICE
        or line.procedure_code in ED_PROCEDURE_CODES
    )


def _category(bill: str, ed: bool, claim_type: str) -> str:
    if bill in INPATIENT_BILL_TYPES:
        return CATEGORY_INPATIENT
    if bill in SNF_BILL_TYPES:
        return CATEGORY_SNF
    if bill in HOME_HEALTH_BILL_TYPES:
        return CATEGORY_HOME_HEALTH
    if bill in HOSPICE_BILL_TYPES:
        return CATEGORY_HOSPICE
    if ed:
        return CATEGORY_EMERGENCY
    return CATEGORY_PROFESSIONAL if claim_type == PROFESSIONAL else CATEGORY_OUTPATIENT


def service_category(line: ClaimLine) -> str:
    """The service category a line's paid amount counts in (one of SERVICE_CATEGORIES): the bill
    type decides for facility bills, an ED line outside an inpatient bill is emergency, and the
    rest is outpatient (institutional) or professional."""
    return _category(_bill_class(line), _is_ed_line(line), line.claim_type)


def incurred_month(line: ClaimLine) -> dt.date:
    """The month (its first day) a line's cost is incurred in: an inpatient line's in the month of
    its admission, so that a stay's cost stays whole in one month; any other line's in the month
    its service starts. (:func:`member_months` uses the claim's admission, so a line of an
    inpatient claim without its own admission date follows the rest of its claim.)"""
    if _bill_class(line) in INPATIENT_BILL_TYPES and line.admission_date is not None:
        return first_of_month(line.admission_date)
    return first_of_month(line.service_from)


# --- accumulators --------------------------------------------------------------------------------


class _Month:
    __slots__ = (
        "ed_visits",
        "inpatient_admissions",
        "icu_admissions",
        "icu_days",
        "discharges",
        "readmissions_30d",
        "hospice_election_date",
        "acp_documented_date",
        "death_date",
        "death_place",
        "cost",
    )

    def __init__(self) -> None:
        self.ed_visits = 0
        self.inpatient_admissions = 0
        self.icu_admissions = 0
        self.icu_days = 0
        self.discharges = 0
        self.readmissions_30d = 0
        self.hospice_election_date: dt.date | None = None
        self.acp_documented_date: dt.date | None = None
        self.death_date: dt.date | None = None
        self.death_place = ""
        self.cost: dict[str, Decimal] = dict.fromkeys(SERVICE_CATEGORIES, ZERO)

    def use(self) -> MemberMonthUse:
        return MemberMonthUse(
            ed_visits=self.ed_visits,
            inpatient_admissions=self.inpatient_admissions,
            icu_admissions=self.icu_admissions,
            icu_days=self.icu_days,
            discharges=self.discharges,
            readmissions_30d=self.readmissions_30d,
            hospice_election_date=self.hospice_election_date,
            acp_documented_date=self.acp_documented_date,
            death_date=self.death_date,
            death_place=self.death_place,
            tcoc_amount=sum((self.cost[category] for category in SERVICE_CATEGORIES), ZERO),
            tcoc_by_category=self.cost,
        )


class _Claim:
    """One institutional claim of a member, as its lines add up."""

    __slots__ = (
        "bill",
        "admission",
        "first_from",
        "discharge",
        "last_to",
        "status_line",
        "status",
        "paid",
        "icu",
    )

    def __init__(self, bill: str, line: ClaimLine) -> None:
        self.bill = bill
        self.admission = line.admission_date
        self.first_from = line.service_from
        self.discharge = line.discharge_date
        self.last_to = line.service_to
        self.status_line = line.line_number if line.discharge_status else None
        self.status = line.discharge_status
        self.paid = ZERO
        self.icu: list[tuple[dt.date, dt.date]] = []

    def add(self, line: ClaimLine) -> None:
        if line.admission_date is not None and (
            self.admission is None or line.admission_date < self.admission
        ):
            self.admission = line.admission_date
        if line.discharge_date is not None and (
            self.discharge is None or line.discharge_date > self.discharge
        ):
            self.discharge = line.discharge_date
        self.first_from = min(self.first_from, line.service_from)
        self.last_to = max(self.last_to, line.service_to)
        # The claim's status is its first non-empty one, by line number.
        if line.discharge_status and (
            self.status_line is None
            or (line.line_number, line.discharge_status) < (self.status_line, self.status)
        ):
            self.status_line = line.line_number
            self.status = line.discharge_status

    @property
    def admitted(self) -> dt.date:
        return self.admission if self.admission is not None else self.first_from

    @property
    def discharged(self) -> dt.date:
        return self.discharge if self.discharge is not None else self.last_to


class _Stay:
    __slots__ = ("admission", "discharge", "status", "icu")

    def __init__(
        self, admission: dt.date, discharge: dt.date, status: str, icu: list[tuple[dt.date, dt.date]]
    ) -> None:
        self.admission = admission
        self.discharge = discharge
        self.status = status
        self.icu = icu


# --- member-months -------------------------------------------------------------------------------


def member_months(lines: Iterable[ClaimLine]) -> dict[tuple[str, dt.date], MemberMonthUse]:
    """Utilisation per (member id, first day of month), from a plan's current claim lines.

    A member-month is present when a line is incurred in it or a rule places an event in it (a
    discharge, ICU days, a death) even with no line incurred there. Grouping by member first keeps
    every rule local to one member, which is what makes it linear over millions of lines.
    """
    by_member: dict[str, list[ClaimLine]] = {}
    for line in lines:
        group = by_member.get(line.member_id)
        if group is None:
            group = by_member[line.member_id] = []
        group.append(line)
    result: dict[tuple[str, dt.date], MemberMonthUse] = {}
    for member, member_lines in by_member.items():
        for month, use in _one_member(member_lines):
            result[(member, month)] = use
    return result


def _one_member(lines: list[ClaimLine]) -> Iterator[tuple[dt.date, MemberMonthUse]]:
    months: dict[dt.date, _Month] = {}

    def at(day: dt.date) -> _Month:
        key = first_of_month(day)
        month = months.get(key)
        if month is None:
            month = months[key] = _Month()
        return month

    # Keyed by claim id and bill class: a claim has one bill type, and should a plan send lines of
    # one claim under two, each part is judged by its own (no line's cost can fall between them).
    claims: dict[tuple[str, str], _Claim] = {}
    ed_days: set[dt.date] = set()
    hospice_election: dt.date | None = None

    for line in lines:
        bill = _bill_class(line)
        inpatient = bill in INPATIENT_BILL_TYPES
        claim = None
        if line.claim_type == INSTITUTIONAL:
            claim = claims.get((line.claim_id, bill))
            if claim is None:
                claim = claims[(line.claim_id, bill)] = _Claim(bill, line)
            else:
                claim.add(line)
        if inpatient and claim is not None:
            # Incurred in the month of the claim's admission, known once all its lines are read.
            claim.paid += line.paid_amount
            if line.revenue_code in ICU_REVENUE_CODES:
                claim.icu.append((line.service_from, max(line.service_from, line.service_to)))
        else:
            ed = _is_ed_line(line)
            at(line.service_from).cost[_category(bill, ed, line.claim_type)] += line.paid_amount
            if ed:
                ed_days.add(line.service_from)
        if bill in HOSPICE_BILL_TYPES or line.revenue_code in HOSPICE_REVENUE_CODES:
            if hospice_election is None or line.service_from < hospice_election:
                hospice_election = line.service_from
        if line.procedure_code in ACP_PROCEDURE_CODES:
            month = at(line.service_from)
            if month.acp_documented_date is None or line.service_from < month.acp_documented_date:
                month.acp_documented_date = line.service_from

    stays: list[tuple[dt.date, dt.date, str, _Stay]] = []
    death: tuple[dt.date, str, str] | None = None  # (date, claim id, place): the earliest wins
    for (claim_id, _), claim in claims.items():
        if claim.status in DEATH_STATUSES:
            if claim.status == EXPIRED:
                place = EXPIRED_PLACE_BY_BILL_TYPE.get(claim.bill, DEATH_PLACE_OTHER)
            else:
                place = DEATH_PLACE_BY_STATUS[claim.status]
            candidate = (claim.discharged, claim_id, place)
            if death is None or candidate < death:
                death = candidate
        if claim.bill in INPATIENT_BILL_TYPES:
            admission = claim.admitted
            discharge = max(admission, claim.discharged)
            at(admission).cost[CATEGORY_INPATIENT] += claim.paid
            stays.append(
                (admission, discharge, claim_id, _Stay(admission, discharge, claim.status, claim.icu))
            )

    # Transfers: a stay admitted on the day a transfer discharge happened, or the next, continues it.
    # Stays are sorted by admission then discharge, so the merged stay ends with the latest status.
    stays.sort(key=lambda entry: entry[:3])
    merged: list[_Stay] = []
    for _, _, _, stay in stays:
        if merged:
            last = merged[-1]
            gap = (stay.admission - last.discharge).days
            # Claims with one admission date are one stay: interim bills (112, 113, 114) of a long stay.
            same_admission = stay.admission == last.admission
            if same_admission or (last.status in TRANSFER_STATUSES and 0 <= gap <= TRANSFER_GAP_DAYS):
                last.discharge = max(last.discharge, stay.discharge)
                last.status = stay.status
                last.icu = last.icu + stay.icu
                continue
        merged.append(stay)

    admissions = [stay.admission for stay in merged]  # sorted: merging keeps the first admission
    icu_spans: list[tuple[dt.date, dt.date]] = []
    for index, stay in enumerate(merged):
        at(stay.admission).inpatient_admissions += 1
        if stay.icu:
            at(stay.admission).icu_admissions += 1
            icu_spans.extend(stay.icu)
        if stay.status in NOT_LIVE_DISCHARGE_STATUSES:
            continue
        month = at(stay.discharge)
        month.discharges += 1
        limit = stay.discharge + _READMISSION_WINDOW
        other = bisect_left(admissions, stay.discharge)
        while other < len(admissions) and admissions[other] <= limit:
            if other != index:
                month.readmissions_30d += 1
                break
            other += 1

    # An ED visit that led to an admission (that day or the next) counts as the admission.
    admission_days = set(admissions)
    for day in ed_days:
        if any(day + dt.timedelta(days=ahead) in admission_days for ahead in _ED_LEADS_TO_ADMISSION):
            continue
        at(day).ed_visits += 1

    for start, end in _union(icu_spans):
        while start <= end:
            month_end = min(end, last_of_month(start))
            at(start).icu_days += (month_end - start).days + 1
            start = month_end + _ONE_DAY

    if hospice_election is not None:
        at(hospice_election).hospice_election_date = hospice_election
    if death is not None:
        month = at(death[0])
        month.death_date, month.death_place = death[0], death[2]

    for key, month in months.items():
        yield key, month.use()


def _union(spans: list[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """Inclusive date spans merged where they overlap or touch, so a day is counted once."""
    union: list[tuple[dt.date, dt.date]] = []
    for start, end in sorted(spans):
        if union and start <= union[-1][1] + _ONE_DAY:
            if end > union[-1][1]:
                union[-1] = (union[-1][0], end)
        else:
            union.append((start, end))
    return union
