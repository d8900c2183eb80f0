"""Writes of enrollment: submit and process a month's roster (with its initial assessments), load the
plan's eligibility file (X12 834), remind providers of a missing roster and mark missing months late.

Every write is one transaction. A roster or an 834 is kept as uploaded whatever happens to it, then
processed once, by a Celery task for a file over ``UPLOAD_SYNC_MAX_BYTES`` or inline for a smaller one
(:func:`core.uploads.parsed_in_request`); processing is idempotent (a finished submission or file is
left alone) and writes everything or nothing.
"""

from __future__ import annotations

import logging
import os
from datetime import date
from decimal import Decimal

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts.models import Membership, Role
from accounts.tenancy import Scope
from bundles.models import BundleVersion
from bundles.selectors import roles_for
from contracts.models import Contract, ContractStatus
from contracts.selectors import terms_in_force
from core.domain.display import member_months_text
from core.domain.months import months_between, months_text, next_month, shift_month
from core.domain.problems import Problem
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, NotFoundError, month_from_input
from core.uploads import parsed_in_request, uploaded_sha256
from enrollment import exits, processing
from enrollment.eligibility import apply_834
from enrollment.ingest.ack_999 import AcknowledgementNotPossible, readable_acknowledgement, write_999
from enrollment.ingest.x12_834 import Member834, Parse834Result, parse_834
from enrollment.models import (
    Assessment,
    EligibilityFile,
    IssueSource,
    MemberMonth,
    ProcessingStatus,
    RosterEntry,
    RosterMonth,
    RosterSubmission,
    Severity,
    SubmissionIssue,
)
from enrollment.schedule import due_date_for, earliest_month, latest_month
from enrollment.states import ROSTER_SUBMISSION

logger = logging.getLogger(__name__)

NOT_IN_FORCE_MESSAGE = "The contract was not in force in that month."
RETRO_WINDOW_MESSAGE = (
    "That month is older than the contract's retro window of {months}; its roster can no longer "
    "be changed. The earliest month a roster can be sent for is {earliest}."
)
FUTURE_MONTH_MESSAGE = "A month's roster can be submitted from the month's first day on."
NOT_FINISHED_MESSAGE = "The submission is still being processed."
PROCESSING_FAILED_MESSAGE = "The file could not be processed: {error}. Nothing was stored; submit it again."
#: The ``error`` of a file whose processing hit the task's time limit (enrollment.tasks).
TIME_LIMIT_ERROR = "it took longer than the limit of {limit} for one file"

#: Reminders go out this many days (or fewer) before the due day while the roster is missing.
REMINDER_DAYS_BEFORE = 3


# --- small helpers ---------------------------------------------------------------------------------


def _safe_name(uploaded, fallback: str) -> str:
    return (get_valid_filename(os.path.basename(getattr(uploaded, "name", "") or "")) or fallback)[:200]


def _terms(contract: Contract, month: date):
    try:
        return terms_in_force(contract=contract, on=month)
    except NotFoundError as exc:
        raise ApplicationError(
            NOT_IN_FORCE_MESSAGE, code="contract_not_in_force", details={"month": [NOT_IN_FORCE_MESSAGE]}
        ) from exc


def _log(entries: list, progress: int, message: str) -> list:
    return [
        *entries,
        {"at": timezone.now().isoformat(timespec="seconds"), "progress": progress, "message": message},
    ]


# --- rosters -------------------------------------------------------------------------------------


def _allocate_version(contract: Contract, month: date, due: date) -> int:
    """The next version number for (contract, month). The UPDATE locks the month's row until commit, so
    two submissions at once get N and N+1; the unique constraint on versions is the backstop."""
    months = RosterMonth.objects.filter(contract=contract, month=month)
    if not months.update(last_version=F("last_version") + 1, due_date=due):
        try:
            with transaction.atomic():
                RosterMonth.objects.create(contract=contract, month=month, last_version=1, due_date=due)
            return 1
        except IntegrityError:  # created by a submission a moment ago
            months.update(last_version=F("last_version") + 1, due_date=due)
    return months.values_list("last_version", flat=True).get()


