"""Month-end: every active contract's payment run of a month as one bulk operation (core.bulk), one item
per contract. Items run here in the test process (the Celery task's body); the real workers, the group
and a worker killed mid-way are in test_month_end_worker.py.

Pinned here: which contracts are in it, each item idempotent (run twice, or after a crash, one run),
contracts without a roster skipped and picked up when month-end runs again, a failed contract reported
with its reason and retried alone, the operation closed by its last item, the page and the API (tenancy,
permissions, errors, constant query counts) and the daily job going through it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import Role
from core import bulk
from core.errors import ApplicationError, ConflictError, PermissionDeniedError
from core.models import BulkItem, BulkOperation
from payments import services
from payments.models import PaymentRun
from tests.factories import PayerFactory, ProviderFactory
from tests.fixtures.contracts import scope_of
from tests.payments.conftest import FEB, JAN, RATES, member, pay, submit_roster

pytestmark = pytest.mark.django_db
M = Decimal
D = dt.date


def new_contract(contract_factory, **terms):
    """An active contract with a provider of its own (one provider may not hold two in one market)."""
    return contract_factory(provider_org=ProviderFactory(), **terms)


def roster(contract, month, rows) -> None:
    """The contract's provider submits the month's roster (accepted)."""
    admin = contract.provider.memberships.filter(role=Role.ADMIN).first().user
    submit_roster(
        provider_scope=scope_of(admin, contract.provider), contract=contract, month=month, rows=rows
    )


@pytest.fixture
def sent(monkeypatch):
    """The item ids each start sends to the workers (a Celery group), recorded instead of sent."""
    batches: list[list[int]] = []
    monkeypatch.setattr(bulk, "_send", batches.append)
    return batches


def run_items(operation: BulkOperation) -> None:
    """What the workers do: every pending item's task body, in id order."""
    for item_id in operation.items.filter(status="pending").order_by("pk").values_list("pk", flat=True):
        bulk.bulk_item_run(item_id=item_id)


def items(operation: BulkOperation) -> dict[str, tuple[str, int]]:
    return {i.label: (i.status, i.attempts) for i in operation.items.all()}


@pytest.fixture
def three(contract_factory, provider_scope):
    """Three active contracts: two with a January roster, one without."""
    contracts = [new_contract(contract_factory) for _ in range(3)]
    for n, contract in enumerate(contracts[:2]):
        roster(
            contract,
            JAN,
            [member(f"E{n}"), member(f"F{n}")],
        )
    return contracts


