"""Validated roster and assessment rows, and the rules that check them.

The monthly roster and the initial assessments (docs/formats.md sections 1 and 2) reach the
platform as CSV, XLSX or JSON; :mod:`enrollment.ingest.tabular` turns any of them into a
table of strings, and this module turns that table into typed rows plus a list of
:class:`~core.domain.problems.Problem` values (row and column as a spreadsheet user looks for them). Every rule is checked for every row (a provider fixes a file in one
pass, not one error at a time) and every issue names the row as a spreadsheet shows it
(header = row 1) and the column.

Problem codes are module constants and part of the public contract: the API returns them,
the web UI and the tests compare against them, so they never change meaning.

Pure Python, no Django: the service layer calls :func:`validate_roster` /
:func:`validate_assessments` (usually through :func:`enrollment.ingest.tabular.read_roster`)
and stores the rows only when ``errors`` is empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from core.domain import codes
from core.domain.months import next_month
from core.domain.problems import Problem
from enrollment.calc import Span

# --------------------------------------------------------------------------- issue codes
# File-level codes (reported on row 1, the header row).
EMPTY_FILE = "empty_file"
NO_DATA_ROWS = "no_data_rows"
MISSING_COLUMN = "missing_column"
DUPLICATE_COLUMN = "duplicate_column"
UNKNOWN_COLUMN = "unknown_column"  # warning, reported once per column
NOT_UTF8 = "not_utf8"
NOT_A_TABLE = "not_a_table"  # binary garbage, unreadable XLSX, malformed JSON
UNSUPPORTED_FORMAT = "unsupported_format"
FILE_TOO_LARGE = "file_too_large"
TOO_MANY_CELLS = "too_many_cells"  # a row with more non-empty cells than the header
INVALID_VALUE = "invalid_value"  # a JSON value that is not a scalar

# Row-level codes.
REQUIRED = "required"
INVALID_DATE = "invalid_date"
END_BEFORE_START = "end_before_start"
BEFORE_BIRTH = "before_birth"
BIRTH_IN_FUTURE = "birth_in_future"
DATE_IN_FUTURE = "date_in_future"
REASON_WITHOUT_END = "reason_without_end"
END_WITHOUT_REASON = "end_without_reason"
UNKNOWN_REASON = "unknown_reason"
UNKNOWN_TIER = "unknown_tier"
UNKNOWN_MARKET = "unknown_market"
UNKNOWN_OUTCOME = "unknown_outcome"
UNKNOWN_ROLE = "unknown_role"
OUTSIDE_MONTH = "outside_month"
OUTSIDE_CONTRACT = "outside_contract"
TIER_START_OUTSIDE_ENROLLMENT = "tier_start_outside_enrollment"
REFERRAL_AFTER_ASSESSMENT = "referral_after_assessment"

# Cross-row codes (a member's rows checked together).
INCONSISTENT_MEMBER = "inconsistent_member"
TIER_OVERLAP = "tier_overlap"
TIER_GAP = "tier_gap"
DUPLICATE_ROW = "duplicate_row"
TIER_PERIOD_OUTSIDE_MONTH = "tier_period_outside_month"  # warning

# --------------------------------------------------------------------------- pinned code lists
DISENROLLMENT_REASONS: frozenset[str] = frozenset(codes.DISENROLLMENT_REASONS)
ASSESSMENT_OUTCOMES: frozenset[str] = frozenset(
    {"enrolled", "declined", "ineligible", "deceased", "hospice_referral"}
)

# --------------------------------------------------------------------------- column specs
# Canonical column order: readers hand rows to the validators as tuples in this order, with
# "" for an absent optional column.
ROSTER_COLUMNS: tuple[str, ...] = (
    "member_id",
    "last_name",
    "first_name",
    "birth_date",
    "market",
    "enrollment_start",
    "enrollment_end",
    "disenrollment_reason",
    "tier",
    "tier_start",
)
ROSTER_REQUIRED: frozenset[str] = frozenset(
    {"member_id", "last_name", "first_name", "birth_date", "market", "enrollment_start", "tier"}
)
ASSESSMENT_COLUMNS: tuple[str, ...] = (
    "member_id",
    "last_name",
    "first_name",
    "birth_date",
    "market",
    "assessment_date",
    "outcome",
    "assessor_role",
    # Extension (docs/formats.md 2): when the member was referred; optional, so older files stay valid.
    "referral_date",
)
ASSESSMENT_REQUIRED: frozenset[str] = frozenset(ASSESSMENT_COLUMNS) - {"referral_date"}

#: The header row; file-level issues are reported on it.
HEADER_ROW = 1


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One validated roster row (one member, one tier period).

    ``enrollment_end`` is inclusive, exactly as in the file; use :func:`tier_spans` for the
    half-open ranges the proration code works with. ``tier_start`` already carries its
    default (``enrollment_start``). ``row`` is excluded from equality so that two identical
    lines of a file compare equal.
    """

    member_id: str
    last_name: str
    first_name: str
    birth_date: dt.date
    market: str
    enrollment_start: dt.date
    enrollment_end: dt.date | None
    disenrollment_reason: str | None
    tier: str
    tier_start: dt.date
    row: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class AssessmentRow:
    """One validated initial assessment."""

    member_id: str
    last_name: str
    first_name: str
    birth_date: dt.date
    market: str
    assessment_date: dt.date
    outcome: str
    assessor_role: str
    row: int = field(default=0, compare=False)
    referral_date: dt.date | None = None  # the referral the assessment answered, when the file says