def roster_submit(
    *,
    scope: Scope,
    contract: Contract,
    month,
    file,
    assessments_file=None,
    today: date | None = None,
    run_inline: bool | None = None,
) -> RosterSubmission:
    """Keep the files and queue the month's roster (a new version) for processing.

    Refused at once (nothing kept) when the month is not one the contract can take a roster for:
    outside the contract, in the future, or older than the contract's retro window. Files up to
    ``UPLOAD_SYNC_MAX_BYTES`` are processed before returning; larger ones by a Celery worker after the
    commit.
    """
    scope.require("roster.submit")
    if contract.provider_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    month = month_from_input(month)
    today = today or timezone.localdate()
    if month > latest_month(today):
        raise ApplicationError(
            FUTURE_MONTH_MESSAGE, code="month_in_future", details={"month": [FUTURE_MONTH_MESSAGE]}
        )
    terms = _terms(contract, month)
    age = months_between(month, today)
    if age > terms.retro_window_months:
        earliest = earliest_month(today, terms.retro_window_months)
        message = RETRO_WINDOW_MESSAGE.format(
            months=months_text(terms.retro_window_months), earliest=f"{earliest:%Y-%m}"
        )
        raise ApplicationError(
            message,
            code="outside_retro_window",
            details={
                "month": [message],
                "retro_window_months": terms.retro_window_months,
                "months_ago": age,
                "earliest_month": f"{earliest:%Y-%m}",
            },
        )
    due = due_date_for(month, terms.roster_due_day)
    submission = RosterSubmission(
        contract=contract,
        month=month,
        submitted_by=scope.user,
        submitted_at=timezone.now(),
        due_date=due,
        late=today > due,
        original_filename=_safe_name(file, "roster.csv"),
        file_sha256=uploaded_sha256(file),
        file_size=file.size or 0,
        progress_log=_log([], 0, "Queued"),
    )
    submission.file.save(submission.original_filename, file, save=False)
    if assessments_file is not None:
        submission.assessments_filename = _safe_name(assessments_file, "assessments.csv")
        submission.assessments_sha256 = uploaded_sha256(assessments_file)
        submission.assessments_file.save(submission.assessments_filename, assessments_file, save=False)
    size = (file.size or 0) + (getattr(assessments_file, "size", 0) or 0)
    inline = parsed_in_request(size) if run_inline is None else run_inline
    with transaction.atomic():
        submission.version = _allocate_version(contract, month, due)
        submission.save()
        if not inline:
            from enrollment.tasks import process_roster

            transaction.on_commit(lambda: process_roster.delay(submission.pk))
    if inline:
        try:
            return roster_process(submission_id=submission.pk)
        except OperationalError:  # the database was busy: let a worker retry rather than leave it waiting
            logger.warning("Roster submission %s handed to a worker after a database error", submission.pk)
            from enrollment.tasks import process_roster

            process_roster.delay(submission.pk)
    return submission


def _plan(submission: RosterSubmission) -> processing.Plan:
    contract = submission.contract
    terms = terms_in_force(contract=contract, on=submission.month)
    bundles = BundleVersion.objects.filter(pk__in=terms.bundle_version_ids).values("bundle_id")
    others = list(
        Contract.objects.filter(payer_id=contract.payer_id, bundle_versions__bundle_id__in=bundles)
        .exclude(provider_id=contract.provider_id)
        .values_list("pk", flat=True)
        .distinct()
    )
    previous_month = shift_month(submission.month, -1)
    previous = (
        RosterSubmission.objects.filter(contract=contract, month=previous_month, is_current=True)
        .values_list("pk", flat=True)
        .first()
    )
    roles = frozenset(roles_for(organization=contract.payer).values_list("code", flat=True))
    bundle_ids = sorted(set(bundles.values_list("bundle_id", flat=True)))
    return processing.Plan(
        submission_id=submission.pk,
        contract_id=contract.pk,
        payer_id=contract.payer_id,
        provider_id=contract.provider_id,
        month=submission.month,
        month_end=next_month(submission.month),
        terms=terms,
        today=timezone.localdate(submission.submitted_at),
        assessor_roles=roles or None,
        other_contract_ids=others,
        previous_month_submission_id=previous,
        eligibility_loaded=EligibilityFile.objects.filter(
            payer_id=contract.payer_id, status=ProcessingStatus.ACCEPTED
        ).exists(),
        bundle_ids=bundle_ids,
    )


