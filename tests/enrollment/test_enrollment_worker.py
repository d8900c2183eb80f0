"""A roster through a REAL Celery worker process: submitted by the API (202), processed by the worker,
its progress written to the submission row step by step, read back through the API; a worker killed
with SIGKILL while storing a roster is replaced and the roster is stored exactly once."""

from __future__ import annotations

from unittest import mock

import pytest

from enrollment.models import MemberMonth, RosterEntry, RosterSubmission
from enrollment.tasks import process_roster
from tests.conftest import open_transactions
from tests.enrollment.conftest import roster_row
from tests.enrollment.test_enrollment_api import post_roster

pytestmark = [pytest.mark.worker]

ROWS = 45_000  # progress is reported every 20,000 rows (and written at most once a second)


@pytest.mark.usefixtures("transactional_db")
def test_a_large_roster_is_processed_by_the_worker_with_its_progress_recorded(
    celery_worker, contract, provider_admin, api_for, settings, wait_for
):
    settings.UPLOAD_SYNC_MAX_BYTES = 0  # every file goes to the worker
    api = api_for(provider_admin)
    rows = [
        roster_row(f"W{k:06d}", tier=str(1 + k % 3), market=("URBAN", "URBAN-E")[k % 2]) for k in range(ROWS)
    ]
    response = post_roster(api, contract, rows)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "processing" and body["progress"] == 0

    def finished():
        detail = api.get(body["status_url"]).json()
        return detail if detail["status"] != "processing" else None

    detail = wait_for(finished, timeout=180, interval=0.5)
    assert detail["status"] == "accepted", detail["errors"][:3]
    assert detail["progress"] == 100
    assert detail["counts"]["rows"] == ROWS and detail["counts"]["members"] == ROWS
    assert sum(int(c["members"]) for c in detail["member_months"]) == ROWS
    submission = RosterSubmission.objects.get(public_id=body["id"])
    assert submission.attempts == 1 and submission.is_current
    assert MemberMonth.objects.filter(submission=submission).count() == ROWS
    log = [(entry["progress"], entry["message"]) for entry in submission.progress_log]
    assert log[0] == (0, "Queued") and log[1][1] == "Reading the roster"
    assert any(message.startswith("Checked 20,000 rows of about 45,00") for _, message in log)  # at most 1/s
    assert any(message.startswith("Storing 45,000 rows") for _, message in log)
    assert log[-1][0] == 100 and log[-1][1].startswith("Accepted: 45,000 members")
    assert [p for p, _ in log] == sorted(p for p, _ in log)


# --- a worker killed in the middle of storing a roster ------------------------------------------

#: Test-only patch run in the first worker (celery_worker_factory's ``prelude``): after each bulk copy of
#: ``_store``'s one transaction, note the table in a marker file; after the member-months, sleep, so the
#: test can kill the worker while the entries and member-months are written but not committed.
SLOW_STORE = """
import time
import django
django.setup()
from enrollment import processing
_copy_rows = processing.copy_rows
def _slow_copy_rows(model, *args, **kwargs):
    count = _copy_rows(model, *args, **kwargs)
    with open(os.environ["TEST_ROSTER_STORE_MARK"], "a") as mark:
        mark.write(model.__name__ + "\\n")
    if model.__name__ == "MemberMonth":
        time.sleep(60)
    return count
processing.copy_rows = _slow_copy_rows
"""
KILL_ROWS = 3_000