@dataclass(frozen=True)
class ValidationContext:
    """What the rules need to know about the contract and the month being submitted.

    ``contract_start``/``contract_end`` is the contract's effective period, half-open
    ``[start, end)``; ``contract_end=None`` means open-ended. ``today`` is passed in (not
    read from the clock) so that validation is reproducible in tests and re-runs.
    ``assessor_roles=None`` accepts any non-empty role code.
    """

    month: dt.date
    contract_start: dt.date
    contract_end: dt.date | None
    tier_codes: Collection[str]
    market_codes: Collection[str]
    today: dt.date
    assessor_roles: Collection[str] | None = None

    def __post_init__(self) -> None:
        if self.month.day != 1:
            raise ValueError(f"month must be the first day of a month, got {self.month}")
        if self.contract_end is not None and self.contract_end <= self.contract_start:
            raise ValueError("contract_end must be after contract_start (half-open period)")


RowT = TypeVar("RowT")


@dataclass
class Validation(Generic[RowT]):
    """Result of a validation: the rows that passed the row rules, and every issue.

    A submission is acceptable only when ``errors`` is empty; ``rows`` is still filled
    otherwise so that the UI can show what was understood.
    """

    rows: list[RowT]
    errors: list[Problem]
    warnings: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.errors


class TableLike(Protocol):
    """What the validators read: canonical-order string tuples and the reader's own issues.

    :class:`enrollment.ingest.tabular.Table` implements it; tests may pass anything that does.
    """

    columns: tuple[str, ...]
    errors: list[Problem]
    warnings: list[Problem]

    def __iter__(self) -> Iterator[tuple[int, tuple[str, ...]]]: ...


@dataclass
class RowSource:
    """A ready-made :class:`TableLike` over in-memory rows (tests, JSON already parsed)."""

    columns: tuple[str, ...]
    rows: Iterable[tuple[int, tuple[str, ...]]]
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[int, tuple[str, ...]]]:
        return iter(self.rows)


# --------------------------------------------------------------------------- dates
_DATE_CACHE: dict[str, dt.date | None] = {}
_DATE_CACHE_MAX = 200_000
_SHARED_MAX = 500_000


