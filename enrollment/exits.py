"""Deaths and transfers to hospice: recording them, refusing enrollment after them, and ending the
rosters already accepted past them (docs/domain.md, "Deaths and hospice transfers").

- **Recording** (:func:`record_exits`): every report is a :class:`~enrollment.models.MemberExit` row
  (append-only). The first report of a member's death (per plan) is ``recorded`` and holds; a later
  one of the same date ``confirmed``; of another date ``conflicting`` (kept and shown as a warning,
  never applied). A hospice transfer is the same per (member, bundle). Reports come from a roster row
  whose ``disenrollment_reason`` is ``death`` or ``hospice`` (its ``enrollment_end`` is the date) and
  from the plan's 834 (``INS11``/``INS12``, a date of death).
- **Refusing** (:func:`roster_problems`): a roster row enrolling the member after a recorded death
  (any contract, provider or month), or after a hospice transfer from a bundle of the contract, is a
  row error naming the date and its source.
- **Ending accepted rosters** (:func:`end_later_rosters`): when a death is recorded after months were
  accepted with the member enrolled past it, each such month (its current version) gets a new version
  made by the platform with the member's span ended on that day; its member-months are recomputed
  under the month's own proration and tier rules (:func:`enrollment.calc.member_months` with
  ``ended_on``). Payments read the current version, so the next payment run takes back what was paid
  for the days after (retro lines inside the contract's retro window, exceptions outside it).

What a provider is told follows ADR 0010: the date of death of a member the provider has rostered is
its business; the source is named only when it is the provider's own roster or the plan's 834; anything
about another provider's roster, and the death of a member the provider never rostered, is in the
plan's ``plan_detail`` only (the provider reads the same words as for a member who is not eligible).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from contracts.selectors import terms_in_force
from core.domain import codes
from core.domain.months import first_of_month
from core.domain.problems import Problem
from core.errors import NotFoundError
from enrollment import calc
from enrollment.ingest.roster import RosterRow, tier_spans
from enrollment.models import (
    Assessment,
    EligibilityFile,
    ExitSource,
    ExitStatus,
    IssueSource,
    MemberExit,
    MemberMonth,
    ProcessingStatus,
    RosterEntry,
    RosterMonth,
    RosterSubmission,
    Severity,
    SubmissionIssue,
    SubmissionOrigin,
)
from enrollment.states import ROSTER_SUBMISSION

# --------------------------------------------------------------------------- codes (pinned, docs/formats.md)
MEMBER_DECEASED = "member_deceased"  # error: a roster row after a recorded death
AFTER_HOSPICE_TRANSFER = "after_hospice_transfer"  # error: after a hospice transfer from this bundle
DEATH_DATE_CONFLICT = "death_date_conflict"  # warning: another date than the recorded one
HOSPICE_DATE_CONFLICT = "hospice_date_conflict"  # warning
ENROLLMENT_ENDED = "enrollment_ended"  # warning on a platform-made version: the span it ended

ONE_DAY = dt.timedelta(days=1)
CHUNK = 500


@dataclass(frozen=True)
class Report:
    """One report of a death or hospice transfer, before it is recorded."""

    member_id: str
    reason: str
    exit_date: dt.date
    source: str
    bundle_id: int | None = None
    submission_id: int | None = None
    row: int | None = None
    eligibility_file_id: int | None = None
    #: Where the report is in its file, for a conflict warning (X12 coordinates of an 834's INS).
    where: dict = field(default_factory=dict)


@dataclass
class Recorded:
    """What :func:`record_exits` did: the exits that now hold, and the reports that conflicted."""

    recorded: list[MemberExit] = field(default_factory=list)
    confirmed: list[MemberExit] = field(default_factory=list)
    conflicting: list[tuple[MemberExit, MemberExit]] = field(default_factory=list)  # (report, the recorded)


def _with_source(queryset):
    return queryset.select_related("eligibility_file", "submission__contract__provider")


def recorded_exits(
    *, payer_id: int, member_ids: Sequence[str], bundle_ids: Iterable[int] = ()
) -> dict[str, list[MemberExit]]:
    """The recorded deaths of ``member_ids`` and their recorded hospice transfers from ``bundle_ids``."""
    bundles = list(bundle_ids)
    out: dict[str, list[MemberExit]] = defaultdict(list)
    ids = list(member_ids)
    for k in range(0, len(ids), CHUNK):
        reason = Q(reason=codes.DEATH)
        if bundles:
            reason |= Q(reason=codes.HOSPICE, bundle_id__in=bundles)
        for e in _with_source(
            MemberExit.objects.filter(
                reason, payer_id=payer_id, member_id__in=ids[k : k + CHUNK], status=ExitStatus.RECORDED
            )
        ):
            out[e.member_id].append(e)
    return out


def recently_recorded(
    *, payer_id: int, bundle_ids: Iterable[int], since: dt.datetime
) -> dict[str, list[MemberExit]]:
    """The deaths (and hospice transfers from ``bundle_ids``) of the plan recorded since ``since``."""
    reason = Q(reason=codes.DEATH) | Q(reason=codes.HOSPICE, bundle_id__in=list(bundle_ids))
    out: dict[str, list[MemberExit]] = defaultdict(list)
    for e in _with_source(
        MemberExit.objects.filter(
            reason, payer_id=payer_id, status=ExitStatus.RECORDED, recorded_at__gte=since
        )
    ):
        out[e.member_id].append(e)
    return out


def record_exits(*, payer_id: int, reports: Sequence[Report]) -> Recorded:
    """Append a row per report (call inside the caller's transaction). The first report of an exit
    holds; the ones after it confirm it or conflict with it."""
    result = Recorded()
    if not reports:
        return result
    ids = sorted({r.member_id for r in reports})
    held: dict[tuple[str, str, int | None], MemberExit] = {}
    for k in range(0, len(ids), CHUNK):
        for e in _with_source(
            MemberExit.objects.select_for_update(of=("self",)).filter(
                payer_id=payer_id, member_id__in=ids[k : k + CHUNK], status=ExitStatus.RECORDED
            )
        ):
            held[(e.member_id, e.reason, e.bundle_id)] = e
    now = timezone.now()
    for r in reports:
        key = (r.member_id, r.reason, r.bundle_id if r.reason == codes.HOSPICE else None)
        before = held.get(key)
        if before is None:
            status = ExitStatus.RECORDED
        elif before.exit_date == r.exit_date:
            status = ExitStatus.CONFIRMED
        else:
            status = ExitStatus.CONFLICTING
        row = MemberExit.objects.create(
            payer_id=payer_id,
            member_id=r.member_id,
            reason=r.reason,
            bundle_id=key[2],
            exit_date=r.exit_date,
            source=r.source,
            submission_id=r.submission_id,
            row=r.row,
            eligibility_file_id=r.eligibility_file_id,
            status=status,
            recorded_at=now,
        )
        if status == ExitStatus.RECORDED:
            held[key] = row
            result.recorded.append(row)
        elif status == ExitStatus.CONFIRMED:
            result.confirmed.append(row)
        else:
            assert before is not None
            result.conflicting.append((row, before))
    return result


# --------------------------------------------------------------------------- what a roster is told
def _source_for_provider(e: MemberExit, provider_id: int) -> str:
    """The source as the provider may read it: its own roster or the plan's 834, else only "the plan"."""
    if e.source == ExitSource.X12_834 and e.eligibility_file is not None:
        return f"the plan's 834 file {e.eligibility_file.original_filename}"
    if e.submission is not None and e.submission.contract.provider_id == provider_id:
        return e.source_label
    return "recorded by the plan"


def _plan_detail(e: MemberExit) -> str:
    detail = f"{e.get_reason_display().lower()} on {e.exit_date} recorded from {e.source_label}"
    if e.submission is not None:
        detail += f" ({e.submission.contract.provider})"
    return detail + f" on {timezone.localtime(e.recorded_at):%Y-%m-%d}"


def exit_message(e: MemberExit, member_id: str, source: str) -> str:
    if e.reason == codes.DEATH:
        return f"member {member_id} died on {e.exit_date} ({source}); no enrollment after that day is paid"
    return (
        f"member {member_id} was transferred to hospice on {e.exit_date} ({source}); no enrollment in "
        "this bundle after that day is paid"
    )


def roster_problems(
    *,
    group: Sequence[RosterRow],
    exits: Sequence[MemberExit],
    provider_id: int,
    known_to_provider: bool,
    not_eligible_message: str,
    not_eligible_code: str,
) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) of one member's roster rows against the member's recorded exits.

    A row is an error when it starts after the exit's day, or runs past it (open, or ending later); a
    row reporting the same kind of exit on an earlier day than the recorded one is a warning (the
    recorded date holds; a later day is already an error)."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for e in sorted(exits, key=lambda x: (x.exit_date, x.reason)):
        day = e.exit_date
        code = MEMBER_DECEASED if e.reason == codes.DEATH else AFTER_HOSPICE_TRANSFER
        for r in sorted(group, key=lambda x: x.row):
            if r.enrollment_start > day:
                column = "enrollment_start"
            elif r.enrollment_end is None or r.enrollment_end > day:
                column = "enrollment_end"
            else:
                if r.disenrollment_reason == e.reason and r.enrollment_end != day:
                    warnings.append(
                        Problem.at_cell(
                            r.row,
                            "enrollment_end",
                            DEATH_DATE_CONFLICT if e.reason == codes.DEATH else HOSPICE_DATE_CONFLICT,
                            exit_message(e, r.member_id, _source_for_provider(e, provider_id))
                            + f"; this roster says {r.enrollment_end}: the recorded date stands"
                            if known_to_provider
                            else f"member {r.member_id}: enrollment_end {r.enrollment_end} differs from the "
                            "date the plan holds; the plan's date stands",
                            where={"plan_detail": _plan_detail(e)},
                        )
                    )
                continue
            if known_to_provider:
                errors.append(
                    Problem.at_cell(
                        r.row,
                        column,
                        code,
                        exit_message(e, r.member_id, _source_for_provider(e, provider_id)),
                        where={"plan_detail": _plan_detail(e)},
                    )
                )
            else:  # a member this provider never rostered: told what any ineligible member's provider is
                errors.append(
                    Problem.at_cell(
                        r.row,
                        "member_id",
                        not_eligible_code,
                        not_eligible_message,
                        where={"plan_detail": _plan_detail(e)},
                    )
                )
                break
    if not known_to_provider and errors:
        errors = errors[:1]  # one "not eligible", whatever the member's exits
    return errors, warnings


