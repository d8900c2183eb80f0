"""The roster pipeline behind :func:`enrollment.services.roster_process`.

1. **Read and validate** the file with the pure readers (:mod:`enrollment.ingest`), streaming rows,
   with progress written to the submission row as rows go by.
2. **Check against the platform's data**, a few thousand members at a time (a million-row roster
   is never joined in one query and never held twice): the plan's eligibility for the month, the
   same member on another provider's roster for the same bundle and month, the previous month's
   start date, field lengths; and the initial assessments' fee rule (look-back window).
3. **Store** everything in one transaction: roster rows, member-months (under the contract's
   proration and tier rules, :mod:`enrollment.calc`), assessments, issues, the difference from the
   version it replaces and the switch of the current version; COPY on PostgreSQL, ``bulk_create``
   in batches elsewhere. A crash anywhere leaves nothing half-written: the submission stays
   ``processing`` and a retry starts over.

Rows are sorted by member once; every later pass walks the member groups lazily in chunks, so
peak memory is the validated rows plus one chunk.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import Any

from django.db import connection, models
from django.utils import timezone

from contracts.terms import ContractTerms
from core.domain.problems import Problem
from enrollment import calc, episodes
from enrollment import exits as exits_of
from enrollment.ingest.roster import (
    ASSESSMENT_COLUMNS,
    ROSTER_COLUMNS,
    AssessmentRow,
    RosterRow,
    Validation,
    ValidationContext,
    tier_spans,
    validate_assessments,
    validate_roster,
)
from enrollment.ingest.tabular import ASSESSMENTS, ROSTER, read_table
from enrollment.models import (
    MEMBER_ID_MAX,
    NAME_MAX,
    Assessment,
    EligibilitySpan,
    IssueSource,
    Member,
    MemberMonth,
    RosterEntry,
    RosterSubmission,
    Severity,
)

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- service-level codes
# (the file-level and row-level codes are in enrollment.ingest.roster)
NOT_ELIGIBLE = "not_eligible"
ENROLLED_ELSEWHERE = "enrolled_elsewhere"
TOO_LONG = "too_long"
PROCESSING_FAILED = "processing_failed"
#: The same words for a member the plan has but who is not eligible and for a member id it never had.
NOT_ELIGIBLE_MESSAGE = "member {member_id} is not eligible with the plan on any enrolled day of {month}"
# warnings
ELIGIBILITY_PARTIAL = "eligibility_partial"
ELIGIBILITY_MISMATCH = "eligibility_mismatch"
START_CHANGED = "start_changed"
LOB_DEFAULTED = "lob_defaulted"
ASSESSMENT_OUTSIDE_MONTH = "assessment_outside_month"
NOT_PAYABLE = "not_payable"

CHUNK_MEMBERS = 5000  # members per query / per member-month batch
WRITE_BATCH = 5000  # rows per bulk_create batch (not PostgreSQL)
DIFF_ITEMS_MAX = 1000  # members listed in a stored diff (the counts are always complete)
ISSUES_INLINE_MAX = 1000  # errors/warnings returned inline by the API (all are stored)
PROGRESS_EVERY_ROWS = 20_000
ELIGIBILITY_SHOWN = 3  # eligibility periods named in a not-eligible issue's plan_detail

ONE_DAY = dt.timedelta(days=1)
ProgressFn = Callable[..., None]


@dataclass
class Plan:
    """Everything fixed for one submission's processing."""

    submission_id: int
    contract_id: int
    payer_id: int
    provider_id: int
    month: dt.date
    month_end: dt.date  # exclusive
    terms: ContractTerms
    today: dt.date
    assessor_roles: frozenset[str] | None
    other_contract_ids: list[int] = field(default_factory=list)
    eligibility_loaded: bool = False
    previous_month_submission_id: int | None = None
    bundle_ids: list[int] = field(default_factory=list)
    exits_read_at: dt.datetime | None = None  # when the checks read the recorded deaths

    @property
    def lob_default(self) -> str:
        return self.terms.lines_of_business[0] if self.terms.lines_of_business else ""

    def validation_context(self) -> ValidationContext:
        return ValidationContext(
            month=self.month,
            contract_start=self.terms.effective_start,
            contract_end=self.terms.effective_end,
            tier_codes=self.terms.tiers,
            market_codes=self.terms.markets,
            today=self.today,
            assessor_roles=self.assessor_roles,
        )


