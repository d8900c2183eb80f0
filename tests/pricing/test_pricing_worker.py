"""A pricing run through a REAL Celery worker process: queued by the API, computed by the worker,
its progress written to the run row step by step."""

from __future__ import annotations

import pytest

from pricing.models import PricingRun
from tests.pricing.test_pricing_runs_api import start

pytestmark = [pytest.mark.worker]


@pytest.mark.usefixtures("transactional_db")
def test_a_run_started_through_the_api_is_computed_by_the_worker(
        celery_worker, analyst_api, bundle_version, assumption_version, experience, wait_for):
    response = start(analyst_api, bundle_version, assumption_version, experience_id=str(experience.public_id),
                     markets=["URBAN", "URBAN-E", "RURAL-N"], options={"simulation_years": 20000})
    assert response.status_code == 202, response.json()
    status_url = response.json()["status_url"]

    def finished():
        body = analyst_api.get(status_url).json()
        return body if body["status"] in ("succeeded", "failed", "cancelled") else None

    body = wait_for(finished, timeout=90)
    assert body["status"] == "succeeded", body["error"]
    assert body["progress"] == 100 and body["result"]["quote"]["rates"]
    run = PricingRun.objects.get(public_id=body["id"])
    assert run.attempts == 1 and run.started_at and run.finished_at >= run.started_at
    log = [(entry["progress"], entry["message"]) for entry in run.progress_log]
    assert log[0] == (0, "Queued") and log[-1] == (100, "Done")
    assert [p for p, _ in log] == sorted(p for p, _ in log)
    messages = [m for _, m in log]
    assert "Pricing 18 rate cells" in messages
    assert any(m.startswith("Simulating 20,000 contract years in RURAL-N (3 of 3)") for m in messages)


@pytest.mark.usefixtures("transactional_db")
def test_a_run_cancelled_while_queued_is_never_started_by_the_worker(
        celery_worker, analyst_api, bundle_version, assumption_version, wait_for):
    response = start(analyst_api, bundle_version, assumption_version, markets=["URBAN"])
    run_id = response.json()["id"]
    cancel = analyst_api.post(f"/api/v1/pricing/runs/{run_id}/cancel/")
    if cancel.status_code == 409:  # the worker was quicker than the click: nothing to test this time
        pytest.skip("the worker finished the run before it could be cancelled")
    assert cancel.json()["status"] in ("cancelled", "running")
    run = wait_for(lambda: (r := PricingRun.objects.get(public_id=run_id)).is_terminal and r, timeout=60)
    assert run.status == "cancelled" and run.result is None