def parse_iso_date(text: str) -> dt.date | None:
    """Parse strict ``YYYY-MM-DD`` (the only date form the formats allow), else ``None``.

    ``date.fromisoformat`` alone is too lenient on Python 3.11+ (it takes ``20260101`` and
    week dates), so the shape is checked first. Results are cached because a roster
    repeats the same few hundred dates a million times.
    """
    try:
        return _DATE_CACHE[text]
    except KeyError:
        pass
    value: dt.date | None = None
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit():
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            value = None
    if len(_DATE_CACHE) < _DATE_CACHE_MAX:
        _DATE_CACHE[text] = value
    return value


# --------------------------------------------------------------------------- roster
def validate_roster(table: TableLike, ctx: ValidationContext) -> Validation[RosterRow]:
    """Check a monthly roster against every rule of docs/formats.md section 1 and docs/domain.md 5.

    Streams the table once (rows are tuples in :data:`ROSTER_COLUMNS` order), then checks
    each member's rows together: consistency of the enrollment columns, no two tier periods
    starting on the same day, no tier gap inside the month, and duplicate lines (reported
    once, naming both rows). Issues come sorted by row then column.
    """
    if tuple(table.columns) != ROSTER_COLUMNS:
        raise ValueError("table columns must be ROSTER_COLUMNS in canonical order")
    errors: list[Problem] = []
    warnings: list[Problem] = []
    rows: list[RosterRow] = []
    add_error = errors.append

    m0 = ctx.month
    m1 = next_month(ctx.month)
    c0 = ctx.contract_start
    c1 = ctx.contract_end
    today = ctx.today
    tiers = frozenset(ctx.tier_codes)
    markets = frozenset(ctx.market_codes)
    reasons = DISENROLLMENT_REASONS
    parse = parse_iso_date
    one_day = dt.timedelta(days=1)
    shared: dict[str, str] = {}
    share = shared.setdefault

    for rownum, values in table:
        (member_id, last_name, first_name, birth_s, market, start_s, end_s, reason, tier, tstart_s) = values
        n_before = len(errors)

        # The checks' common path stays inline (a million rows); only an issue calls out.
        if not (member_id and last_name and first_name):
            _required_issues(
                add_error, rownum, member_id=member_id, last_name=last_name, first_name=first_name
            )
        birth = parse(birth_s)
        if birth is None or birth > today:
            _birth_date_issue(add_error, rownum, birth_s, birth)
        if market not in markets:
            _market_issue(add_error, rownum, market, markets)

        if not tier:
            add_error(Problem.at_cell(rownum, "tier", REQUIRED, "tier is required"))
        elif tier not in tiers:
            add_error(
                Problem.at_cell(
                    rownum,
                    "tier",
                    UNKNOWN_TIER,
                    f"tier {tier!r} is not a tier of this bundle ({_listing(tiers)})",
                )
            )

        start = parse(start_s)
        if start is None:
            _date_issue(add_error, rownum, "enrollment_start", start_s, required=True)
        end = parse(end_s) if end_s else None
        if end_s and end is None:
            _date_issue(add_error, rownum, "enrollment_end", end_s)
        tier_start = parse(tstart_s) if tstart_s else None
        if tstart_s and tier_start is None:
            _date_issue(add_error, rownum, "tier_start", tstart_s)

        reason_norm = reason.lower() if reason else ""
        if reason_norm and not end_s:
            add_error(
                Problem.at_cell(
                    rownum,
                    "disenrollment_reason",
                    REASON_WITHOUT_END,
                    "a disenrollment_reason is given but enrollment_end is empty",
                )
            )
        if end_s and not reason_norm:
            add_error(
                Problem.at_cell(
                    rownum,
                    "disenrollment_reason",
                    END_WITHOUT_REASON,
                    "enrollment_end is given, so disenrollment_reason is required",
                )
            )
        if reason_norm and reason_norm not in reasons:
            add_error(
                Problem.at_cell(
                    rownum,
                    "disenrollment_reason",
                    UNKNOWN_REASON,
                    f"disenrollment_reason {reason!r} is not one of {_listing(reasons)}",
                )
            )

        if start is not None:
            if end is not None and end < start:
                add_error(
                    Problem.at_cell(
                        rownum,
                        "enrollment_end",
                        END_BEFORE_START,
                        f"enrollment_end {end} is before enrollment_start {start}",
                    )
                )
            if birth is not None and start < birth:
                add_error(
                    Problem.at_cell(
                        rownum,
                        "enrollment_start",
                        BEFORE_BIRTH,
                        f"enrollment_start {start} is before birth_date {birth}",
                    )
                )
            if end is None or end >= start:
                # The inclusive span [start, end] against the month [m0, m1) and the contract.
                if not (start < m1 and (end is None or end >= m0)):
                    add_error(
                        Problem.at_cell(
                            rownum,
                            "enrollment_start",
                            OUTSIDE_MONTH,
                            f"enrollment {_span_text(start, end)} has no day in the roster month {m0:%Y-%m}",
                        )
                    )
                if not ((c1 is None or start < c1) and (end is None or end >= c0)):
                    add_error(
                        Problem.at_cell(
                            rownum,
                            "enrollment_start",
                            OUTSIDE_CONTRACT,
                            f"enrollment {_span_text(start, end)} has no day in the contract period "
                            f"{_period_text(c0, c1)}",
                        )
                    )
            if tier_start is not None and (tier_start < start or (end is not None and tier_start > end)):
                add_error(
                    Problem.at_cell(
                        rownum,
                        "tier_start",
                        TIER_START_OUTSIDE_ENROLLMENT,
                        f"tier_start {tier_start} is outside the enrollment {_span_text(start, end)}",
                    )
                )

        if len(errors) == n_before:
            assert birth is not None and start is not None  # guaranteed by the checks above
            # Share one string object per distinct code and (bounded) per name: a million
            # rows repeat a handful of markets and tiers and many surnames.
            rows.append(
                RosterRow(
                    member_id,
                    share(last_name, last_name),
                    share(first_name, first_name),
                    birth,
                    share(market, market),
                    start,
                    end,
                    share(reason_norm, reason_norm) or None,
                    share(tier, tier),
                    tier_start if tier_start is not None else start,
                    rownum,
                )
            )
            if len(shared) > _SHARED_MAX:
                shared.clear()

    _check_roster_members(rows, m0, m1, one_day, errors, warnings)
    errors.extend(table.errors)
    warnings.extend(table.warnings)
    errors.sort(key=_issue_order)
    warnings.sort(key=_issue_order)
    return Validation(rows, errors, warnings)