def roster_process(*, submission_id: int) -> RosterSubmission | None:
    """Validate and store a submission (the Celery task's body; the seed and small uploads call it too).

    Idempotent: a submission already accepted or rejected is returned unchanged. Everything it
    writes for the submission is written in one transaction at the end, so a crash part-way leaves
    the submission ``processing`` with nothing stored, and running it again completes it.
    """
    with transaction.atomic():
        # A write first: it takes the row lock (PostgreSQL) or the write lock (SQLite, where upgrading a
        # read to a write inside a transaction fails at once instead of waiting).
        claimed = RosterSubmission.objects.filter(
            pk=submission_id, status__in=ROSTER_SUBMISSION.sources("process")
        ).update(attempts=F("attempts") + 1)
        submission = RosterSubmission.objects.select_related("contract").filter(pk=submission_id).first()
        if submission is None or not claimed:
            return submission
        message = "Restarted after an interruption" if submission.attempts > 1 else "Reading the roster"
        submission.started_at = submission.started_at or timezone.now()
        submission.progress = max(submission.progress, 1)
        submission.progress_message = message
        submission.progress_log = _log(submission.progress_log, submission.progress, message)
        submission.save(update_fields=["started_at", "progress", "progress_message", "progress_log"])
    progress = processing.Progress(submission)
    try:
        plan = _plan(submission)
        findings = processing.read_and_check(plan, submission, progress)
        progress(
            70,
            f"Storing {len(findings.rows):,} rows"
            if findings.ok
            else f"Recording {len(findings.errors):,} errors",
            force=True,
        )
        return _store(submission, plan, findings, progress)
    except (OperationalError, SoftTimeLimitExceeded):
        raise  # the database: the task retries; the time limit: the task records it (roster_fail)
    except Exception as exc:
        logger.exception("Roster submission %s could not be processed", submission_id)
        return _fail(submission_id, progress, f"{type(exc).__name__}: {exc}"[:300])


def roster_fail(*, submission_id: int, error: str) -> RosterSubmission | None:
    """Reject a submission whose processing was stopped (the task's time limit): nothing is stored.

    A submission already accepted or rejected is left alone."""
    if not RosterSubmission.objects.filter(pk=submission_id).exists():
        return None
    return _fail(submission_id, None, error)


def _fail(submission_id: int, progress: processing.Progress | None, error: str) -> RosterSubmission:
    message = PROCESSING_FAILED_MESSAGE.format(error=error)
    with transaction.atomic():
        RosterSubmission.objects.filter(pk=submission_id).update(
            attempts=F("attempts")
        )  # lock first (see above)
        submission = RosterSubmission.objects.select_for_update().get(pk=submission_id)
        if not ROSTER_SUBMISSION.can_fire("reject", submission.status):
            return submission  # finished meanwhile: left as it is
        SubmissionIssue.objects.create(
            submission=submission,
            severity=Severity.ERROR,
            source=IssueSource.ROSTER,
            row=1,
            column="",
            code=processing.PROCESSING_FAILED,
            message=message,
        )
        submission.status = ROSTER_SUBMISSION.target("reject", submission.status)
        submission.error_count = 1
        submission.finished_at = timezone.now()
        submission.progress = 100
        submission.progress_message = "Rejected: the file could not be processed"
        log = progress.log if progress is not None else submission.progress_log
        submission.progress_log = _log(log, 100, submission.progress_message)
        submission.save()
    return submission