def test_month_end_runs_every_contract_once_and_closes_when_the_last_item_finishes(
    three, analyst_scope, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        operation, queued = services.month_end_start(scope=analyst_scope, month="2026-01")
    assert operation.title == "Month-end 2026-01" and operation.status == "running"
    assert sent == [[i.pk for i in queued]] and len(queued) == 3  # one group, one task per contract
    run_items(operation)
    operation.refresh_from_db()
    a, b, c = three
    assert items(operation) == {a.number: ("done", 1), b.number: ("done", 1), c.number: ("skipped", 1)}
    assert operation.items.get(subject_id=c.pk).message == services.NO_ROSTER_MESSAGE
    assert operation.status == "done" and operation.finished_at is not None
    for contract in (a, b):
        run = PaymentRun.objects.get(contract=contract, month=JAN)
        item = operation.items.get(subject_id=contract.pk)
        assert run.status == "review" and run.total == 2 * RATES["1"]
        assert item.result == {"run": str(run.public_id), "run_status": "review", "total": "600.00"}
        assert item.message == "$600.00 to review"
    assert not PaymentRun.objects.filter(contract=c).exists()


def test_an_item_run_twice_or_after_a_crash_gives_one_run(three, analyst_scope, sent):
    operation, _ = services.month_end_start(scope=analyst_scope, month="2026-01")
    a = three[0]
    item = operation.items.get(subject_id=a.pk)
    # A worker killed mid-item: the run was requested (still calculating, no line) and the item is pending.
    services.payment_run_request(contract=a, month=JAN, enqueue=False)
    assert PaymentRun.objects.get(contract=a).status == "calculating"
    bulk.bulk_item_run(item_id=item.pk)  # the redelivered message
    bulk.bulk_item_run(item_id=item.pk)  # and a duplicate delivery: left alone
    item.refresh_from_db()
    run = PaymentRun.objects.get(contract=a)
    assert (item.status, item.attempts, run.status, run.lines.count()) == ("done", 1, "review", 1)


def test_starting_again_picks_up_what_was_not_finished_and_leaves_finished_contracts(
    three, analyst_scope, provider_scope, sent
):
    operation, _ = services.month_end_start(scope=analyst_scope, month="2026-01")
    run_items(operation)
    a, b, c = three
    roster(c, JAN, [member("G1")])
    again, queued = services.month_end_start(scope=analyst_scope, month=JAN)
    assert again.pk == operation.pk and [i.subject_id for i in queued] == [c.pk]  # only the skipped one
    assert again.status == "running" and again.finished_at is None
    run_items(again)
    again.refresh_from_db()
    assert items(again) == {a.number: ("done", 1), b.number: ("done", 1), c.number: ("done", 2)}
    assert again.status == "done"
    assert PaymentRun.objects.filter(month=JAN).count() == 3
    _, queued = services.month_end_start(scope=analyst_scope, month=JAN)
    assert queued == []  # all done: nothing queued, no new run
    assert PaymentRun.objects.filter(month=JAN).count() == 3


def test_a_failed_contract_is_reported_and_retried_alone(
    contract_factory, analyst_scope, sent, monkeypatch, django_capture_on_commit_callbacks
):
    from contracts.terms import RateCell
    from payments.services import runs as payment_runs

    good, bad = new_contract(contract_factory), new_contract(contract_factory, markets=("URBAN", "URBAN-E"))
    roster(good, JAN, [member("H1")])
    roster(bad, JAN, [member("H2", market="URBAN-E")])
    real = payment_runs.build_plan

    def without_urban_e(**kwargs):  # the bad contract has no URBAN-E rate: its run fails with the reason
        plan = real(**kwargs)
        if kwargs["contract"] == bad:
            plan.terms.rates.pop(RateCell("1", "URBAN-E", "medicaid"))
        return plan

    monkeypatch.setattr(payment_runs, "build_plan", without_urban_e)
    operation, _ = services.month_end_start(scope=analyst_scope, month=JAN)
    run_items(operation)
    operation.refresh_from_db()
    assert operation.status == "failed" and operation.finished_at is not None
    failed = operation.items.get(subject_id=bad.pk)
    assert (failed.status, failed.message) == ("failed", services.MISSING_RATE_MESSAGE)
    assert failed.result["run_status"] == "failed"
    assert items(operation)[good.number] == ("done", 1)
    with django_capture_on_commit_callbacks(execute=True):
        queued = services.month_end_retry_failed(scope=analyst_scope, operation=operation)
    assert [i.pk for i in queued] == [failed.pk] and sent == [[failed.pk]]
    run_items(operation)
    assert items(operation) == {good.number: ("done", 1), bad.number: ("failed", 2)}  # still no rate
    monkeypatch.setattr(payment_runs, "build_plan", real)  # the rate is fixed
    services.month_end_retry_failed(scope=analyst_scope, operation=operation)
    run_items(operation)
    operation.refresh_from_db()
    assert items(operation) == {good.number: ("done", 1), bad.number: ("done", 3)}
    assert operation.status == "done"
    assert PaymentRun.objects.filter(contract=bad, status="review").count() == 1


def test_an_unexpected_error_fails_the_item_with_its_reason_not_the_others(
    three, analyst_scope, sent, monkeypatch
):
    operation, _ = services.month_end_start(scope=analyst_scope, month=JAN)
    a = three[0]
    real = bulk._HANDLERS[services.MONTH_END]

    def broken(op, item):
        if item.subject_id == a.pk:
            raise RuntimeError("disk full")
        return real(op, item)

    monkeypatch.setitem(bulk._HANDLERS, services.MONTH_END, broken)
    run_items(operation)
    item = operation.items.get(subject_id=a.pk)
    assert (item.status, item.message) == ("failed", "Stopped: RuntimeError: disk full")
    assert sorted(operation.items.exclude(pk=item.pk).values_list("status", flat=True)) == ["done", "skipped"]


def test_month_end_needs_a_contract_in_force_and_the_payment_run_permission(
    contract_factory, plan_scope, analyst_scope
):
    with pytest.raises(ConflictError) as info:
        services.month_end_start(scope=analyst_scope, month="2026-01")
    assert info.value.code == "no_contracts_in_force"
    new_contract(contract_factory)
    with pytest.raises(ConflictError):
        services.month_end_start(scope=analyst_scope, month="2024-12")  # before the contract starts
    with pytest.raises(PermissionDeniedError):
        services.month_end_start(
            scope=plan_scope, month="2026-01"
        )  # a contract manager does not run payments
    with pytest.raises(ApplicationError) as info:
        services.month_end_start(scope=analyst_scope, month="2026-13")
    assert info.value.code == "invalid_month"


def test_the_daily_job_goes_through_month_end_once_per_plan_and_month(
    contract_factory, provider_scope, sent, django_capture_on_commit_callbacks
):
    a, b = (
        new_contract(contract_factory, roster_due_day=10),
        new_contract(contract_factory, roster_due_day=10),
    )
    for n, contract in enumerate((a, b)):
        roster(contract, JAN, [member(f"B{n}")])
    with django_capture_on_commit_callbacks(execute=True):
        assert services.payment_runs_start_due(today=D(2026, 2, 10)) == []  # the due day itself: not yet
        started = services.payment_runs_start_due(today=D(2026, 2, 11))
    assert started == [f"{a.number} 2026-01", f"{b.number} 2026-01"]
    operation = BulkOperation.objects.get()
    assert operation.title == "Month-end 2026-01" and operation.requested_by is None and len(sent) == 1
    run_items(operation)
    assert {r.requested_by for r in PaymentRun.objects.all()} == {None} and PaymentRun.objects.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert services.payment_runs_start_due(today=D(2026, 2, 12)) == []  # once
    assert len(sent) == 1


# --- the page and the API ---------------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def finished(three, analyst_scope, sent):
    operation, _ = services.month_end_start(scope=analyst_scope, month=JAN)
    run_items(operation)
    return operation


def test_the_page_starts_a_month_end_and_shows_each_contract(three, plan_analyst, sent):
    client = client_for(plan_analyst)
    page = client.get("/payments/month-end/")
    assert page.status_code == 200 and "Run month-end" in page.content.decode()
    response = client.post("/payments/month-end/", {"month": "2026-01"})
    operation = BulkOperation.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/payments/month-end/{operation.public_id}/"
    )
    run_items(operation)
    html = client.get(response["Location"]).content.decode()
    assert "3 of 3 contracts finished: 2 done, 1 waiting for a roster, 0 failed" in html
    for contract in three:
        assert contract.number in html
    assert "$600.00 to review" in html and services.NO_ROSTER_MESSAGE in html
    assert "Retry the failed contracts" not in html
    listing = client.get("/payments/month-end/").content.decode()
    assert "Month-end 2026-01" in listing and "Done" in listing