@dataclass
class Findings:
    """What the read and check passes found; ``rows`` sorted by member."""

    rows: list[RosterRow]
    row_count: int
    assessments: list[AssessmentRow]
    errors: list[Problem]  # each names its file (roster or assessments)
    warnings: list[Problem]
    lob_override: dict[str, str]
    decisions: list[calc.AssessmentDecision]

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------- progress
class Progress:
    """Writes progress to the submission row (committed at once outside a transaction).

    At most one write a second (each is a commit): a million-row roster moves the bar without
    spending its time on fsync. ``force`` writes whatever the clock says (phase changes)."""

    MIN_INTERVAL_S = 1.0

    def __init__(self, submission: RosterSubmission):
        self.submission_id = submission.pk
        self.log = list(submission.progress_log)
        self.last = submission.progress
        self.written_at = 0.0

    def __call__(self, percent: int, message: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.written_at < self.MIN_INTERVAL_S:
            return
        self.written_at = now
        percent = max(self.last, min(100, int(percent)))
        self.last = percent
        self.log.append(
            {"at": timezone.now().isoformat(timespec="seconds"), "progress": percent, "message": message}
        )
        RosterSubmission.objects.filter(pk=self.submission_id).update(
            progress=percent, progress_message=message[:200], progress_log=self.log
        )


def _count_lines(fh) -> int | None:
    """Newlines in a seekable binary file (a CSV's row count, give or take the header)."""
    try:
        start = fh.tell()
        lines = 0
        while True:
            block = fh.read(1 << 20)
            if not block:
                break
            lines += block.count(b"\n")
        fh.seek(start)
        return lines
    except (OSError, AttributeError):
        return None


class _CountingTable:
    """A table that reports how many rows went by (the validators read ``errors`` afterwards)."""

    def __init__(self, table, on_rows: Callable[[int], None]):
        self._table = table
        self.columns = table.columns
        self.errors = table.errors  # the same lists the reader appends to while iterating
        self.warnings = table.warnings
        self.on_rows = on_rows
        self.count = 0

    def __iter__(self):
        n = 0
        every = PROGRESS_EVERY_ROWS
        on_rows = self.on_rows
        for item in self._table:
            n += 1
            if n % every == 0:
                on_rows(n)
            yield item
        self.count = n


# --------------------------------------------------------------------------- member groups
def member_groups(rows: Sequence[RosterRow]) -> Iterator[list[RosterRow]]:
    """The rows of each member (``rows`` sorted by member_id), one list at a time."""
    n = len(rows)
    i = 0
    while i < n:
        member_id = rows[i].member_id
        j = i + 1
        while j < n and rows[j].member_id == member_id:
            j += 1
        yield list(rows[i:j]) if j - i > 1 else [rows[i]]
        i = j


def chunks(iterable: Iterable, size: int = CHUNK_MEMBERS) -> Iterator[list]:
    batch: list = []
    for item in iterable:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _first_row(group: list[RosterRow]) -> RosterRow:
    return min(group, key=attrgetter("row"))


def _enrolled_window(first: RosterRow, month: dt.date, month_end: dt.date) -> tuple[dt.date, dt.date]:
    """The member's enrolled days inside the month, half-open."""
    start = max(first.enrollment_start, month)
    end = month_end if first.enrollment_end is None else min(first.enrollment_end + ONE_DAY, month_end)
    return start, end


def _covered(
    start: dt.date, end: dt.date, spans: list[tuple[dt.date, dt.date | None, str]]
) -> tuple[bool, bool]:
    """(any day of [start, end) is eligible, every day is)."""
    overlapping = sorted((s, e) for s, e, _lob in spans if s < end and (e is None or e > start))
    if not overlapping:
        return False, False
    cursor = start
    for s, e in overlapping:
        if s > cursor:
            return True, False
        cursor = max(cursor, end if e is None else e)
        if cursor >= end:
            return True, True
    return True, cursor >= end


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


# --------------------------------------------------------------------------- read + validate
def read_roster_file(
    submission: RosterSubmission, vctx: ValidationContext, progress: ProgressFn
) -> tuple[Validation[RosterRow], int]:
    with submission.file.open("rb") as fh:
        total = _count_lines(fh) if submission.original_filename.lower().endswith((".csv", ".txt")) else None

        def on_rows(n: int) -> None:
            if total:
                percent = 5 + 45 * min(1.0, n / max(total, 1))
            else:
                percent = 5 + 45 * (1 - 1 / (1 + n / 100_000))
            progress(int(percent), f"Checked {n:,} rows" + (f" of about {total:,}" if total else ""))

        table = _CountingTable(read_table(fh, ROSTER, filename=submission.original_filename), on_rows)
        validation = validate_roster(table, vctx)
    return validation, table.count


def read_assessments_file(
    submission: RosterSubmission, vctx: ValidationContext
) -> Validation[AssessmentRow] | None:
    if not submission.assessments_file:
        return None
    with submission.assessments_file.open("rb") as fh:
        return validate_assessments(
            read_table(fh, ASSESSMENTS, filename=submission.assessments_filename), vctx
        )


# --------------------------------------------------------------------------- checks
def _eligibility(payer_id: int, ids: list[str]) -> tuple[dict[str, list], dict[str, tuple]]:
    spans: dict[str, list] = defaultdict(list)
    for member_id, start, end, lob in EligibilitySpan.objects.filter(
        payer_id=payer_id, member_id__in=ids
    ).values_list("member_id", "start", "end", "lob"):
        spans[member_id].append((start, end, lob))
    people = {
        m[0]: m[1:]
        for m in Member.objects.filter(payer_id=payer_id, member_id__in=ids).values_list(
            "member_id", "last_name", "first_name", "birth_date"
        )
    }
    return spans, people


def _differences(last: str, first: str, birth: dt.date, known: tuple | None) -> list[tuple[str, str]]:
    """(column, "roster value (plan: plan value)") for each identifying field that differs from the plan's."""
    if known is None:
        return []
    k_last, k_first, k_birth = known
    differences = []
    if k_last and not _same_name(last, k_last):
        differences.append(("last_name", f"last_name {last!r} (plan: {k_last!r})"))
    if k_first and not _same_name(first, k_first):
        differences.append(("first_name", f"first_name {first!r} (plan: {k_first!r})"))
    if k_birth and birth != k_birth:
        differences.append(("birth_date", f"birth_date {birth} (plan: {k_birth})"))
    return differences


def _mismatch_warning(row: int, member_id: str, differences: list[tuple[str, str]]) -> Problem | None:
    """Which fields differ from the plan's eligibility file; the plan's values go to the plan only."""
    if not differences:
        return None
    columns = [column for column, _ in differences]
    return Problem.at_cell(
        row,
        columns[0],
        ELIGIBILITY_MISMATCH,
        f"member {member_id}: {', '.join(columns)} {'differs' if len(columns) == 1 else 'differ'} from "
        "the plan's eligibility file",
        where={"plan_detail": "; ".join(text for _, text in differences)},
    )


def _not_eligible_detail(spans: list, known: tuple | None, differences: list[tuple[str, str]]) -> str:
    """Why a member is not eligible, as the plan's records say it (the plan reads it, the provider never:
    to the provider a member the plan has and a member id it never had read alike)."""
    if known is None and not spans:
        return "not in the plan's eligibility file"
    periods = [_eligibility_text(start, end) for start, end, _lob in sorted(spans)[:ELIGIBILITY_SHOWN]]
    if len(spans) > ELIGIBILITY_SHOWN:
        periods.append("...")
    detail = "in the plan's eligibility file; eligible " + (", ".join(periods) if periods else "on no day")
    if differences:
        detail += "; " + "; ".join(text for _, text in differences)
    return detail


def _eligibility_text(start: dt.date, end: dt.date | None) -> str:
    return f"{start} to {end - ONE_DAY}" if end is not None else f"from {start}"


def check_roster(
    plan: Plan,
    rows: list[RosterRow],
    progress: ProgressFn,
    errors: list[Problem],
    warnings: list[Problem],
    lob_override: dict[str, str],
) -> None:
    """The rules that need the database, a chunk of members at a time (``rows`` sorted by member)."""
    plan.exits_read_at = timezone.now()
    lobs = set(plan.terms.lines_of_business)
    defaulted = 0
    total_members = 0
    month_label = f"{plan.month:%Y-%m}"
    for k, chunk in enumerate(chunks(member_groups(rows))):
        ids = [g[0].member_id for g in chunk]
        total_members += len(ids)
        spans, people = _eligibility(plan.payer_id, ids) if plan.eligibility_loaded else ({}, {})
        elsewhere: set[str] = set()
        if plan.other_contract_ids:
            elsewhere = set(
                MemberMonth.objects.filter(
                    contract_id__in=plan.other_contract_ids,
                    month=plan.month,
                    submission__is_current=True,
                    member_id__in=ids,
                ).values_list("member_id", flat=True)
            )
        # Deaths (any bundle) and hospice transfers from this contract's bundles, recorded before.
        exits = exits_of.recorded_exits(payer_id=plan.payer_id, member_ids=ids, bundle_ids=plan.bundle_ids)
        rostered = (
            exits_of.rostered_by(provider_id=plan.provider_id, payer_id=plan.payer_id, member_ids=list(exits))
            if exits
            else set()
        )
        previous_starts: dict[str, dt.date] = {}
        if plan.previous_month_submission_id:
            previous_starts = dict(
                RosterEntry.objects.filter(submission_id=plan.previous_month_submission_id, member_id__in=ids)
                .order_by()
                .values_list("member_id", "enrollment_start")
                .distinct()
            )
        earlier_episodes = _earlier_episode_starts(plan, ids) if plan.terms.episode_days else {}
        for group in chunk:
            first = _first_row(group)
            member_id = first.member_id
            if plan.terms.episode_days is not None:
                errors += episodes.roster_problems(
                    group,
                    month_last_day=plan.month_end - ONE_DAY,
                    days=plan.terms.episode_days,
                    renewal=plan.terms.episode_renewal,
                    earlier_starts=earlier_episodes.get(member_id, ()),
                )
            if len(member_id) > MEMBER_ID_MAX:
                errors.append(
                    Problem.at_cell(
                        first.row,
                        "member_id",
                        TOO_LONG,
                        f"member_id is {len(member_id)} characters; the limit is {MEMBER_ID_MAX}",
                    )
                )
            for r in group:
                for column in ("last_name", "first_name"):
                    if len(getattr(r, column)) > NAME_MAX:
                        errors.append(
                            Problem.at_cell(
                                r.row, column, TOO_LONG, f"{column} is longer than {NAME_MAX} characters"
                            )
                        )
            refused = False
            if member_id in exits:
                exit_errors, exit_warnings = exits_of.roster_problems(
                    group=group,
                    exits=exits[member_id],
                    provider_id=plan.provider_id,
                    known_to_provider=member_id in rostered,
                    not_eligible_message=NOT_ELIGIBLE_MESSAGE.format(member_id=member_id, month=month_label),
                    not_eligible_code=NOT_ELIGIBLE,
                )
                errors += exit_errors
                warnings += exit_warnings
                refused = any(e.code == NOT_ELIGIBLE for e in exit_errors)
            if member_id in elsewhere:
                errors.append(
                    Problem.at_cell(
                        first.row,
                        "member_id",
                        ENROLLED_ELSEWHERE,
                        f"member {member_id} is enrolled with another provider for this bundle in "
                        f"{month_label}; a member is enrolled with one provider a month",
                    )
                )
            before = previous_starts.get(member_id)
            if before is not None and before != first.enrollment_start:
                warnings.append(
                    Problem.at_cell(
                        first.row,
                        "enrollment_start",
                        START_CHANGED,
                        f"member {member_id}: enrollment_start {first.enrollment_start} differs from "
                        f"{before} on last month's roster",
                    )
                )
            if plan.eligibility_loaded:
                member_spans = spans.get(member_id, [])
                known = people.get(member_id)
                start, end = _enrolled_window(first, plan.month, plan.month_end)
                any_day, every_day = _covered(start, end, member_spans)
                differences = _differences(first.last_name, first.first_name, first.birth_date, known)
                if not any_day and not refused:
                    # One message whether or not the plan has the member (and no mismatch warning that
                    # would tell the two apart); the plan's reasons are in plan_detail.
                    errors.append(
                        Problem.at_cell(
                            first.row,
                            "member_id",
                            NOT_ELIGIBLE,
                            NOT_ELIGIBLE_MESSAGE.format(member_id=member_id, month=month_label),
                            where={
                                "plan_detail": _not_eligible_detail(member_spans, known, differences)
                                + f"; enrolled {start} to {end - ONE_DAY}"
                            },
                        )
                    )
                elif any_day:
                    if not every_day:
                        warnings.append(
                            Problem.at_cell(
                                first.row,
                                "member_id",
                                ELIGIBILITY_PARTIAL,
                                f"member {member_id} is eligible with the plan on only some enrolled days of "
                                f"{month_label}",
                            )
                        )
                    mismatch = _mismatch_warning(first.row, member_id, differences)
                    if mismatch is not None:
                        warnings.append(mismatch)
                lob = next(
                    (
                        s_lob
                        for s, e, s_lob in sorted(member_spans)
                        if s < end and (e is None or e > start) and s_lob in lobs
                    ),
                    "",
                )
                if lob and lob != plan.lob_default:
                    lob_override[member_id] = lob
                elif not lob and len(lobs) > 1:
                    defaulted += 1
            elif len(lobs) > 1:
                defaulted += 1
        progress(
            55 + int(15 * min(1.0, (k + 1) * CHUNK_MEMBERS / max(len(rows), 1))),
            f"Checked {total_members:,} members against the plan's eligibility",
        )
    if defaulted:
        warnings.append(
            Problem.at_cell(
                1,
                "",
                LOB_DEFAULTED,
                f"{defaulted:,} member(s) have no line of business in the plan's eligibility for "
                f"{month_label}; their member-months are counted under {plan.lob_default}",
            )
        )


def _earlier_episode_starts(plan: Plan, ids: list[str]) -> dict[str, set[dt.date]]:
    """The enrollment starts (episodes) of ``ids`` on the contract's accepted rosters of earlier months."""
    starts: dict[str, set[dt.date]] = defaultdict(set)
    rows = (
        RosterEntry.objects.filter(
            submission__contract_id=plan.contract_id,
            submission__month__lt=plan.month,
            submission__is_current=True,
            member_id__in=ids,
        )
        .order_by()
        .values_list("member_id", "enrollment_start")
        .distinct()
    )
    for member_id, start in rows:
        starts[member_id].add(start)
    return starts


#: Deaths recorded this long before the checks read them are re-checked at the store (a transaction
#: that recorded one before the read may have committed after it).
EXITS_RECHECK_MARGIN = dt.timedelta(minutes=1)


def exits_recorded_meanwhile(plan: Plan, rows: list[RosterRow], known: list[Problem]) -> list[Problem]:
    """Errors for deaths and hospice transfers recorded while the roster was being checked (call under the
    month's lock, just before storing): the store must not accept a member enrolled past one. Problems
    already found by the checks are not repeated."""
    if plan.exits_read_at is None:
        return []
    recent = exits_of.recently_recorded(
        payer_id=plan.payer_id, bundle_ids=plan.bundle_ids, since=plan.exits_read_at - EXITS_RECHECK_MARGIN
    )
    if not recent:
        return []
    seen = {(p.row, p.column, p.code) for p in known}
    out: list[Problem] = []
    month_label = f"{plan.month:%Y-%m}"
    for member_id, exits in recent.items():
        i = bisect_left(rows, member_id, key=attrgetter("member_id"))
        group = []
        while i < len(rows) and rows[i].member_id == member_id:
            group.append(rows[i])
            i += 1
        if not group:
            continue
        rostered = exits_of.rostered_by(
            provider_id=plan.provider_id, payer_id=plan.payer_id, member_ids=[member_id]
        )
        errors, _warnings = exits_of.roster_problems(
            group=group,
            exits=exits,
            provider_id=plan.provider_id,
            known_to_provider=member_id in rostered,
            not_eligible_message=NOT_ELIGIBLE_MESSAGE.format(member_id=member_id, month=month_label),
            not_eligible_code=NOT_ELIGIBLE,
        )
        out += [e.evolve(file=IssueSource.ROSTER) for e in errors if (e.row, e.column, e.code) not in seen]
    return out


def decide_assessments(
    plan: Plan, rows: list[AssessmentRow], errors: list[Problem], warnings: list[Problem]
) -> list[calc.AssessmentDecision]:
    """Eligibility of each assessed member, and which assessments earn the fee (look-back window)."""
    if not rows:
        return []
    ids = sorted({r.member_id for r in rows})
    history: list[calc.Assessment] = []
    provider = str(plan.provider_id)
    for chunk in chunks(ids):
        if plan.eligibility_loaded:
            spans, people = _eligibility(plan.payer_id, chunk)
            in_chunk = set(chunk)
            for r in (r for r in rows if r.member_id in in_chunk):
                member_spans = spans.get(r.member_id, [])
                known = people.get(r.member_id)
                day = r.assessment_date
                differences = _differences(r.last_name, r.first_name, r.birth_date, known)
                if not _covered(day, day + ONE_DAY, member_spans)[0]:
                    errors.append(
                        Problem.at_cell(
                            r.row,
                            "member_id",
                            NOT_ELIGIBLE,
                            f"member {r.member_id} is not eligible with the plan on {day}",
                            where={"plan_detail": _not_eligible_detail(member_spans, known, differences)},
                        )
                    )
                else:
                    mismatch = _mismatch_warning(r.row, r.member_id, differences)
                    if mismatch is not None:
                        warnings.append(mismatch)
        for member_id, day in (
            Assessment.objects.filter(
                contract__provider_id=plan.provider_id,
                submission__is_current=True,
                payable=True,
                member_id__in=chunk,
            )
            .exclude(contract_id=plan.contract_id, submission__month=plan.month)
            .values_list("member_id", "assessment_date")
        ):
            history.append(calc.Assessment(member_id, provider, day))
    for r in rows:
        if not (plan.month <= r.assessment_date < plan.month_end):
            warnings.append(
                Problem.at_cell(
                    r.row,
                    "assessment_date",
                    ASSESSMENT_OUTSIDE_MONTH,
                    f"assessment_date {r.assessment_date} is not in {plan.month:%Y-%m}; it is paid "
                    f"with this month's roster",
                )
            )
    decisions = calc.assessment_payable(
        [calc.Assessment(r.member_id, provider, r.assessment_date, key=r.row) for r in rows],
        plan.terms.assessment_lookback_months,
        paid_history=history,
    )
    for d in decisions:
        if not d.payable:
            warnings.append(Problem.at_cell(int(d.assessment.key), "assessment_date", NOT_PAYABLE, d.message))
    return decisions


def read_and_check(plan: Plan, submission: RosterSubmission, progress: ProgressFn) -> Findings:
    """Passes 1 and 2: every error and warning of the roster and its assessments; writes nothing but
    progress. The rows come back sorted by member, as the store pass needs them."""
    vctx = plan.validation_context()
    validation, row_count = read_roster_file(submission, vctx, progress)
    progress(52, f"Read {row_count:,} rows; checking members", force=True)
    rows = validation.rows
    rows.sort(key=attrgetter("member_id"))
    errors = [i.evolve(file=IssueSource.ROSTER) for i in validation.errors]
    warnings = [i.evolve(file=IssueSource.ROSTER) for i in validation.warnings]
    more_errors: list[Problem] = []
    more_warnings: list[Problem] = []
    lob_override: dict[str, str] = {}
    check_roster(plan, rows, progress, more_errors, more_warnings, lob_override)
    errors += [i.evolve(file=IssueSource.ROSTER) for i in more_errors]
    warnings += [i.evolve(file=IssueSource.ROSTER) for i in more_warnings]
    assessments: list[AssessmentRow] = []
    decisions: list[calc.AssessmentDecision] = []
    a_validation = read_assessments_file(submission, vctx)
    if a_validation is not None:
        assessments = a_validation.rows
        a_errors = list(a_validation.errors)
        a_warnings = list(a_validation.warnings)
        decisions = decide_assessments(plan, assessments, a_errors, a_warnings)
        errors += [i.evolve(file=IssueSource.ASSESSMENTS) for i in a_errors]
        warnings += [i.evolve(file=IssueSource.ASSESSMENTS) for i in a_warnings]
    return Findings(rows, row_count, assessments, errors, warnings, lob_override, decisions)


# --------------------------------------------------------------------------- member-months
def _spans(groups: list[list[RosterRow]]) -> dict[str, list[calc.Span]]:
    """:func:`tier_spans` of each member's rows; a one-row member (most of them) is built directly,
    with the same result, because tier_spans' grouping and sorting cost more than the rest together."""
    out: dict[str, list[calc.Span]] = {}
    for group in groups:
        if len(group) == 1:
            r = group[0]
            end = r.enrollment_end
            out[r.member_id] = [calc.Span(r.tier_start, end + ONE_DAY if end is not None else None, r.tier)]
        else:
            out.update(tier_spans(group))
    return out


def member_month_rows(
    plan: Plan, rows: list[RosterRow], lob_override: dict[str, str], summary: dict[tuple[str, str, str], list]
) -> Iterator[tuple]:
    """(submission, contract, month, member, tier, market, lob, member_months, days) per member; fills
    ``summary[(tier, market, lob)] = [member_months, members]``."""
    terms = plan.terms
    default = plan.lob_default
    for chunk in chunks(member_groups(rows)):
        results = calc.member_months_bulk(
            _spans(chunk), plan.month, terms.proration_rule, tier_rule=terms.tier_rule, tier_order=terms.tiers
        )
        for group in chunk:
            member_id = group[0].member_id
            result = results.get(member_id)
            if result is None:
                continue
            lob = lob_override.get(member_id, default)
            cell = summary.get((result.tier, group[0].market, lob))
            if cell is None:
                cell = summary[(result.tier, group[0].market, lob)] = [Decimal(0), 0]
            cell[0] += result.member_months
            cell[1] += 1
            yield (
                plan.submission_id,
                plan.contract_id,
                plan.month,
                member_id,
                result.tier,
                group[0].market,
                lob,
                result.member_months,
                result.days_enrolled,
            )


def summary_list(summary: dict[tuple[str, str, str], list]) -> list[dict[str, Any]]:
    return [
        {
            "tier": tier,
            "market": market,
            "lob": lob,
            "member_months": str(mm.quantize(calc.MM_QUANTUM)),
            "members": members,
        }
        for (tier, market, lob), (mm, members) in sorted(
            summary.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])
        )
    ]