def rostered_by(*, provider_id: int, payer_id: int, member_ids: Sequence[str]) -> set[str]:
    """The members the provider has had on an accepted roster of any of its contracts with the plan."""
    out: set[str] = set()
    ids = list(member_ids)
    for k in range(0, len(ids), CHUNK):
        out.update(
            RosterEntry.objects.filter(
                submission__contract__provider_id=provider_id,
                submission__contract__payer_id=payer_id,
                submission__status=ProcessingStatus.ACCEPTED,
                member_id__in=ids[k : k + CHUNK],
            )
            .order_by()
            .values_list("member_id", flat=True)
            .distinct()
        )
    return out


def reports_from_roster(
    *, submission_id: int, rows: Iterable[RosterRow], bundle_ids: Sequence[int]
) -> list[Report]:
    """A report per member whose rows end with ``death`` (every bundle) or ``hospice`` (each bundle of
    the contract)."""
    out: list[Report] = []
    seen: set[str] = set()
    for r in rows:
        if (
            r.member_id in seen
            or r.enrollment_end is None
            or r.disenrollment_reason not in codes.EXIT_REASONS
        ):
            continue
        seen.add(r.member_id)
        if r.disenrollment_reason == codes.DEATH:
            out.append(
                Report(
                    r.member_id, codes.DEATH, r.enrollment_end, ExitSource.ROSTER, None, submission_id, r.row
                )
            )
        else:
            out += [
                Report(
                    r.member_id, codes.HOSPICE, r.enrollment_end, ExitSource.ROSTER, b, submission_id, r.row
                )
                for b in bundle_ids
            ]
    return out