_MEMBER_COLUMNS = (
    "last_name",
    "first_name",
    "birth_date",
    "market",
    "enrollment_start",
    "enrollment_end",
    "disenrollment_reason",
)


def _check_roster_members(
    rows: Sequence[RosterRow],
    m0: dt.date,
    m1: dt.date,
    one_day: dt.timedelta,
    errors: list[Problem],
    warnings: list[Problem],
) -> None:
    """Cross-row rules, on the rows sorted by member (sorting beats a dict of lists for 1M rows)."""
    order = sorted(range(len(rows)), key=lambda i: rows[i].member_id)
    n = len(order)
    i = 0
    while i < n:
        j = i + 1
        member_id = rows[order[i]].member_id
        while j < n and rows[order[j]].member_id == member_id:
            j += 1
        if j - i == 1:
            # Fast path (most members have one row): only the tier-gap rule applies.
            r = rows[order[i]]
            i = j
            if r.tier_start > r.enrollment_start and r.tier_start > m0:
                _check_tier_periods([r], m0, m1, one_day, errors, warnings)
            continue
        group = [rows[k] for k in order[i:j]]
        i = j
        group.sort(key=lambda r: r.row)
        _check_member_group(group, errors)
        _check_tier_periods(group, m0, m1, one_day, errors, warnings)


