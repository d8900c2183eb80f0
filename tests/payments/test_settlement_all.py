"""Settle a period for every contract: one bulk operation (core.bulk) per plan and period, one item per
contract, each item asking ``settlement_request`` for its contract. Items run here in the test process
(the Celery task's body), as in test_month_end.py.

Pinned here: which contracts are in it, each contract settled once (running it twice gives the same
settlements), a contract whose run-out is not over skipped without blocking the others and picked up
again, a failure retried alone, the permission settling needs, the page and the API (tenancy, errors,
constant query counts).
"""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from core import bulk
from core.errors import ApplicationError, ConflictError, PermissionDeniedError
from core.models import BulkOperation
from payments import services
from payments.models import Settlement
from tests.factories import PayerFactory, ProviderFactory

pytestmark = pytest.mark.django_db

PERIOD = "2026-Q2"  # over (contracts start 2025-01); a 24-month run-out keeps it open until 2028-07
SAVINGS = {
    "baseline_method": "pre_enrollment",
    "minimum_savings_rate": "0.02",
    "sharing_rate": "0.5",
    "cap": "0.1",
    "quality_gate": "0.5",
}


def new_contract(contract_factory, **terms):
    """An active contract with a provider of its own (one provider may not hold two in one market)."""
    return contract_factory(provider_org=ProviderFactory(), **terms)


def long_run_out(contract_factory):
    """A contract whose shared savings wait 24 months after the period before it is settled."""
    return new_contract(contract_factory, shared_savings_terms={**SAVINGS, "runout_months": 24})


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
def three(contract_factory):
    """Two contracts that settle now and one whose run-out is not over."""
    return [new_contract(contract_factory), new_contract(contract_factory), long_run_out(contract_factory)]