def _member_count(rows) -> int:
    return sum(1 for i in range(len(rows)) if i == 0 or rows[i].member_id != rows[i - 1].member_id)


def _store(
    submission: RosterSubmission,
    plan: processing.Plan,
    findings: processing.Findings,
    progress: processing.Progress,
) -> RosterSubmission:
    with transaction.atomic():
        # Lock the month (a no-op write: the row lock on PostgreSQL, the write lock on SQLite) so that the
        # switch of the current version is serialised with any other version of the month.
        RosterMonth.objects.filter(contract_id=plan.contract_id, month=plan.month).update(
            last_version=F("last_version")
        )
        submission = RosterSubmission.objects.select_for_update().get(pk=submission.pk)
        if findings.ok:  # a death recorded while the roster was checked still refuses it
            findings.errors += processing.exits_recorded_meanwhile(plan, findings.rows, findings.errors)
        outcome = "accept" if findings.ok else "reject"
        if not ROSTER_SUBMISSION.can_fire(outcome, submission.status):
            return submission  # finished by another attempt: left as it is
        processing.copy_rows(
            SubmissionIssue,
            processing.ISSUE_FIELDS,
            processing.issue_rows(submission.pk, findings.errors, findings.warnings),
        )
        rows = findings.rows
        submission.row_count = findings.row_count
        submission.member_count = _member_count(rows)
        submission.assessment_count = len(findings.assessments)
        submission.error_count = len(findings.errors)
        submission.warning_count = len(findings.warnings)
        submission.terms_version = plan.terms.version
        submission.proration_rule = plan.terms.proration_rule
        submission.tier_rule = plan.terms.tier_rule
        if not findings.ok:
            submission.status = ROSTER_SUBMISSION.target("reject", submission.status)
            done = f"Rejected: {submission.error_count:,} error(s); nothing was stored"
        else:
            processing.copy_rows(
                RosterEntry, processing.ENTRY_FIELDS, processing.entry_rows(submission.pk, rows)
            )
            summary: dict = {}
            processing.copy_rows(
                MemberMonth,
                processing.MEMBER_MONTH_FIELDS,
                processing.member_month_rows(plan, rows, findings.lob_override, summary),
            )
            processing.copy_rows(
                Assessment,
                processing.ASSESSMENT_FIELDS,
                processing.assessment_rows(plan, findings.assessments, findings.decisions),
            )
            submission.summary = processing.summary_list(summary)
            submission.member_months = sum((cell[0] for cell in summary.values()), Decimal(0))
            submission.payable_assessment_count = sum(1 for d in findings.decisions if d.payable)
            current = (
                RosterSubmission.objects.select_for_update()
                .filter(contract_id=plan.contract_id, month=plan.month, is_current=True)
                .first()
            )
            if current is None or current.version < submission.version:
                if current is not None:
                    submission.diff = processing.compute_diff(current, rows)
                    current.is_current = False
                    current.save(update_fields=["is_current"])
                submission.is_current = True
                submission.previous = current
            submission.status = ROSTER_SUBMISSION.target("accept", submission.status)
            submission.save()
            # Deaths and hospice transfers the roster reports hold from now on, and end the months
            # already accepted with the member enrolled past them.
            recorded = exits.record_exits(
                payer_id=plan.payer_id,
                reports=exits.reports_from_roster(
                    submission_id=submission.pk, rows=rows, bundle_ids=plan.bundle_ids
                ),
            )
            exits.end_later_rosters(recorded.recorded)
            done = f"Accepted: {submission.member_count:,} members, {member_months_text(submission.member_months)} member-months"
            if not submission.is_current:
                done += " (a later version was accepted first and stays current)"
        submission.finished_at = timezone.now()
        submission.progress = 100
        submission.progress_message = done
        submission.progress_log = _log(progress.log, 100, done)
        submission.save()
    return submission