@pytest.mark.usefixtures("transactional_db")
def test_a_worker_killed_while_storing_a_roster_is_replaced_and_the_roster_is_stored_exactly_once(
    celery_worker_factory, contract, provider_admin, api_for, settings, wait_for, tmp_path
):
    workers, sent = celery_worker_factory, []
    settings.UPLOAD_SYNC_MAX_BYTES = 0  # every file goes to the worker
    mark = tmp_path / "stored.txt"
    slow = workers("slow", env={"TEST_ROSTER_STORE_MARK": str(mark)}, prelude=SLOW_STORE)
    api = api_for(provider_admin)
    rows = [
        roster_row(f"K{k:05d}", tier=str(1 + k % 3), market=("URBAN", "URBAN-E")[k % 2])
        for k in range(KILL_ROWS)
    ]
    with mock.patch.object(
        process_roster,
        "delay",
        lambda pk: sent.append(process_roster.apply_async(args=[pk], queue=workers.queue)),
    ):
        response = post_roster(api, contract, rows)
    assert response.status_code == 202 and len(sent) == 1
    submission = RosterSubmission.objects.get(public_id=response.json()["id"])

    # Killed with the roster's entries and member-months written inside _store's open transaction.
    wait_for(lambda: mark.exists() and "MemberMonth" in mark.read_text().split(), timeout=120)
    assert open_transactions() != 0  # the worker's transaction, open
    workers.kill(slow)
    submission.refresh_from_db()
    assert (submission.status, submission.attempts, submission.is_current) == ("processing", 1, False)
    assert not RosterEntry.objects.filter(submission=submission).exists()
    assert not MemberMonth.objects.filter(submission=submission).exists()

    # A new worker gets the killed worker's message back from the broker (Redis, after the visibility
    # timeout; the filesystem broker has no redelivery, so there the message is sent again).
    workers("fresh", visibility_timeout=1)
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        sent.append(process_roster.apply_async(args=[submission.pk], queue=workers.queue))
    assert sent[-1].get(timeout=120) == "accepted"
    assert process_roster.apply_async(args=[submission.pk], queue=workers.queue).get(timeout=60) == "accepted"

    submission.refresh_from_db()
    assert (submission.status, submission.attempts, submission.is_current) == ("accepted", 2, True)
    assert RosterSubmission.objects.filter(contract=contract, status="accepted").count() == 1
    assert RosterEntry.objects.filter(submission=submission).count() == KILL_ROWS
    assert MemberMonth.objects.filter(submission=submission).count() == KILL_ROWS
    assert submission.member_count == KILL_ROWS
    assert sum(int(cell["members"]) for cell in submission.summary) == KILL_ROWS
    log = [(entry["progress"], entry["message"]) for entry in submission.progress_log]
    messages = [message for _, message in log]
    assert [p for p, _ in log] == sorted(p for p, _ in log)
    assert (
        messages.count("Reading the roster") == 1 and messages.count("Restarted after an interruption") == 1
    )
    assert log[-1][0] == 100 and log[-1][1].startswith(f"Accepted: {KILL_ROWS:,} members")
    assert sum(1 for message in messages if message.startswith("Accepted")) == 1


# --- the soft time limit, enforced by a real (prefork) worker --------------------------------------

#: Test-only patch run in the worker: reading the roster takes far longer than the call's soft limit.
SLOW_READ = """
import time
import django
django.setup()
from enrollment import processing
def _slow_read_and_check(*args, **kwargs):
    time.sleep(120)
processing.read_and_check = _slow_read_and_check
"""


@pytest.mark.usefixtures("transactional_db")
def test_a_roster_over_the_soft_time_limit_is_rejected_with_the_reason_by_a_real_worker(
    celery_worker_factory, contract, provider_admin, api_for, settings
):
    workers, sent = celery_worker_factory, []
    settings.UPLOAD_SYNC_MAX_BYTES = 0  # every file goes to the worker
    workers("prefork", pool="prefork", prelude=SLOW_READ)
    api = api_for(provider_admin)

    def send(pk):
        options = {"queue": workers.queue, "soft_time_limit": 2, "time_limit": 60}
        sent.append(process_roster.apply_async(args=[pk], **options))

    with mock.patch.object(process_roster, "delay", send):
        response = post_roster(api, contract, [roster_row("T00001")])
    assert response.status_code == 202 and len(sent) == 1
    assert sent[0].get(timeout=60) == "rejected"
    submission = RosterSubmission.objects.get(public_id=response.json()["id"])
    assert submission.status == "rejected" and submission.progress == 100
    assert submission.issues.get().message == (
        "The file could not be processed: it took longer than the limit of 2 seconds for one file. "
        "Nothing was stored; submit it again."
    )
    assert not RosterEntry.objects.filter(submission=submission).exists()
