"""Month-end through REAL Celery worker processes (issue 18: fan-out with a worker killed mid-way completes
every contract exactly once).

The month-end's group goes to this test's own queue (``celery_worker_factory``). The first worker runs a
test-only patch that marks a file once a run's member lines are written (inside the calculation's one
transaction) and then sleeps, so the test kills it there. A fresh worker gets the killed item back (Redis
redelivers an unacknowledged message; the filesystem broker cannot, so there month-end is started again,
which queues every unfinished item) and every contract ends with exactly one run.
"""

from __future__ import annotations

import functools

import pytest

from core import bulk
from core.models import BulkOperation
from payments import services
from payments.models import PaymentDetail, PaymentRun
from tests.conftest import open_transactions
from tests.payments.conftest import JAN, RATES, member
from tests.payments.test_month_end import new_contract, roster
from tests.payments.test_payments_worker import SLOW_MEMBER_LINES  # kills a worker mid-calculation

pytestmark = [pytest.mark.worker]


@pytest.mark.usefixtures("transactional_db")
def test_a_worker_killed_mid_month_end_leaves_every_contract_paid_exactly_once(
    celery_worker_factory, contract_factory, analyst_scope, settings, wait_for, tmp_path, monkeypatch
):
    workers = celery_worker_factory
    contracts = [new_contract(contract_factory) for _ in range(4)]
    for n, contract in enumerate(contracts):
        roster(contract, JAN, [member(f"K{n}a"), member(f"K{n}b", tier="2")])
    monkeypatch.setattr(bulk, "_send", functools.partial(bulk._send, queue=workers.queue))

    mark = tmp_path / "member-lines-written"
    slow = workers("slow", env={"TEST_PAYMENT_LINES_MARK": str(mark)}, prelude=SLOW_MEMBER_LINES)
    operation, queued = services.month_end_start(scope=analyst_scope, month=JAN)
    assert len(queued) == 4
    wait_for(mark.exists, timeout=90)
    assert open_transactions() != 0  # the first contract's run: written, not committed
    workers.kill(slow)
    first = operation.items.order_by("pk").first()
    assert (first.status, first.attempts) == ("pending", 1)
    assert not PaymentDetail.objects.exists()  # nothing of the killed calculation is left

    workers("fresh-1", visibility_timeout=1)
    workers("fresh-2", visibility_timeout=1)
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        services.month_end_start(scope=analyst_scope, month=JAN)
    operation = wait_for(
        lambda: (o := BulkOperation.objects.get(pk=operation.pk)).finished_at is not None and o, timeout=180
    )
    assert operation.status == "done"
    assert sorted(operation.items.values_list("status", flat=True)) == ["done"] * 4
    first.refresh_from_db()
    assert first.attempts == 2
    for contract in contracts:
        runs = list(PaymentRun.objects.filter(contract=contract, month=JAN))
        assert len(runs) == 1 and runs[0].status == "review", runs
        assert runs[0].total == RATES["1"] + RATES["2"]
        assert PaymentDetail.objects.filter(line__run=runs[0]).count() == 2