def _check_member_group(group: list[RosterRow], errors: list[Problem]) -> None:
    first = group[0]
    kept: list[RosterRow] = []
    for r in group:
        dup_of = next((k for k in kept if k == r), None)
        if dup_of is not None:
            errors.append(
                Problem.at_cell(
                    r.row,
                    "member_id",
                    DUPLICATE_ROW,
                    f"row {r.row} repeats row {dup_of.row} (member {r.member_id})",
                )
            )
            continue
        if r is not first:
            for col in _MEMBER_COLUMNS:
                mine, theirs = getattr(r, col), getattr(first, col)
                if mine != theirs:
                    errors.append(
                        Problem.at_cell(
                            r.row,
                            col,
                            INCONSISTENT_MEMBER,
                            f"member {r.member_id}: {col} {_show(mine)} differs from {_show(theirs)} "
                            f"on row {first.row}; all rows of a member must share it",
                        )
                    )
            for k in kept:
                if k.tier_start == r.tier_start:
                    errors.append(
                        Problem.at_cell(
                            r.row,
                            "tier_start",
                            TIER_OVERLAP,
                            f"member {r.member_id}: tier {r.tier} and tier {k.tier} on row {k.row} "
                            f"both start on {r.tier_start}; give each tier its own tier_start",
                        )
                    )
                    break
        kept.append(r)


def _check_tier_periods(
    group: list[RosterRow],
    m0: dt.date,
    m1: dt.date,
    one_day: dt.timedelta,
    errors: list[Problem],
    warnings: list[Problem],
) -> None:
    """Every enrolled day of the month needs a tier; a tier period outside the month is noise."""
    by_start = sorted(group, key=lambda r: (r.tier_start, r.row))
    first = by_start[0]
    start = first.enrollment_start
    end_excl = first.enrollment_end + one_day if first.enrollment_end is not None else None
    first_day_in_month = max(start, m0)
    if first.tier_start > first_day_in_month and (end_excl is None or first_day_in_month < end_excl):
        errors.append(
            Problem.at_cell(
                first.row,
                "tier_start",
                TIER_GAP,
                f"member {first.member_id} is enrolled from {first_day_in_month} but its first tier "
                f"starts on {first.tier_start}; add a row for the tier before it",
            )
        )
    if len(by_start) == 1:
        return
    for k, r in enumerate(by_start):
        nxt = by_start[k + 1].tier_start if k + 1 < len(by_start) else end_excl
        if nxt == r.tier_start:
            continue  # reported as TIER_OVERLAP or DUPLICATE_ROW
        if not (r.tier_start < m1 and (nxt is None or nxt > m0)):
            warnings.append(
                Problem.at_cell(
                    r.row,
                    "tier_start",
                    TIER_PERIOD_OUTSIDE_MONTH,
                    f"tier {r.tier} of member {r.member_id} applies {_period_text(r.tier_start, nxt)}, "
                    f"not in {m0:%Y-%m}; the row is ignored for this month",
                )
            )