def test_the_page_reports_a_month_without_contracts_and_polls_while_running(
    contract_factory, plan_analyst, sent
):
    client = client_for(plan_analyst)
    response = client.post("/payments/month-end/", {"month": "2026-01"}, follow=True)
    assert "No active contract of yours is in force in 2026-01" in response.content.decode()
    assert not BulkOperation.objects.exists()
    new_contract(contract_factory)
    client.post("/payments/month-end/", {"month": "2026-01"})
    operation = BulkOperation.objects.get()
    poll = client.get(f"/payments/month-end/{operation.public_id}/?progress=1", HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and 'hx-trigger="every 2s"' in poll.content.decode()
    assert "HX-Refresh" not in poll
    run_items(operation)
    poll = client.get(f"/payments/month-end/{operation.public_id}/?progress=1", HTTP_HX_REQUEST="true")
    assert poll["HX-Refresh"] == "true"


def test_the_api_starts_reads_and_retries_a_month_end(three, analyst_api, sent):
    response = analyst_api.post("/api/v1/month-end/", {"month": "2026-01"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["month"] == "2026-01" and body["status"] == "running"
    assert body["progress"] == {
        "total": 3,
        "finished": 0,
        "percent": 0,
        "pending": 3,
        "done": 0,
        "skipped": 0,
        "failed": 0,
    }
    run_items(BulkOperation.objects.get())
    detail = analyst_api.get(body["url"]).json()
    assert detail["status"] == "done" and detail["progress"]["percent"] == 100
    rows = {row["contract"]: row for row in detail["items"]}
    a, _, c = three
    run = PaymentRun.objects.get(contract=a)
    assert rows[a.number]["run"] == {
        "id": str(run.public_id),
        "status": "review",
        "total": "600.00",
        "url": f"/api/v1/payment-runs/{run.public_id}/",
    }
    assert rows[c.number]["status"] == "skipped" and rows[c.number]["run"] is None
    listing = analyst_api.get("/api/v1/month-end/").json()
    assert [o["id"] for o in listing["results"]] == [body["id"]]
    retry = analyst_api.post(f"{body['url']}retry/")
    assert retry.status_code == 202 and retry.json()["status"] == "done"  # nothing failed: nothing queued


def test_the_api_answers_bad_input_and_months_without_contracts_with_problems(
    contract_factory, analyst_api, sent
):
    bad = analyst_api.post("/api/v1/month-end/", {"month": "January"}, format="json")
    assert bad.status_code == 400 and "month" in bad.json()["details"]
    none = analyst_api.post("/api/v1/month-end/", {"month": "2026-01"}, format="json")
    assert none.status_code == 409 and none.json()["code"] == "no_contracts_in_force"
    assert analyst_api.get("/api/v1/month-end/not-an-id/").status_code == 404


def test_another_organisation_never_sees_or_retries_a_month_end(
    finished, member_of, api_for, provider_admin, plan_cm
):
    other_plan = PayerFactory()
    outsider = member_of(other_plan, Role.ANALYST)
    pages = [f"/payments/month-end/{finished.public_id}/", f"/api/v1/month-end/{finished.public_id}/"]
    for user in (outsider, provider_admin):
        client, api = client_for(user), api_for(user)
        assert client.get(pages[0]).status_code == 404
        assert client.post(f"{pages[0]}retry/").status_code == 404
        assert api.get(pages[1]).status_code == 404
        assert api.post(f"{pages[1]}retry/").status_code == 404
        assert api.get("/api/v1/month-end/").json()["results"] == []
    # The plan's contract manager sees it and may not start or retry one.
    assert client_for(plan_cm).get(pages[0]).status_code == 200
    assert api_for(plan_cm).post("/api/v1/month-end/", {"month": "2026-01"}, format="json").status_code == 403
    assert api_for(plan_cm).post(f"{pages[1]}retry/").status_code == 403
    assert BulkItem.objects.filter(operation=finished).exclude(attempts=1).count() == 0


def test_month_end_pages_and_endpoints_take_a_constant_number_of_queries(
    contract_factory,
    provider_scope,
    analyst_scope,
    plan_analyst,
    analyst_api,
    sent,
    django_assert_max_num_queries,
):
    def month_end(month, n):
        for _ in range(n):
            contract = new_contract(contract_factory)
            roster(contract, month, [member(f"Q{contract.pk}")])
        operation, _ = services.month_end_start(scope=analyst_scope, month=month)
        run_items(operation)
        return operation

    first = month_end(JAN, 1)
    client = client_for(plan_analyst)
    urls = {
        "page list": "/payments/month-end/",
        "page detail": f"/payments/month-end/{first.public_id}/",
        "api list": "/api/v1/month-end/",
        "api detail": f"/api/v1/month-end/{first.public_id}/",
    }
    counts = {}
    for name, url in urls.items():
        get = analyst_api.get if name.startswith("api") else client.get
        with django_assert_max_num_queries(20) as captured:
            assert get(url).status_code == 200
        counts[name] = len(captured)
    month_end(FEB, 4)  # a second month-end; January gains no contract, but February has five
    urls["page detail"] = urls["page detail"].replace(
        str(first.public_id), str(BulkOperation.objects.get(params__month="2026-02").public_id)
    )
    urls["api detail"] = urls["api detail"].replace(
        str(first.public_id), str(BulkOperation.objects.get(params__month="2026-02").public_id)
    )
    for name, url in urls.items():
        get = analyst_api.get if name.startswith("api") else client.get
        with django_assert_max_num_queries(counts[name]):
            assert get(url).status_code == 200


def test_a_paid_month_with_nothing_changed_is_done_without_a_new_run(
    contract_factory, provider_scope, analyst_scope, sent
):
    contract = new_contract(contract_factory)
    roster(contract, JAN, [member("P1")])
    pay(scope=analyst_scope, contract=contract, month=JAN)
    operation, _ = services.month_end_start(scope=analyst_scope, month=JAN)
    run_items(operation)
    item = operation.items.get()
    assert (item.status, item.message) == ("done", "Paid; nothing changed since")
    assert PaymentRun.objects.filter(contract=contract).count() == 1


# --- core.bulk: a kind's completion hook ------------------------------------------------------------


@pytest.fixture
def hook(monkeypatch):
    """A completion hook on month-end recording the operations it was called with (status at the time)."""
    calls: list[tuple[int, str]] = []
    monkeypatch.setitem(bulk._ON_FINISHED, services.MONTH_END, lambda op: calls.append((op.pk, op.status)))
    return calls


def test_the_completion_hook_runs_once_by_whoever_closes_the_operation(three, analyst_scope, sent, hook):
    operation, _ = services.month_end_start(scope=analyst_scope, month=JAN)
    first, *rest = operation.items.order_by("pk")
    bulk.bulk_item_run(item_id=first.pk)
    assert hook == []  # items still pending: not finished
    run_items(operation)
    assert hook == [(operation.pk, "done")]
    # The last two items finishing together: the second to take the row lock finds it closed.
    bulk._close_if_finished(operation.pk)
    bulk.bulk_item_run(item_id=rest[-1].pk)  # a redelivered message of the last item
    assert hook == [(operation.pk, "done")]
    operation.refresh_from_db()
    assert operation.status == "done" and operation.error == ""


def test_a_completion_hook_that_raises_fails_the_operation_with_the_reason_and_a_retry_runs_it_again(
    three, analyst_scope, sent, monkeypatch
):
    from payments.models import PaymentRun

    calls: list[int] = []

    def broken(op):
        calls.append(op.pk)
        PaymentRun.objects.all().delete()  # undone: the hook runs in a savepoint
        raise RuntimeError("the disk is full")

    monkeypatch.setitem(bulk._ON_FINISHED, services.MONTH_END, broken)
    operation, _ = services.month_end_start(scope=analyst_scope, month=JAN)
    run_items(operation)
    operation.refresh_from_db()
    assert operation.status == "failed" and operation.finished_at is not None
    assert operation.error == "Finishing stopped: RuntimeError: the disk is full"
    assert PaymentRun.objects.count() == 2 and calls == [operation.pk]
    monkeypatch.setitem(bulk._ON_FINISHED, services.MONTH_END, lambda op: calls.append(op.pk))  # fixed
    assert services.month_end_retry_failed(scope=analyst_scope, operation=operation) == []
    operation.refresh_from_db()
    assert calls == [operation.pk, operation.pk]  # closed again: the hook again (it is idempotent)
    assert operation.status == "done" and operation.error == "" and operation.finished_at is not None


def test_register_keeps_or_drops_a_kinds_completion_hook(monkeypatch):
    monkeypatch.setattr(bulk, "_HANDLERS", {})
    monkeypatch.setattr(bulk, "_ON_FINISHED", {})

    def handler(op, item):
        return bulk.Outcome("done")

    def finished(op):
        return None

    bulk.register("test.kind", handler, on_finished=finished)
    assert bulk._ON_FINISHED == {"test.kind": finished}
    bulk.register("test.kind", handler)
    assert bulk._ON_FINISHED == {} and bulk._HANDLERS == {"test.kind": handler}