# --------------------------------------------------------------------------- ending accepted rosters
def _affected(exits: Sequence[MemberExit]) -> dict[int, dict[str, MemberExit]]:
    """Current accepted versions with a recorded exit's member enrolled past its day: submission id ->
    member -> the earliest exit that ends them there."""
    out: dict[int, dict[str, MemberExit]] = defaultdict(dict)
    for e in exits:
        entries = RosterEntry.objects.filter(
            submission__is_current=True,
            submission__status=ProcessingStatus.ACCEPTED,
            submission__contract__payer_id=e.payer_id,
            submission__month__gte=first_of_month(e.exit_date),
            member_id=e.member_id,
        ).filter(
            Q(enrollment_end__isnull=True) | Q(enrollment_end__gt=e.exit_date) | Q(tier_start__gt=e.exit_date)
        )
        if e.reason == codes.HOSPICE:
            entries = entries.filter(submission__contract__bundle_versions__bundle_id=e.bundle_id)
        for submission_id in entries.order_by().values_list("submission_id", flat=True).distinct():
            held = out[submission_id].get(e.member_id)
            if held is None or e.exit_date < held.exit_date:
                out[submission_id][e.member_id] = e
    return out


def end_later_rosters(exits: Sequence[MemberExit]) -> list[RosterSubmission]:
    """A platform-made version of every month accepted with a recorded exit's member past its day
    (call inside the transaction that recorded the exits). Returns the new versions."""
    made = []
    for submission_id, ends in sorted(_affected(exits).items()):
        new = _new_version(submission_id, ends)
        if new is not None:
            made.append(new)
    return made