# --------------------------------------------------------------------------- assessments
def validate_assessments(table: TableLike, ctx: ValidationContext) -> Validation[AssessmentRow]:
    """Check an initial-assessments file (docs/formats.md section 2).

    The assessment fee is paid whatever the outcome, so the rules are about identity and
    dates: required values, a known outcome and market, a date that is neither in the future
    nor before birth nor outside the contract, consistent member details, no duplicates.
    Whether a second assessment in the look-back window is payable is decided later by
    :func:`enrollment.calc.assessment_payable`, with the member's history.
    """
    if tuple(table.columns) != ASSESSMENT_COLUMNS:
        raise ValueError("table columns must be ASSESSMENT_COLUMNS in canonical order")
    errors: list[Problem] = []
    warnings: list[Problem] = []
    rows: list[AssessmentRow] = []
    add_error = errors.append
    markets = frozenset(ctx.market_codes)
    roles = frozenset(ctx.assessor_roles) if ctx.assessor_roles is not None else None
    c0, c1, today = ctx.contract_start, ctx.contract_end, ctx.today
    parse = parse_iso_date

    for rownum, values in table:
        member_id, last_name, first_name, birth_s, market, date_s, outcome, role, referral_s = values
        n_before = len(errors)
        if not (member_id and last_name and first_name and role):
            _required_issues(
                add_error,
                rownum,
                member_id=member_id,
                last_name=last_name,
                first_name=first_name,
                assessor_role=role,
            )
        birth = parse(birth_s)
        if birth is None or birth > today:
            _birth_date_issue(add_error, rownum, birth_s, birth)
        if market not in markets:
            _market_issue(add_error, rownum, market, markets)
        when = parse(date_s)
        if when is None:
            _date_issue(add_error, rownum, "assessment_date", date_s, required=True)
        else:
            if when > today:
                add_error(
                    Problem.at_cell(
                        rownum,
                        "assessment_date",
                        DATE_IN_FUTURE,
                        f"assessment_date {when} is in the future",
                    )
                )
            if birth is not None and when < birth:
                add_error(
                    Problem.at_cell(
                        rownum,
                        "assessment_date",
                        BEFORE_BIRTH,
                        f"assessment_date {when} is before birth_date {birth}",
                    )
                )
            if when < c0 or (c1 is not None and when >= c1):
                add_error(
                    Problem.at_cell(
                        rownum,
                        "assessment_date",
                        OUTSIDE_CONTRACT,
                        f"assessment_date {when} is outside the contract period {_period_text(c0, c1)}",
                    )
                )
        referral = parse(referral_s) if referral_s else None
        if referral_s and referral is None:
            _date_issue(add_error, rownum, "referral_date", referral_s, required=False)
        elif referral is not None and when is not None and referral > when:
            add_error(
                Problem.at_cell(
                    rownum,
                    "referral_date",
                    REFERRAL_AFTER_ASSESSMENT,
                    f"referral_date {referral} is after assessment_date {when}",
                )
            )
        outcome_norm = outcome.lower()
        if not outcome:
            add_error(Problem.at_cell(rownum, "outcome", REQUIRED, "outcome is required"))
        elif outcome_norm not in ASSESSMENT_OUTCOMES:
            add_error(
                Problem.at_cell(
                    rownum,
                    "outcome",
                    UNKNOWN_OUTCOME,
                    f"outcome {outcome!r} is not one of {_listing(ASSESSMENT_OUTCOMES)}",
                )
            )
        if role and roles is not None and role not in roles:
            add_error(
                Problem.at_cell(
                    rownum,
                    "assessor_role",
                    UNKNOWN_ROLE,
                    f"assessor_role {role!r} is not one of {_listing(roles)}",
                )
            )
        if len(errors) == n_before:
            assert birth is not None and when is not None
            rows.append(
                AssessmentRow(
                    member_id,
                    last_name,
                    first_name,
                    birth,
                    market,
                    when,
                    outcome_norm,
                    role,
                    rownum,
                    referral_date=referral,
                )
            )

    _check_assessment_members(rows, errors)
    errors.extend(table.errors)
    warnings.extend(table.warnings)
    errors.sort(key=_issue_order)
    warnings.sort(key=_issue_order)
    return Validation(rows, errors, warnings)


def _check_assessment_members(rows: Sequence[AssessmentRow], errors: list[Problem]) -> None:
    by_member: dict[str, list[AssessmentRow]] = {}
    for r in rows:
        by_member.setdefault(r.member_id, []).append(r)
    for group in by_member.values():
        if len(group) == 1:
            continue
        first = group[0]
        kept: list[AssessmentRow] = []
        for r in group:
            dup_of = next((k for k in kept if k == r), None)
            if dup_of is not None:
                errors.append(
                    Problem.at_cell(
                        r.row,
                        "member_id",
                        DUPLICATE_ROW,
                        f"row {r.row} repeats row {dup_of.row} (member {r.member_id})",
                    )
                )
                continue
            if r is not first:
                for col in ("last_name", "first_name", "birth_date"):
                    mine, theirs = getattr(r, col), getattr(first, col)
                    if mine != theirs:
                        errors.append(
                            Problem.at_cell(
                                r.row,
                                col,
                                INCONSISTENT_MEMBER,
                                f"member {r.member_id}: {col} {_show(mine)} differs from {_show(theirs)} "
                                f"on row {first.row}",
                            )
                        )
            kept.append(r)


