"""Payment runs through REAL Celery worker processes: a worker killed with SIGKILL in the middle of a
calculation leaves no half run; the run is calculated once by the next worker, duplicate deliveries
change nothing, and approval posts it exactly once.

The workers come from ``celery_worker_factory`` (tests/conftest.py): each test has a queue of its own,
so no other worker (a session worker, or one left over from an interrupted run) can take its messages.
The first worker of the killed-worker test runs a test-only patch (``SLOW_MEMBER_LINES``) that marks a
file once the member lines are written and then sleeps, so the test kills it at that point, not by timing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest

from payments import services
from payments.models import LedgerEntry, PaymentDetail, PaymentRun
from payments.tasks import calculate_run
from tests.conftest import open_transactions
from tests.fixtures.contracts import second_scope
from tests.payments.conftest import JAN, assessment, member, submit_roster

pytestmark = [pytest.mark.worker]
M = Decimal

#: Test-only patch run in the first worker before it starts: after the member-month lines and their
#: detail rows are written (inside the calculation's one transaction) mark a file, then sleep.
SLOW_MEMBER_LINES = """
import time
import django
django.setup()
from payments.services import runs
_member_month_lines = runs._member_month_lines
def _slow_member_month_lines(*args, **kwargs):
    lines = _member_month_lines(*args, **kwargs)
    open(os.environ["TEST_PAYMENT_LINES_MARK"], "w").close()
    time.sleep(120)
    return lines
runs._member_month_lines = _slow_member_month_lines  # where _calculate looks it up
"""


@pytest.mark.usefixtures("transactional_db")
def test_a_worker_killed_mid_run_leaves_no_half_run_and_the_run_is_paid_exactly_once(
    celery_worker_factory, contract_factory, provider_scope, analyst_scope, wait_for, tmp_path
):
    workers = celery_worker_factory
    contract = contract_factory(withhold_percentage=M("0.05"))
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        rows=[member(f"K{i}", tier=str(i % 3 + 1)) for i in range(12)],
        assessments=[assessment("K1", dt.date(2026, 1, 6))],
    )
    run, created = services.payment_run_start(
        scope=analyst_scope, contract=contract, month=JAN, enqueue=False
    )
    assert created and run.status == "calculating"

    mark = tmp_path / "member-lines-written"
    slow = workers("slow", env={"TEST_PAYMENT_LINES_MARK": str(mark)}, prelude=SLOW_MEMBER_LINES)
    calculate_run.apply_async(args=[run.pk], queue=workers.queue)
    wait_for(mark.exists, timeout=60)
    assert open_transactions() != 0  # the worker's calculation, written and not committed
    workers.kill(slow)

    run.refresh_from_db()
    assert (run.status, run.attempts, run.total) == ("calculating", 1, M("0.00"))
    assert not run.lines.exists() and not PaymentDetail.objects.filter(line__run=run).exists()

    # The next worker gets the run again (the daily job queues a stalled run; a broker redelivers an
    # unacknowledged message) and a duplicate delivery on top: it is calculated once.
    second = workers("fresh")
    results = [calculate_run.apply_async(args=[run.pk], queue=workers.queue) for _ in range(2)]
    assert [r.get(timeout=120) for r in results] == ["review", "review"]
    workers.stop(second)
    runs = list(PaymentRun.objects.filter(contract=contract, month=JAN))
    assert runs == [run]
    run.refresh_from_db()
    assert run.status == "review" and run.attempts == 2
    lines = list(run.lines.order_by("position"))
    assert [line.kind for line in lines] == ["member_months"] * 3 + ["assessment", "withhold"]
    assert sum(line.count for line in lines if line.kind == "member_months") == 12
    assert PaymentDetail.objects.filter(line__run=run, line__kind="member_months").count() == 12
    assert run.total == sum(line.amount for line in lines) == M("5449.40") + M("341.85") - M("272.47")

    services.payment_run_approve(scope=second_scope(analyst_scope), run=run)
    assert LedgerEntry.objects.filter(contract=contract).count() == len(lines)
    assert sum(LedgerEntry.objects.filter(contract=contract).values_list("amount", flat=True)) == run.total


@pytest.mark.usefixtures("transactional_db")
def test_a_run_started_through_the_api_is_calculated_by_a_worker(
    celery_worker_factory, contract_factory, provider_scope, api_for, plan_analyst, wait_for
):
    workers = celery_worker_factory
    contract = contract_factory()
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("A1"), member("A2")]
    )
    workers("api")
    with mock.patch.object(
        calculate_run, "delay", lambda run_id: calculate_run.apply_async(args=[run_id], queue=workers.queue)
    ):
        response = api_for(plan_analyst).post(
            f"/api/v1/contracts/{contract.public_id}/payment-runs/", {"month": "2026-01"}, format="json"
        )
    assert response.status_code == 202
    run = wait_for(
        lambda: (r := PaymentRun.objects.get(public_id=response.json()["id"])).status == "review" and r,
        timeout=90,
    )
    assert run.total == M("600.00") and run.attempts == 1
