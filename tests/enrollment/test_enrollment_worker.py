"""A roster through a REAL Celery worker process: submitted by the API (202), processed by the worker,
its progress written to the submission row step by step, read back through the API."""

from __future__ import annotations

import pytest

from enrollment.models import MemberMonth, RosterSubmission
from tests.enrollment.conftest import roster_row
from tests.enrollment.test_enrollment_api import post_roster

pytestmark = [pytest.mark.worker]

ROWS = 45_000  # progress is reported every 20,000 rows (and written at most once a second)


@pytest.mark.usefixtures("transactional_db")
def test_a_large_roster_is_processed_by_the_worker_with_its_progress_recorded(
        celery_worker, contract, provider_admin, api_for, settings, wait_for):
    settings.ENROLLMENT_INLINE_MAX_BYTES = 0  # every file goes to the worker
    api = api_for(provider_admin)
    rows = [roster_row(f"W{k:06d}", tier=str(1 + k % 3), market=("URBAN", "URBAN-E")[k % 2]) for k in range(ROWS)]
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