# --- the plan's eligibility file -----------------------------------------------------------------


def eligibility_file_load(*, scope: Scope, file, run_inline: bool | None = None) -> EligibilityFile:
    """Keep the 834 and process it: inline when small, else by a Celery worker after the commit."""
    scope.require("eligibility.load")
    record = EligibilityFile(
        payer=scope.organization,
        uploaded_by=scope.user,
        uploaded_at=timezone.now(),
        original_filename=_safe_name(file, "eligibility.834"),
        file_sha256=uploaded_sha256(file),
        file_size=file.size or 0,
    )
    record.file.save(record.original_filename, file, save=False)
    inline = parsed_in_request(file.size or 0) if run_inline is None else run_inline
    with transaction.atomic():
        record.save()
        if not inline:
            from enrollment.tasks import process_eligibility_file

            transaction.on_commit(lambda: process_eligibility_file.delay(record.pk))
    if inline:
        try:
            return eligibility_file_process(file_id=record.pk)
        except OperationalError:
            logger.warning("Eligibility file %s handed to a worker after a database error", record.pk)
            from enrollment.tasks import process_eligibility_file

            process_eligibility_file.delay(record.pk)
    return record


def _x12_issue(issue: Problem) -> dict:
    """How the stored acknowledgement (and its API) spells an 834 problem: its X12 coordinates."""
    at = issue.where
    return {
        "code": issue.code,
        "message": issue.message,
        "segment_index": at["segment_index"],
        "segment_id": at["segment_id"],
        "position": at["position"],
        "element": at["element"],
        "loop": at["loop"],
        "transaction": at["st_control"],
    }


#: A big 834's members are handed from the reader to the database this many at a time.
ELIGIBILITY_BATCH = 5000
#: A file with up to this many members is read once, its members kept until it is applied; a bigger
#: one is read a second time to apply it (its members are never all in memory).
ELIGIBILITY_HELD_MEMBERS = 20_000


