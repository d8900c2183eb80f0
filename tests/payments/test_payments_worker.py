"""Payment runs through REAL Celery worker processes: a worker killed with SIGKILL in the middle of a
calculation leaves no half run; the run is calculated once by the next worker, duplicate deliveries
change nothing, and approval posts it exactly once.

The workers are started here (like tests/conftest.py's ``celery_worker``) on a queue of their own, so
that a session worker started by another test never takes these messages. The test-only environment
variable ``CAREBUNDLE_PAYMENTS_STEP_DELAY`` makes the first worker sleep between the calculation's steps.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from core.tasks import echo
from payments import services
from payments.models import LedgerEntry, PaymentDetail, PaymentRun
from payments.tasks import calculate_run
from tests.conftest import ROOT, _test_database_url
from tests.payments.conftest import JAN, assessment, member, submit_roster

pytestmark = [pytest.mark.worker]
QUEUE = "payments-worker-test"
M = Decimal


def start_worker(name: str, **env_extra: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update({"DATABASE_URL": _test_database_url(), "DB_CONN_MAX_AGE": "0", **env_extra})
    log = open(Path(settings.VAR_DIR) / f"test-payments-{name}.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1", "-Q", QUEUE,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}@%h", "-l", "info"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    process.log = log
    try:
        echo.apply_async(args=["ready"], queue=QUEUE).get(timeout=90)
    except Exception:
        stop(process, kill=True)
        raise
    return process


def stop(process: subprocess.Popen, *, kill: bool = False) -> None:
    if process.poll() is None:
        if kill:
            process.send_signal(signal.SIGKILL)
        else:
            process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.log.close()


@pytest.mark.usefixtures("transactional_db")
def test_a_worker_killed_mid_run_leaves_no_half_run_and_the_run_is_paid_exactly_once(
        contract_factory, provider_scope, analyst_scope, wait_for):
    contract = contract_factory(withhold_percentage=M("0.05"))
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN,
                  rows=[member(f"K{i}", tier=str(i % 3 + 1)) for i in range(12)],
                  assessments=[assessment("K1", dt.date(2026, 1, 6))])
    run, created = services.payment_run_start(scope=analyst_scope, contract=contract, month=JAN, enqueue=False)
    assert created and run.status == "calculating"

    first = start_worker("slow", **{services.STEP_DELAY_ENV: "4"})
    try:
        calculate_run.apply_async(args=[run.pk], queue=QUEUE)
        wait_for(lambda: PaymentRun.objects.get(pk=run.pk).attempts == 1, timeout=60)
        time.sleep(2)  # the member lines are written, inside the calculation's one transaction
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=20)
    finally:
        stop(first, kill=True)
    assert first.returncode == -signal.SIGKILL

    run.refresh_from_db()
    assert (run.status, run.total) == ("calculating", M("0.00"))
    assert not run.lines.exists() and not PaymentDetail.objects.filter(line__run=run).exists()

    # The next worker gets the run again (the daily job queues a stalled run; a broker redelivers an
    # unacknowledged message) and a duplicate delivery on top: it is calculated once.
    second = start_worker("fresh")
    try:
        results = [calculate_run.apply_async(args=[run.pk], queue=QUEUE) for _ in range(2)]
        assert [r.get(timeout=120) for r in results] == ["review", "review"]
    finally:
        stop(second)
    runs = list(PaymentRun.objects.filter(contract=contract, month=JAN))
    assert runs == [run]
    run.refresh_from_db()
    assert run.status == "review" and run.attempts == 2
    lines = list(run.lines.order_by("position"))
    assert [line.kind for line in lines] == ["member_months"] * 3 + ["assessment", "withhold"]
    assert sum(line.count for line in lines if line.kind == "member_months") == 12
    assert PaymentDetail.objects.filter(line__run=run, line__kind="member_months").count() == 12
    assert run.total == sum(line.amount for line in lines) == M("5449.40") + M("341.85") - M("272.47")

    services.payment_run_approve(scope=analyst_scope, run=run)
    assert LedgerEntry.objects.filter(contract=contract).count() == len(lines)
    assert sum(LedgerEntry.objects.filter(contract=contract).values_list("amount", flat=True)) == run.total


@pytest.mark.usefixtures("transactional_db")
def test_a_run_started_through_the_api_is_calculated_by_a_worker(contract_factory, provider_scope, api_for,
                                                                  plan_analyst, wait_for, settings):
    contract = contract_factory()
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("A1"), member("A2")])
    worker = start_worker("api")
    try:
        from unittest import mock

        real_delay = calculate_run.delay
        with mock.patch.object(calculate_run, "delay",
                               lambda run_id: calculate_run.apply_async(args=[run_id], queue=QUEUE)):
            response = api_for(plan_analyst).post(f"/api/v1/contracts/{contract.public_id}/payment-runs/",
                                                  {"month": "2026-01"}, format="json")
        assert calculate_run.delay == real_delay
        assert response.status_code == 202
        run = wait_for(lambda: (r := PaymentRun.objects.get(public_id=response.json()["id"])).status == "review" and r,
                       timeout=90)
    finally:
        stop(worker)
    assert run.total == M("600.00") and run.attempts == 1