# --------------------------------------------------------------------------- diff
_DIFF_FIELDS = (
    "last_name",
    "first_name",
    "birth_date",
    "market",
    "enrollment_start",
    "enrollment_end",
    "disenrollment_reason",
)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _shape(values: list[tuple]) -> tuple[dict[str, str], str]:
    """A member's rows as (enrollment fields, tier periods) in comparable text form."""
    first = values[0]
    fields = {name: _text(first[k]) for k, name in enumerate(_DIFF_FIELDS)}
    tiers = ", ".join(
        f"{tier} from {tier_start}"
        for tier, tier_start in sorted(
            {(v[len(_DIFF_FIELDS)], v[len(_DIFF_FIELDS) + 1]) for v in values}, key=lambda t: (t[1], t[0])
        )
    )
    return fields, tiers


def _row_values(r: RosterRow) -> tuple:
    return (
        r.last_name,
        r.first_name,
        r.birth_date,
        r.market,
        r.enrollment_start,
        r.enrollment_end,
        r.disenrollment_reason or "",
        r.tier,
        r.tier_start,
    )


def compute_diff(previous: RosterSubmission, rows: list[RosterRow]) -> dict[str, Any]:
    """Members added, removed and changed (and how) from ``previous`` to ``rows`` (sorted by member)."""
    items: list[dict[str, Any]] = []
    counts = {"added": 0, "removed": 0, "changed": 0}

    def note(item: dict[str, Any]) -> None:
        counts[item["change"]] += 1
        if len(items) < DIFF_ITEMS_MAX:
            items.append(item)

    value_fields = (*_DIFF_FIELDS, "tier", "tier_start")
    for chunk in chunks(member_groups(rows)):
        ids = [g[0].member_id for g in chunk]
        before: dict[str, list[tuple]] = defaultdict(list)
        for values in RosterEntry.objects.filter(submission=previous, member_id__in=ids).values_list(
            "member_id", *value_fields
        ):
            before[values[0]].append(tuple(values[1:]))
        for group in chunk:
            member_id = group[0].member_id
            name = f"{group[0].last_name}, {group[0].first_name}"
            new_fields, new_tiers = _shape([_row_values(r) for r in group])
            old = before.get(member_id)
            if not old:
                note({"member_id": member_id, "name": name, "change": "added", "changes": []})
                continue
            old_fields, old_tiers = _shape(old)
            changes = [
                {"field": f, "before": old_fields[f], "after": new_fields[f]}
                for f in _DIFF_FIELDS
                if old_fields[f] != new_fields[f]
            ]
            if old_tiers != new_tiers:
                changes.append({"field": "tier", "before": old_tiers, "after": new_tiers})
            if changes:
                note({"member_id": member_id, "name": name, "change": "changed", "changes": changes})
    key = attrgetter("member_id")
    seen: set[str] = set()
    for member_id, last, first in (
        RosterEntry.objects.filter(submission=previous)
        .order_by()
        .values_list("member_id", "last_name", "first_name")
        .iterator(chunk_size=5000)
    ):
        if member_id in seen:
            continue
        i = bisect_left(rows, member_id, key=key)
        if i < len(rows) and rows[i].member_id == member_id:
            continue
        seen.add(member_id)
        note({"member_id": member_id, "name": f"{last}, {first}", "change": "removed", "changes": []})
    items.sort(key=lambda item: ({"added": 0, "changed": 1, "removed": 2}[item["change"]], item["member_id"]))
    return {
        "against_version": previous.version,
        **counts,
        "items": items,
        "truncated": sum(counts.values()) > len(items),
    }