class _Held:
    """Keeps the members the reader hands on, until there are too many to keep."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.members: list[Member834] | None = []

    def __call__(self, batch: list[Member834]) -> None:
        if self.members is None:
            return
        if len(self.members) + len(batch) > self.limit:
            self.members = None  # the file is big: it is read again when it is applied
        else:
            self.members.extend(batch)


def _parse_stored_834(record: EligibilityFile, on_members) -> Parse834Result:
    """Read the stored 834 as a stream (chunk by chunk), handing its members to ``on_members``."""
    with record.file.open("rb") as fh:
        return parse_834(
            fh, max_bytes=settings.X12_MAX_BYTES, on_members=on_members, batch_size=ELIGIBILITY_BATCH
        )


def eligibility_file_process(*, file_id: int) -> EligibilityFile | None:
    """Parse, acknowledge (readable and X12 999) and apply one 834. Idempotent; all or nothing.

    The file is read as a stream, in bounded memory whatever its size (up to ``X12_MAX_BYTES``): its
    members go to the database in batches of :data:`ELIGIBILITY_BATCH` inside the one transaction that
    accepts the file. Whether a file is accepted, and whether it is a full file, is known only once it
    has been read to its end; so a file of more than :data:`ELIGIBILITY_HELD_MEMBERS` members is read
    twice (checked and acknowledged, then applied), a smaller one once.
    """
    with transaction.atomic():
        claimed = EligibilityFile.objects.filter(pk=file_id, status=ProcessingStatus.PROCESSING).update(
            attempts=F("attempts") + 1
        )
        record = EligibilityFile.objects.select_related("payer").filter(pk=file_id).first()
        if record is None or not claimed:
            return record
    held = _Held(ELIGIBILITY_HELD_MEMBERS)
    result = _parse_stored_834(record, held)
    acknowledgement = {
        "accepted": result.accepted,
        "lines": readable_acknowledgement(result),
        "errors": [_x12_issue(i) for i in result.errors],
        "warnings": [_x12_issue(i) for i in result.warnings],
    }
    try:
        ack_999 = write_999(result, control_number=record.pk % 999_999_999 or 1, created=timezone.localtime())
    except AcknowledgementNotPossible as exc:
        ack_999 = ""
        acknowledgement["lines"].append(f"No X12 999 could be written: {exc}")
    with transaction.atomic():
        EligibilityFile.objects.filter(pk=file_id).update(attempts=F("attempts"))  # lock first (see above)
        record = EligibilityFile.objects.select_for_update().select_related("payer").get(pk=file_id)
        if record.is_finished:
            return record
        extra_warnings = 0
        if result.accepted:
            if held.members is not None:
                applied = apply_834(record, result, members=held.members)
            else:

                def read_again(on_members) -> None:
                    again = _parse_stored_834(record, on_members)
                    if not again.accepted or again.member_count != result.member_count:
                        # The stored file changed between the two reads: nothing is written.
                        raise RuntimeError(f"eligibility file {record.pk} read differently the second time")

                applied = apply_834(record, result, read_members=read_again)
            record.counts = applied.as_dict()
            extra_warnings = _record_834_deaths(record, applied.deaths, acknowledgement)
            record.full_file = result.is_full_file
            record.status = ProcessingStatus.ACCEPTED
        else:
            record.status = ProcessingStatus.REJECTED
        record.member_count = result.member_count
        record.error_count = len(result.errors)
        record.warning_count = len(result.warnings) + extra_warnings
        record.acknowledgement = acknowledgement
        record.ack_999 = ack_999
        record.processed_at = timezone.now()
        record.save()
    return record


def _record_834_deaths(record: EligibilityFile, members: list[Member834], acknowledgement: dict) -> int:
    """The deaths the 834 reports (INS12) hold from now on and end the months already accepted past
    them; a date that differs from the recorded one is a warning of the acknowledgement (not in the 999,
    which acknowledges the file's syntax)."""
    reports = exits.reports_from_834(record, members)
    recorded = exits.record_exits(payer_id=record.payer_id, reports=reports)
    exits.end_later_rosters(recorded.recorded)
    where = {(r.member_id, r.exit_date): r.where for r in reports}
    problems = [
        exits.conflict_problem(report, held, where[(report.member_id, report.exit_date)])
        for report, held in recorded.conflicting
    ]
    acknowledgement["warnings"] += [_x12_issue(p) for p in problems]
    for p in problems:
        acknowledgement["lines"].append(
            f"warning [{p.code}] segment {p.where['segment_index']}, INS, position {p.where['position']} of "
            f"transaction {p.where['st_control']}, loop 2000, element 12: {p.message}"
        )
    if problems and acknowledgement["lines"] and acknowledgement["lines"][0] == "Accepted":
        acknowledgement["lines"][0] = "Accepted with warnings"
    record.counts["deaths"] = {
        "recorded": len(recorded.recorded),
        "confirmed": len(recorded.confirmed),
        "conflicting": len(recorded.conflicting),
    }
    return len(problems)


def eligibility_file_fail(*, file_id: int, error: str) -> EligibilityFile | None:
    """Reject a file whose processing was stopped (the task's time limit): the eligibility is unchanged.

    A file already accepted or rejected is left alone."""
    message = PROCESSING_FAILED_MESSAGE.format(error=error)
    with transaction.atomic():
        EligibilityFile.objects.filter(pk=file_id).update(attempts=F("attempts"))  # lock first (see above)
        record = EligibilityFile.objects.select_for_update().filter(pk=file_id).first()
        if record is None or record.is_finished:
            return record
        issue = {
            "code": processing.PROCESSING_FAILED,
            "message": message,
            "segment_index": None,
            "segment_id": None,
            "position": None,
            "element": None,
            "loop": None,
            "transaction": None,
        }
        record.status = ProcessingStatus.REJECTED
        record.error_count = 1
        lines = [
            "Rejected",
            f"error [{processing.PROCESSING_FAILED}]: {message}",
        ]  # as readable_acknowledgement
        record.acknowledgement = {"accepted": False, "lines": lines, "errors": [issue], "warnings": []}
        record.processed_at = timezone.now()
        record.save()
    return record


# --- due days: reminders and lateness --------------------------------------------------------------


def _previous_month(today: date) -> date:
    return shift_month(today, -1)


def _has_roster(contract: Contract, month: date, statuses) -> bool:
    return RosterSubmission.objects.filter(contract=contract, month=month, status__in=statuses).exists()


def _recipients(contract: Contract) -> list[str]:
    return sorted(
        {
            m.user.email
            for m in Membership.objects.active()
            .filter(organization_id=contract.provider_id, role__in=[Role.ADMIN, Role.SUBMITTER])
            .select_related("user")
            if m.user.email
        }
    )


def roster_reminders_send(*, today: date | None = None) -> list[str]:
    """E-mail providers whose last month's roster is missing a few days before it is due. Once per month."""
    today = today or timezone.localdate()
    month = _previous_month(today)
    sent = []
    for contract in Contract.objects.filter(status=ContractStatus.ACTIVE).select_related("provider", "payer"):
        try:
            terms = terms_in_force(contract=contract, on=month)
        except NotFoundError:
            continue
        due = due_date_for(month, terms.roster_due_day)
        if not 0 <= (due - today).days <= REMINDER_DAYS_BEFORE:
            continue
        if _has_roster(contract, month, [ProcessingStatus.PROCESSING, ProcessingStatus.ACCEPTED]):
            continue
        recipients = _recipients(contract)
        if not recipients:
            continue
        try:
            with transaction.atomic():
                RosterMonth.objects.get_or_create(contract=contract, month=month, defaults={"due_date": due})
                row = RosterMonth.objects.select_for_update().get(contract=contract, month=month)
                if row.reminder_sent_at is not None:
                    continue
                send_mail(
                    subject=f"Roster for {month:%B %Y} due {due:%B %d} ({contract.number})",
                    message=(
                        f"The {month:%B %Y} roster for contract {contract.number} with {contract.payer} is due "
                        f"on {due:%A %B %d, %Y} and has not been submitted yet.\n\nSubmit it under Rosters in "
                        f"carebundle (CSV, XLSX or JSON; templates are on the page)."
                    ),
                    from_email=None,
                    recipient_list=recipients,
                )
                row.reminder_sent_at = timezone.now()
                row.due_date = due
                row.save(update_fields=["reminder_sent_at", "due_date"])
        except Exception:  # one provider's mail server must not stop the others' reminders; retried tomorrow
            logger.exception("Roster reminder for %s %s could not be sent", contract.number, month)
            continue
        sent.append(f"{contract.number} {month:%Y-%m}")
    return sent


def roster_months_mark_late(*, today: date | None = None, months_back: int = 3) -> list[str]:
    """Mark a contract's month late when its due date has passed without an accepted roster. Idempotent."""
    today = today or timezone.localdate()
    marked = []
    contracts = Contract.objects.filter(
        status__in=[ContractStatus.ACTIVE, ContractStatus.TERMINATED, ContractStatus.EXPIRED]
    )
    for contract in contracts:
        for back in range(1, months_back + 1):
            month = shift_month(today, -back)
            try:
                terms = terms_in_force(contract=contract, on=month)
            except NotFoundError:
                continue
            due = due_date_for(month, terms.roster_due_day)
            if today <= due:
                continue
            accepted_in_time = RosterSubmission.objects.filter(
                contract=contract, month=month, status=ProcessingStatus.ACCEPTED, late=False
            ).exists()
            if accepted_in_time:
                continue
            row, _ = RosterMonth.objects.get_or_create(
                contract=contract, month=month, defaults={"due_date": due}
            )
            if not row.late:
                RosterMonth.objects.filter(pk=row.pk).update(late=True, due_date=due)
                marked.append(f"{contract.number} {month:%Y-%m}")
    return marked