# --------------------------------------------------------------------------- spans
def tier_spans(rows: Iterable[RosterRow]) -> dict[str, list[Span]]:
    """Turn validated roster rows into each member's tier periods, half-open.

    A tier period runs from its ``tier_start`` until the next ``tier_start`` of the same
    member, or until the day after the inclusive ``enrollment_end``. This is the bridge from
    the file's inclusive dates to the half-open ranges :mod:`enrollment.calc` works with.
    """
    by_member: dict[str, list[RosterRow]] = {}
    for r in rows:
        by_member.setdefault(r.member_id, []).append(r)
    out: dict[str, list[Span]] = {}
    one_day = dt.timedelta(days=1)
    for member_id, group in by_member.items():
        group.sort(key=lambda r: (r.tier_start, r.row))
        end = group[0].enrollment_end
        end_excl = end + one_day if end is not None else None
        spans: list[Span] = []
        for k, r in enumerate(group):
            nxt = group[k + 1].tier_start if k + 1 < len(group) else end_excl
            if nxt is not None and nxt <= r.tier_start:
                continue  # a duplicate or overlapping row: already reported by the validator
            spans.append(Span(r.tier_start, nxt, r.tier))
        out[member_id] = spans
    return out


# --------------------------------------------------------------------------- helpers
def _date_issue(
    add_error: Callable[[Problem], None], row: int, column: str, text: str, *, required: bool = False
) -> None:
    """The issue of a date column that did not parse: empty (an error if required) or not ``YYYY-MM-DD``."""
    if text:
        add_error(_bad_date(row, column, text))
    elif required:
        add_error(Problem.at_cell(row, column, REQUIRED, f"{column} is required"))


def _required_issues(add_error: Callable[[Problem], None], row: int, **values: str) -> None:
    for column, value in values.items():
        if not value:
            add_error(Problem.at_cell(row, column, REQUIRED, f"{column} is required"))


def _birth_date_issue(
    add_error: Callable[[Problem], None], row: int, text: str, birth: dt.date | None
) -> None:
    """``birth`` is None (empty or not a date) or after today."""
    if birth is None:
        _date_issue(add_error, row, "birth_date", text, required=True)
    else:
        add_error(Problem.at_cell(row, "birth_date", BIRTH_IN_FUTURE, f"birth_date {birth} is in the future"))


def _market_issue(
    add_error: Callable[[Problem], None], row: int, market: str, markets: frozenset[str]
) -> None:
    if not market:
        add_error(Problem.at_cell(row, "market", REQUIRED, "market is required"))
    else:
        add_error(
            Problem.at_cell(
                row,
                "market",
                UNKNOWN_MARKET,
                f"market {market!r} is not a market of this contract ({_listing(markets)})",
            )
        )


def _bad_date(row: int, column: str, text: str) -> Problem:
    return Problem.at_cell(
        row, column, INVALID_DATE, f"{column} {text!r} is not a date in the form YYYY-MM-DD"
    )


def _listing(codes: Iterable[str], limit: int = 12) -> str:
    items = sorted(codes)
    if not items:
        return "none configured"
    shown = ", ".join(items[:limit])
    return shown + (", ..." if len(items) > limit else "")


def _show(value: object) -> str:
    return "(empty)" if value is None or value == "" else repr(str(value))


def _span_text(start: dt.date, end: dt.date | None) -> str:
    return f"{start} to {end}" if end is not None else f"from {start} (open)"


def _period_text(start: dt.date, end_excl: dt.date | None) -> str:
    if end_excl is None:
        return f"from {start}"
    return f"{start} to {end_excl - dt.timedelta(days=1)}"


def _issue_order(issue: Problem) -> tuple[int, int, str]:
    return (issue.row or 0, _COLUMN_RANK.get(issue.column or "", 99), issue.code)


_COLUMN_RANK = {
    c: k
    for k, c in enumerate(ROSTER_COLUMNS + ("assessment_date", "outcome", "assessor_role", "referral_date"))
}