def test_every_contract_is_settled_once_and_a_contract_not_ready_is_skipped(
    three, analyst_scope, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        operation, queued = services.settlement_all_start(scope=analyst_scope, period="2026-q2")
    assert operation.title == f"Settlement {PERIOD}" and operation.params == {"period": PERIOD}
    assert sent == [[i.pk for i in queued]] and len(queued) == 3  # one group, one task per contract
    run_items(operation)
    operation.refresh_from_db()
    a, b, c = three
    assert items(operation) == {a.number: ("done", 1), b.number: ("done", 1), c.number: ("skipped", 1)}
    assert operation.status == "done" and operation.finished_at is not None
    skipped = operation.items.get(subject_id=c.pk)
    assert "run-out ends on 2028-07-01" in skipped.message
    for contract in (a, b):
        settlement = Settlement.objects.get(contract=contract, period=PERIOD)
        item = operation.items.get(subject_id=contract.pk)
        assert settlement.status == "review" and settlement.requested_by == analyst_scope.user
        assert item.result == {
            "settlement": str(settlement.public_id),
            "settlement_status": "review",
            "total": str(settlement.total),
            "created": True,
        }
        assert item.message.endswith("in review")
    assert not Settlement.objects.filter(contract=c).exists()


def test_running_it_twice_gives_the_same_settlements(three, analyst_scope, sent):
    operation, _ = services.settlement_all_start(scope=analyst_scope, period=PERIOD)
    run_items(operation)
    before = set(Settlement.objects.values_list("pk", "number"))
    a = three[0]
    item = operation.items.get(subject_id=a.pk)
    # The same item delivered again (already done): left alone.
    bulk.bulk_item_run(item_id=item.pk)
    # Started again: only the contract not ready is queued; the settled ones stay done.
    again, queued = services.settlement_all_start(scope=analyst_scope, period=PERIOD)
    assert again.pk == operation.pk and [i.subject_id for i in queued] == [three[2].pk]
    run_items(again)
    # And each contract's item run by hand once more: settlement_request returns the one in review.
    assert services.settlement_request(scope=analyst_scope, contract=a, period=PERIOD)[1] is False
    assert set(Settlement.objects.values_list("pk", "number")) == before and len(before) == 2
    assert items(again)[a.number] == ("done", 1)


def test_an_approved_settlement_with_nothing_changed_is_done_without_a_new_one(
    contract_factory, analyst_scope, analyst2_scope, sent
):
    contract = new_contract(contract_factory)
    settlement, _ = services.settlement_request(scope=analyst_scope, contract=contract, period=PERIOD)
    services.settlement_approve(scope=analyst2_scope, settlement=settlement)
    operation, _ = services.settlement_all_start(scope=analyst_scope, period=PERIOD)
    run_items(operation)
    item = operation.items.get()
    assert (item.status, item.message) == ("done", services.SETTLED_UNCHANGED_MESSAGE)
    assert item.result["settlement"] == str(settlement.public_id)
    assert Settlement.objects.filter(contract=contract).count() == 1


def test_a_failed_contract_is_reported_and_retried_alone(
    three, analyst_scope, sent, monkeypatch, django_capture_on_commit_callbacks
):
    from payments.services import settlement_all

    a = three[0]
    real = settlement_all.settlement_request

    def broken(*, scope, contract, period):
        if contract == a:
            raise RuntimeError("disk full")
        return real(scope=scope, contract=contract, period=period)

    monkeypatch.setattr(settlement_all, "settlement_request", broken)
    operation, _ = services.settlement_all_start(scope=analyst_scope, period=PERIOD)
    run_items(operation)
    operation.refresh_from_db()
    failed = operation.items.get(subject_id=a.pk)
    assert (failed.status, failed.message) == ("failed", "Stopped: RuntimeError: disk full")
    assert operation.status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        queued = services.settlement_all_retry_failed(scope=analyst_scope, operation=operation)
    assert [i.pk for i in queued] == [failed.pk] and sent == [[failed.pk]]
    monkeypatch.setattr(settlement_all, "settlement_request", real)  # fixed
    run_items(operation)
    operation.refresh_from_db()
    assert items(operation)[a.number] == ("done", 2) and operation.status == "done"
    assert Settlement.objects.filter(contract=a, period=PERIOD).count() == 1


def test_settling_every_contract_needs_contracts_a_period_and_the_settle_permission(
    contract_factory, plan_scope, analyst_scope, provider_scope, sent
):
    with pytest.raises(ConflictError) as info:
        services.settlement_all_start(scope=analyst_scope, period=PERIOD)
    assert info.value.code == "no_contracts_to_settle"
    new_contract(contract_factory)
    with pytest.raises(ConflictError) as info:
        services.settlement_all_start(scope=analyst_scope, period="2024-Q4")  # before the contract starts
    assert info.value.code == "no_contracts_to_settle"
    with pytest.raises(ConflictError) as info:
        services.settlement_all_start(scope=analyst_scope, period="2099-Q1")
    assert info.value.code == "period_open"
    for bad in ("", "2026-Q5", "soon"):
        with pytest.raises(ApplicationError) as info:
            services.settlement_all_start(scope=analyst_scope, period=bad)
        assert info.value.code == "invalid_period"
    for scope in (plan_scope, provider_scope):  # a contract manager, a provider: not theirs to settle
        with pytest.raises(PermissionDeniedError):
            services.settlement_all_start(scope=scope, period=PERIOD)
    assert not BulkOperation.objects.exists()


# --- the page and the API ---------------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def finished(three, analyst_scope, sent):
    operation, _ = services.settlement_all_start(scope=analyst_scope, period=PERIOD)
    run_items(operation)
    return operation


def test_the_page_settles_a_period_for_every_contract_and_links_each_settlement(three, plan_analyst, sent):
    client = client_for(plan_analyst)
    assert "/payments/settlement-runs/" in client.get("/payments/").content.decode()
    page = client.get("/payments/settlement-runs/")
    assert page.status_code == 200 and "Settle a period for every contract" in page.content.decode()
    response = client.post("/payments/settlement-runs/", {"period": PERIOD})
    operation = BulkOperation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/payments/settlement-runs/{operation.public_id}/"
    run_items(operation)
    html = client.get(response["Location"]).content.decode()
    assert "3 of 3 contracts finished: 2 done, 1 not yet, 0 failed" in html
    for settlement in Settlement.objects.all():
        assert f"/payments/settlements/{settlement.public_id}/" in html
    assert "run-out ends on 2028-07-01" in html and "Retry the failed contracts" not in html
    listing = client.get("/payments/settlement-runs/").content.decode()
    assert f"Settlement {PERIOD}" in listing


def test_the_page_shows_errors_inline_and_polls_while_running(contract_factory, plan_analyst, sent):
    client = client_for(plan_analyst)
    response = client.post("/payments/settlement-runs/", {"period": PERIOD}, follow=True)
    assert response.status_code == 200
    assert "No active contract of yours was in force in 2026-Q2" in response.content.decode()
    response = client.post("/payments/settlement-runs/", {"period": "2026-Q9"}, follow=True)
    assert response.status_code == 200 and "A period is a month" in response.content.decode()
    assert not BulkOperation.objects.exists()
    new_contract(contract_factory)
    client.post("/payments/settlement-runs/", {"period": PERIOD})
    operation = BulkOperation.objects.get()
    url = f"/payments/settlement-runs/{operation.public_id}/?progress=1"
    poll = client.get(url, HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and 'hx-trigger="every 2s"' in poll.content.decode()
    assert "HX-Refresh" not in poll
    run_items(operation)
    assert client.get(url, HTTP_HX_REQUEST="true")["HX-Refresh"] == "true"


def test_the_api_starts_reads_and_retries_a_period_settlement(three, analyst_api, sent):
    response = analyst_api.post("/api/v1/settlement-runs/", {"period": PERIOD}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["period"] == PERIOD and body["status"] == "running"
    assert body["progress"]["total"] == 3 and body["progress"]["pending"] == 3
    run_items(BulkOperation.objects.get())
    detail = analyst_api.get(body["url"]).json()
    assert detail["status"] == "done" and detail["progress"]["percent"] == 100
    rows = {row["contract"]: row for row in detail["items"]}
    a, _, c = three
    settlement = Settlement.objects.get(contract=a)
    assert rows[a.number]["settlement"] == {
        "id": str(settlement.public_id),
        "status": "review",
        "total": str(settlement.total),
        "url": f"/api/v1/settlements/{settlement.public_id}/",
    }
    assert rows[c.number]["status"] == "skipped" and rows[c.number]["settlement"] is None
    listing = analyst_api.get("/api/v1/settlement-runs/").json()
    assert [o["id"] for o in listing["results"]] == [body["id"]]
    retry = analyst_api.post(f"{body['url']}retry/")
    assert retry.status_code == 202 and retry.json()["status"] == "done"  # nothing failed: nothing queued


def test_the_api_answers_bad_input_and_periods_without_contracts_with_problems(
    contract_factory, analyst_api, sent
):
    bad = analyst_api.post("/api/v1/settlement-runs/", {"period": "someday"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_period"
    none = analyst_api.post("/api/v1/settlement-runs/", {"period": PERIOD}, format="json")
    assert none.status_code == 409 and none.json()["code"] == "no_contracts_to_settle"
    assert analyst_api.get("/api/v1/settlement-runs/not-an-id/").status_code == 404


def test_another_organisation_never_sees_or_retries_a_period_settlement(
    finished, member_of, api_for, provider_admin, plan_cm, plan
):
    outsider = member_of(PayerFactory(), Role.ANALYST)
    page, api_url = (
        f"/payments/settlement-runs/{finished.public_id}/",
        f"/api/v1/settlement-runs/{finished.public_id}/",
    )
    for user in (outsider, provider_admin):
        client, api = client_for(user), api_for(user)
        assert client.get(page).status_code == 404
        assert client.post(f"{page}retry/").status_code == 404
        assert api.get(api_url).status_code == 404
        assert api.post(f"{api_url}retry/").status_code == 404
        assert api.get("/api/v1/settlement-runs/").json()["results"] == []
    # The month-end routes do not answer for it either (another kind of operation).
    assert client_for(plan_cm).get(f"/payments/month-end/{finished.public_id}/").status_code == 404
    # The plan's contract manager and auditor see it and may neither start nor retry one.
    auditor = member_of(plan, Role.AUDITOR)
    for user in (plan_cm, auditor):
        assert client_for(user).get(page).status_code == 200
        assert (
            "Settle a period for every contract"
            not in client_for(user).get("/payments/settlement-runs/").content.decode()
        )
        api = api_for(user)
        assert api.post("/api/v1/settlement-runs/", {"period": PERIOD}, format="json").status_code == 403
        assert api.post(f"{api_url}retry/").status_code == 403
        assert client_for(user).post("/payments/settlement-runs/", {"period": PERIOD}).status_code == 403
    assert BulkOperation.objects.count() == 1
    assert not finished.items.exclude(attempts=1).exists()


def test_period_settlement_pages_and_endpoints_take_a_constant_number_of_queries(
    contract_factory, analyst_scope, plan_analyst, analyst_api, sent, django_assert_max_num_queries
):
    def settle_all(period, n):
        for _ in range(n):
            new_contract(contract_factory)
        operation, _ = services.settlement_all_start(scope=analyst_scope, period=period)
        run_items(operation)
        return operation

    first = settle_all("2026-Q1", 1)
    client = client_for(plan_analyst)
    urls = {
        "page list": "/payments/settlement-runs/",
        "page detail": f"/payments/settlement-runs/{first.public_id}/",
        "api list": "/api/v1/settlement-runs/",
        "api detail": f"/api/v1/settlement-runs/{first.public_id}/",
    }
    counts = {}
    for name, url in urls.items():
        get = analyst_api.get if name.startswith("api") else client.get
        with django_assert_max_num_queries(20) as captured:
            assert get(url).status_code == 200
        counts[name] = len(captured)
    second = settle_all(PERIOD, 4)  # a second period, five contracts settled
    for name in ("page detail", "api detail"):
        urls[name] = urls[name].replace(str(first.public_id), str(second.public_id))
    for name, url in urls.items():
        get = analyst_api.get if name.startswith("api") else client.get
        with django_assert_max_num_queries(counts[name]):
            assert get(url).status_code == 200