def _copy_sql(model, fields: Sequence[str], old_id: int, new_id: int) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    columns = {f.attname: f.column for f in model._meta.concrete_fields}
    quoted = ", ".join(connection.ops.quote_name(columns[f]) for f in fields)
    submission = connection.ops.quote_name(columns["submission_id"])
    # Table and column names come from the model; the two ids are parameters.
    statement = (
        f"INSERT INTO {table} ({submission}, {quoted}) SELECT %s, {quoted} FROM {table} "  # noqa: S608
        f"WHERE {submission} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [new_id, old_id])


_ENTRY_COPY = (
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
_MM_COPY = ("contract_id", "month", "member_id", "tier", "market", "lob", "member_months", "days_enrolled")
_ASSESSMENT_COPY = (
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
)


def _row_of(e: RosterEntry) -> RosterRow:
    return RosterRow(
        e.member_id,
        e.last_name,
        e.first_name,
        e.birth_date,
        e.market,
        e.enrollment_start,
        e.enrollment_end,
        e.disenrollment_reason or None,
        e.tier,
        e.tier_start,
        e.row,
    )


def _ended(entries: list[RosterEntry], e: MemberExit, month: dt.date) -> list[RosterEntry]:
    """The member's rows ended on the exit's day: rows starting after it go, the rest end on it; when
    that leaves no day in the roster's month, the member is off the month's roster."""
    day = e.exit_date
    if day < month:
        return []
    kept = []
    for entry in entries:
        if entry.enrollment_start > day or entry.tier_start > day:
            continue
        if entry.enrollment_end is None or entry.enrollment_end > day:
            entry.enrollment_end = day
            entry.disenrollment_reason = e.reason
        kept.append(entry)
    return kept


def _still_past(submission_id: int, ends: dict[str, MemberExit]) -> dict[str, MemberExit]:
    """Those of ``ends`` whose rows in the submission still run past (or start after) their exit's day."""
    out = {}
    for member_id, e in ends.items():
        if (
            RosterEntry.objects.filter(submission_id=submission_id, member_id=member_id)
            .filter(
                Q(enrollment_end__isnull=True)
                | Q(enrollment_end__gt=e.exit_date)
                | Q(tier_start__gt=e.exit_date)
            )
            .exists()
        ):
            out[member_id] = e
    return out


def _new_version(old_id: int, ends: dict[str, MemberExit]) -> RosterSubmission | None:
    old = RosterSubmission.objects.select_related("contract").get(pk=old_id)
    month_rows = RosterMonth.objects.filter(contract_id=old.contract_id, month=old.month)
    month_rows.update(last_version=F("last_version"))  # the month's lock, as a roster's store takes it
    current = (
        RosterSubmission.objects.select_for_update()
        .select_related("contract")
        .filter(contract_id=old.contract_id, month=old.month, is_current=True)
        .first()
    )
    if current is None:
        return None
    if current.pk != old.pk:
        # A provider's version replaced it meanwhile (checked before this death was committed, maybe):
        # end that one instead, for the members it still has past their day.
        ends = _still_past(current.pk, ends)
        if not ends:
            return None
    old = current
    month_rows.update(last_version=F("last_version") + 1)
    version = month_rows.values_list("last_version", flat=True).get()
    try:
        tier_order: Sequence[str] = terms_in_force(contract=old.contract, on=old.month).tiers
    except NotFoundError:
        tier_order = ()
    members = sorted(ends)
    now = timezone.now()
    new = RosterSubmission.objects.create(
        contract=old.contract,
        month=old.month,
        version=version,
        status=ProcessingStatus.PROCESSING,
        origin=SubmissionOrigin.MEMBER_EXIT,
        previous=old,
        submitted_by=None,
        submitted_at=now,
        started_at=now,
        due_date=old.due_date,
        late=old.late,
        file=old.file.name,
        original_filename=old.original_filename,
        file_sha256=old.file_sha256,
        file_size=old.file_size,
        assessments_file=old.assessments_file.name if old.assessments_file else "",
        assessments_filename=old.assessments_filename,
        assessments_sha256=old.assessments_sha256,
        terms_version=old.terms_version,
        proration_rule=old.proration_rule,
        tier_rule=old.tier_rule,
        assessment_count=old.assessment_count,
        payable_assessment_count=old.payable_assessment_count,
    )
    _copy_sql(RosterEntry, _ENTRY_COPY, old.pk, new.pk)
    _copy_sql(MemberMonth, _MM_COPY, old.pk, new.pk)
    _copy_sql(Assessment, _ASSESSMENT_COPY, old.pk, new.pk)
    old_entries: dict[str, list[RosterEntry]] = defaultdict(list)
    old_months: dict[str, MemberMonth] = {}
    for k in range(0, len(members), CHUNK):
        chunk = members[k : k + CHUNK]
        for entry in RosterEntry.objects.filter(submission=old, member_id__in=chunk).order_by(
            "tier_start", "row"
        ):
            old_entries[entry.member_id].append(entry)
        for mm in MemberMonth.objects.filter(submission=old, member_id__in=chunk):
            old_months[mm.member_id] = mm
        RosterEntry.objects.filter(submission=new, member_id__in=chunk).delete()
        MemberMonth.objects.filter(submission=new, member_id__in=chunk).delete()
    new_entries: list[RosterEntry] = []
    new_months: list[MemberMonth] = []
    issues: list[SubmissionIssue] = []
    items = []
    for member_id in members:
        e = ends[member_id]
        before = old_entries.get(member_id, [])
        if not before:
            continue
        first = before[0]
        old_end, old_reason = first.enrollment_end, first.disenrollment_reason
        kept = _ended([_clone(x) for x in before], e, old.month)
        for entry in kept:
            entry.pk = None
            entry.submission = new
        new_entries += kept
        name = f"{first.last_name}, {first.first_name}"
        issues.append(
            SubmissionIssue(
                submission=new,
                severity=Severity.WARNING,
                source=IssueSource.ROSTER,
                row=first.row,
                column="enrollment_start" if first.enrollment_start > e.exit_date else "enrollment_end",
                code=ENROLLMENT_ENDED,
                message=exit_message(e, member_id, _source_for_provider(e, old.contract.provider_id))
                + (
                    "; the enrollment now ends on that day"
                    if kept
                    else "; the member is off this month's roster"
                ),
                plan_detail=_plan_detail(e),
            )
        )
        if not kept:
            items.append({"member_id": member_id, "name": name, "change": "removed", "changes": []})
            continue
        items.append(
            {
                "member_id": member_id,
                "name": name,
                "change": "changed",
                "changes": [
                    {"field": "enrollment_end", "before": _text(old_end), "after": str(e.exit_date)},
                    *(
                        [{"field": "disenrollment_reason", "before": old_reason, "after": e.reason}]
                        if old_reason != e.reason
                        else []
                    ),
                ],
            }
        )
        spans = tier_spans([_row_of(x) for x in kept]).get(member_id, [])
        result = calc.member_months(
            spans,
            old.month,
            old.proration_rule or codes.ANY_DAY,
            tier_rule=old.tier_rule or codes.FIRST_DAY,
            tier_order=tier_order,
            ended_on=e.exit_date,
        )
        previous_month = old_months.get(member_id)
        if result is None or previous_month is None:
            continue
        new_months.append(
            MemberMonth(
                submission=new,
                contract_id=old.contract_id,
                month=old.month,
                member_id=member_id,
                tier=result.tier,
                market=previous_month.market,
                lob=previous_month.lob,
                member_months=result.member_months,
                days_enrolled=result.days_enrolled,
            )
        )
    RosterEntry.objects.bulk_create(new_entries)
    MemberMonth.objects.bulk_create(new_months)
    SubmissionIssue.objects.bulk_create(issues)

    summary = []
    total = Decimal(0)
    for cell in (
        MemberMonth.objects.filter(submission=new)
        .order_by()
        .values("tier", "market", "lob")
        .annotate(mm=Sum("member_months"), members=Count("id"))
        .order_by("lob", "tier", "market")
    ):
        mm = Decimal(cell["mm"]).quantize(calc.MM_QUANTUM)
        total += mm
        summary.append(
            {
                "tier": cell["tier"],
                "market": cell["market"],
                "lob": cell["lob"],
                "member_months": str(mm),
                "members": cell["members"],
            }
        )
    entries = RosterEntry.objects.filter(submission=new)
    new.row_count = entries.count()
    new.member_count = entries.order_by().values("member_id").distinct().count()
    new.member_months = total
    new.summary = summary
    new.warning_count = len(issues)
    new.diff = {
        "against_version": old.version,
        "added": 0,
        "removed": sum(1 for i in items if i["change"] == "removed"),
        "changed": sum(1 for i in items if i["change"] == "changed"),
        "items": items,
        "truncated": False,
    }
    old.is_current = False
    old.save(update_fields=["is_current"])
    new.is_current = True
    new.status = ROSTER_SUBMISSION.target("accept", new.status)
    done = (
        f"Made by the platform from version {old.version}: {len(items)} member(s) whose death or hospice "
        "transfer was recorded after it was accepted"
    )
    new.finished_at = timezone.now()
    new.progress = 100
    new.progress_message = done[:200]
    new.progress_log = [
        {"at": new.finished_at.isoformat(timespec="seconds"), "progress": 100, "message": done}
    ]
    new.save()
    return new


def _clone(entry: RosterEntry) -> RosterEntry:
    return RosterEntry(**{f.attname: getattr(entry, f.attname) for f in RosterEntry._meta.concrete_fields})


def _text(value: object) -> str:
    return "" if value is None else str(value)


# --------------------------------------------------------------------------- the 834
def reports_from_834(record: EligibilityFile, members) -> list[Report]:
    """A death report per 834 member with a date of death (INS11 ``D8`` / INS12)."""
    return [
        Report(
            m.member_id,
            codes.DEATH,
            m.death_date,
            ExitSource.X12_834,
            eligibility_file_id=record.pk,
            where={
                "segment_index": m.segment_index,
                "segment_id": "INS",
                "position": m.position,
                "element": 12,
                "value": f"{m.death_date:%Y%m%d}",
                "loop": "2000",
                "st_control": m.st_control,
                "gs_control": None,
            },
        )
        for m in members
        if m.member_id and getattr(m, "death_date", None) is not None
    ]


def conflict_problem(report: MemberExit, held: MemberExit, where: dict) -> Problem:
    """An 834 death date that differs from the recorded one (the plan's own acknowledgement: it names
    the source)."""
    return Problem(
        DEATH_DATE_CONFLICT,
        f"member {report.member_id}: date of death {report.exit_date} differs from {held.exit_date}, "
        f"recorded from {held.source_label}; the recorded date stands",
        where=where,
    )
