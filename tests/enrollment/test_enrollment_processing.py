"""Nothing lost, nothing half-written: one transaction per submission, idempotent processing, race-safe
version numbers, the current version, large files queued for a worker."""

from __future__ import annotations

import threading

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection

from enrollment import calc, processing, services, tasks
from enrollment.models import EligibilitySpan, MemberMonth, RosterEntry, RosterSubmission, SubmissionIssue
from tests.enrollment.conftest import MONTH, eligibility_upload, make_834, roster_file, roster_row


class WorkerKilled(BaseException):
    """What a worker dying mid-task looks like from inside: nothing catches it."""


def rows(n: int = 6):
    return [roster_row(f"M{k:03d}", tier=str(1 + k % 3)) for k in range(n)]


@pytest.fixture
def queued(contract, provider_scope):
    def make(n: int = 6):
        return services.roster_submit(
            scope=provider_scope, contract=contract, month=MONTH, file=roster_file(rows(n)), run_inline=False
        )

    return make


@pytest.mark.django_db
def test_a_crash_mid_way_leaves_no_half_loaded_roster_and_the_retry_completes(queued, monkeypatch):
    submission = queued()
    assert submission.status == "processing" and submission.version == 1
    original = processing.member_month_rows

    def dying(*args, **kwargs):
        for k, row in enumerate(original(*args, **kwargs)):
            if k == 3:
                raise WorkerKilled
            yield row

    monkeypatch.setattr(processing, "member_month_rows", dying)
    with pytest.raises(WorkerKilled):
        services.roster_process(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == "processing" and submission.attempts == 1
    assert not RosterEntry.objects.exists() and not MemberMonth.objects.exists()
    assert not SubmissionIssue.objects.exists()

    monkeypatch.setattr(processing, "member_month_rows", original)
    done = services.roster_process(submission_id=submission.pk)
    assert done.status == "accepted" and done.attempts == 2 and done.is_current
    assert RosterEntry.objects.filter(submission=done).count() == 6
    assert MemberMonth.objects.filter(submission=done).count() == 6
    messages = [entry["message"] for entry in done.progress_log]
    assert messages[0] == "Queued" and "Restarted after an interruption" in messages
    assert messages[-1].startswith("Accepted")


@pytest.mark.django_db
def test_processing_is_idempotent(queued):
    submission = queued()
    assert tasks.process_roster(submission.pk) == "accepted"
    before = (RosterEntry.objects.count(), MemberMonth.objects.count(), SubmissionIssue.objects.count())
    assert tasks.process_roster(submission.pk) == "accepted"
    again = services.roster_process(submission_id=submission.pk)
    assert again.attempts == 1
    assert (
        RosterEntry.objects.count(),
        MemberMonth.objects.count(),
        SubmissionIssue.objects.count(),
    ) == before
    assert tasks.process_roster(999_999) == "missing"


@pytest.mark.django_db
def test_an_unexpected_failure_rejects_the_submission_with_the_reason(queued, monkeypatch):
    submission = queued()

    def broken(*args, **kwargs):
        raise ValueError("the disk said no")

    monkeypatch.setattr(processing, "read_and_check", broken)
    done = services.roster_process(submission_id=submission.pk)
    assert done.status == "rejected" and done.error_count == 1
    issue = done.issues.get()
    assert issue.code == "processing_failed" and "the disk said no" in issue.message
    assert not RosterEntry.objects.exists()


@pytest.mark.django_db
def test_a_later_version_accepted_first_stays_current(queued):
    first, second = queued(3), queued(4)
    assert (first.version, second.version) == (1, 2)
    services.roster_process(submission_id=second.pk)
    late = services.roster_process(submission_id=first.pk)
    assert late.status == "accepted" and late.is_current is False
    assert "a later version was accepted first" in late.progress_message
    current = RosterSubmission.objects.get(is_current=True)
    assert current.pk == second.pk and current.member_count == 4


@pytest.mark.django_db
def test_a_large_file_is_queued_for_a_worker_after_the_commit(
    contract, provider_scope, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.UPLOAD_SYNC_MAX_BYTES = 10
    sent = []
    monkeypatch.setattr(tasks.process_roster, "delay", lambda pk: sent.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        submission = services.roster_submit(
            scope=provider_scope, contract=contract, month=MONTH, file=roster_file(rows())
        )
    assert submission.status == "processing" and sent == [submission.pk]
    assert submission.file.read().startswith(b"member_id,")  # kept before any processing


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submissions_get_consecutive_versions(contract, provider_scope, monkeypatch):
    monkeypatch.setattr(tasks.process_roster, "delay", lambda pk: None)
    barrier = threading.Barrier(2)
    versions, failures = [], []

    def submit():
        try:
            barrier.wait(timeout=10)
            submission = services.roster_submit(
                scope=provider_scope,
                contract=contract,
                month=MONTH,
                file=roster_file(rows(2)),
                run_inline=False,
            )
            versions.append(submission.version)
        except Exception as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert sorted(versions) == [1, 2]
    for submission in RosterSubmission.objects.order_by("version"):
        services.roster_process(submission_id=submission.pk)
    assert list(RosterSubmission.objects.order_by("version").values_list("version", "is_current")) == [
        (1, False),
        (2, True),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("phase", ["reading", "storing"])
def test_the_time_limit_rejects_the_roster_with_the_reason_and_stores_nothing(queued, monkeypatch, phase):
    """Celery raises SoftTimeLimitExceeded inside the task; the submission must not stay processing."""
    submission = queued()
    if phase == "reading":

        def out_of_time(*args, **kwargs):
            raise SoftTimeLimitExceeded(tasks.INGEST_SOFT_TIME_LIMIT)

        monkeypatch.setattr(processing, "read_and_check", out_of_time)
    else:
        original = processing.member_month_rows

        def out_of_time_mid_way(*args, **kwargs):
            for k, row in enumerate(original(*args, **kwargs)):
                if k == 3:
                    raise SoftTimeLimitExceeded(tasks.INGEST_SOFT_TIME_LIMIT)
                yield row

        monkeypatch.setattr(processing, "member_month_rows", out_of_time_mid_way)
    assert tasks.process_roster(submission.pk) == "rejected"
    submission.refresh_from_db()
    assert submission.status == "rejected" and submission.progress == 100 and submission.finished_at
    issue = SubmissionIssue.objects.get(submission=submission)
    assert issue.code == processing.PROCESSING_FAILED
    assert issue.message == services.PROCESSING_FAILED_MESSAGE.format(
        error="it took longer than the limit of 30 minutes for one file"
    )
    assert not RosterEntry.objects.exists() and not MemberMonth.objects.exists()
    assert submission.progress_log[-1]["message"] == "Rejected: the file could not be processed"
    # Finished: a late redelivery of the message leaves it alone.
    monkeypatch.undo()
    assert tasks.process_roster(submission.pk) == "rejected"


@pytest.mark.django_db
def test_the_time_limit_rejects_the_eligibility_file_and_changes_no_eligibility(analyst_scope, monkeypatch):
    def out_of_time(*args, **kwargs):
        raise SoftTimeLimitExceeded(tasks.INGEST_SOFT_TIME_LIMIT)

    monkeypatch.setattr(services, "apply_834", out_of_time)
    record = services.eligibility_file_load(
        scope=analyst_scope,
        file=eligibility_upload(
            make_834([("M001", "LAST001", "ANA", "19400517", calc.add_months(MONTH, -6), None)])
        ),
        run_inline=False,
    )
    assert record.status == "processing"
    assert tasks.process_eligibility_file(record.pk) == "rejected"
    record.refresh_from_db()
    assert record.status == "rejected" and record.error_count == 1 and record.processed_at
    assert record.acknowledgement["accepted"] is False
    assert [e["code"] for e in record.acknowledgement["errors"]] == [processing.PROCESSING_FAILED]
    assert "longer than the limit of 30 minutes" in record.acknowledgement["lines"][1]
    assert not EligibilitySpan.objects.exists()