# --------------------------------------------------------------------------- writing
def copy_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> int:
    """Insert plain tuples (in ``fields`` order, attnames such as ``submission_id``) as fast as the
    database allows: COPY on PostgreSQL, ``bulk_create`` in batches elsewhere. Call inside a transaction."""
    n = 0
    if connection.vendor == "postgresql":
        columns = {f.attname: f.column for f in model._meta.concrete_fields}
        quote = connection.ops.quote_name
        sql = (
            f"COPY {quote(model._meta.db_table)} ({', '.join(quote(columns[f]) for f in fields)}) FROM STDIN"
        )
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
                n += 1
        return n
    for batch in chunks(rows, WRITE_BATCH):
        model.objects.bulk_create([model(**dict(zip(fields, row, strict=True))) for row in batch])
        n += len(batch)
    return n


ENTRY_FIELDS = (
    "submission_id",
    "row",
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
MEMBER_MONTH_FIELDS = (
    "submission_id",
    "contract_id",
    "month",
    "member_id",
    "tier",
    "market",
    "lob",
    "member_months",
    "days_enrolled",
)
ASSESSMENT_FIELDS = (
    "submission_id",
    "contract_id",
    "row",
    "member_id",
    "last_name",
    "first_name",
    "birth_date",
    "market",
    "assessment_date",
    "outcome",
    "assessor_role",
    "payable",
    "reason",
    "message",
    "referral_date",
)
ISSUE_FIELDS = ("submission_id", "severity", "source", "row", "column", "code", "message", "plan_detail")

_COLUMN_RANK = {c: k for k, c in enumerate((*ROSTER_COLUMNS, *ASSESSMENT_COLUMNS))}


def _issue_key(i: Problem) -> tuple:
    return (i.file != IssueSource.ROSTER, i.row, _COLUMN_RANK.get(i.column or "", 99), i.code)


def issue_rows(submission_id: int, errors: list[Problem], warnings: list[Problem]) -> Iterator[tuple]:
    for severity, items in ((Severity.ERROR, errors), (Severity.WARNING, warnings)):
        for i in sorted(items, key=_issue_key):
            yield (
                submission_id,
                severity,
                i.file,
                i.row,
                (i.column or "")[:64],
                i.code[:48],
                i.message,
                i.where.get("plan_detail", ""),
            )


def entry_rows(submission_id: int, rows: Iterable[RosterRow]) -> Iterator[tuple]:
    for r in rows:
        yield (
            submission_id,
            r.row,
            r.member_id,
            r.last_name,
            r.first_name,
            r.birth_date,
            r.market,
            r.enrollment_start,
            r.enrollment_end,
            r.disenrollment_reason or "",
            r.tier,
            r.tier_start,
        )


def assessment_rows(
    plan: Plan, rows: list[AssessmentRow], decisions: list[calc.AssessmentDecision]
) -> Iterator[tuple]:
    for r, d in zip(rows, decisions, strict=True):
        yield (
            plan.submission_id,
            plan.contract_id,
            r.row,
            r.member_id,
            r.last_name,
            r.first_name,
            r.birth_date,
            r.market,
            r.assessment_date,
            r.outcome,
            r.assessor_role,
            d.payable,
            d.reason or "",
            d.message[:300],
            r.referral_date,
        )
