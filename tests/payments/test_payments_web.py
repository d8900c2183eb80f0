"""Payment pages: the contract list, a contract's runs and history (inline SVG chart, CSP-safe), a run
with what changed, approval, tenancy (404 for others, no run in review for the provider), the PHI
access log and constant query counts."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import Role
from core.models import AccessEvent
from payments.models import LedgerEntry, PaymentRun
from tests.factories import PayerFactory, ProviderFactory
from tests.payments.conftest import FEB, JAN, MAR, calculate, member, pay, submit_roster

pytestmark = pytest.mark.django_db
M = Decimal
D = dt.date


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def history(contract_factory, provider_scope, analyst_scope):
    """January and February paid, March in review (one member more, one changed tier)."""
    contract = contract_factory(withhold_percentage=M("0.05"))
    for month, rows in (
        (JAN, [member("W1"), member("W2")]),
        (FEB, [member("W1"), member("W2")]),
        (MAR, [member("W1"), member("W2", tier="2"), member("W3")]),
    ):
        submit_roster(provider_scope=provider_scope, contract=contract, month=month, rows=rows)
    pay(scope=analyst_scope, contract=contract, month=JAN)
    pay(scope=analyst_scope, contract=contract, month=FEB)
    march = calculate(scope=analyst_scope, contract=contract, month=MAR)
    return contract, march


def assert_csp_safe(html: str) -> None:
    assert not re.search(r"\sstyle=", html), "a style attribute breaks the CSP"
    assert not re.search(r"<script(?![^>]*\ssrc=)", html), "an inline script breaks the CSP"
    assert not re.search(r"\son[a-z]+=", html), "an inline handler breaks the CSP"


def test_the_contract_page_shows_history_year_to_date_and_an_svg_chart(history, plan_analyst, provider_admin):
    contract, march = history
    for user in (plan_analyst, provider_admin):
        response = client_for(user).get(f"/payments/contracts/{contract.number}/")
        assert response.status_code == 200
        html = response.content.decode()
        assert_csp_safe(html)
        assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'data-chart="payment-history"' in html
        assert html.count("<rect ") == 2  # January and February bars: March is not posted
        assert "2026 year to date" in html
        ytd = sum(LedgerEntry.objects.filter(contract=contract).values_list("amount", flat=True))
        assert f"{ytd:,.2f}" in html
    assert (
        str(march.public_id)
        in client_for(plan_analyst).get(f"/payments/contracts/{contract.number}/").content.decode()
    )
    assert (
        str(march.public_id)
        not in client_for(provider_admin).get(f"/payments/contracts/{contract.number}/").content.decode()
    )


def test_the_run_page_highlights_what_changed_and_the_analyst_approves_it(
    history, plan_analyst, plan_analyst2
):
    contract, march = history
    own = client_for(plan_analyst)  # requested March: four eyes, so the page refuses their approval
    html = own.get(f"/payments/runs/{march.public_id}/").content.decode()
    assert "you requested it: another analyst approves it" in html
    refused = own.post(f"/payments/runs/{march.public_id}/approve/", follow=True).content.decode()
    assert "cannot also approve it" in refused
    march.refresh_from_db()
    assert march.status == "review"
    client = client_for(plan_analyst2)
    html = client.get(f"/payments/runs/{march.public_id}/").content.decode()
    assert_csp_safe(html)
    assert "What changed since February 2026" in html
    # tier 2 (W2 moved up) changed; tier 1 kept two members (W2 left it, W3 joined) and its amount
    assert html.count('data-testid="changed-cell"') == 1
    assert "1 member joined, 0 left" in html
    assert "Approve and post" in html
    response = client.post(f"/payments/runs/{march.public_id}/approve/")
    assert response.status_code == 302
    march.refresh_from_db()
    assert march.status == "approved" and LedgerEntry.objects.filter(run=march).count() == march.lines.count()
    html = client.get(f"/payments/runs/{march.public_id}/").content.decode()
    assert "Approve and post" not in html and "statement.820" in html and "statement.pdf" in html


def test_calculating_from_the_page_queues_the_month_and_shows_its_progress(
    contract_factory, provider_scope, plan_analyst, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("payments.tasks.calculate_run.delay", lambda run_id: None)
    contract = contract_factory()
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("G1")])
    client = client_for(plan_analyst)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/payments/contracts/{contract.number}/calculate/", {"month": "2026-01"})
    run = PaymentRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/payments/runs/{run.public_id}/"
    html = client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 2s"' in html and "Calculating" in html
    bad = client.post(f"/payments/contracts/{contract.number}/calculate/", {"month": "2026-05"}, follow=True)
    assert "no accepted roster" in bad.content.decode()


def test_a_provider_sees_posted_runs_only_and_cannot_approve(history, provider_admin):
    contract, march = history
    client = client_for(provider_admin)
    assert client.get(f"/payments/runs/{march.public_id}/").status_code == 404
    assert client.post(f"/payments/runs/{march.public_id}/approve/").status_code == 404
    january = PaymentRun.objects.get(contract=contract, month=JAN)
    html = client.get(f"/payments/runs/{january.public_id}/").content.decode()
    assert "Approve and post" not in html and "Calculate again" not in html
    assert (
        client.post(f"/payments/contracts/{contract.number}/calculate/", {"month": "2026-03"}).status_code
        == 403
    )
    home = client.get("/payments/").content.decode()
    assert contract.number in home and 'href="/payments/"' in home


def test_other_organisations_get_404_on_every_payment_page(history, member_of):
    contract, march = history
    january = PaymentRun.objects.get(contract=contract, month=JAN)
    pages = [
        f"/payments/contracts/{contract.number}/",
        f"/payments/runs/{march.public_id}/",
        f"/payments/runs/{january.public_id}/",
        f"/payments/runs/{january.public_id}/status/",
    ]
    posts = [
        f"/payments/contracts/{contract.number}/calculate/",
        f"/payments/runs/{march.public_id}/approve/",
    ]
    for organization in (PayerFactory(), ProviderFactory()):
        for role in (Role.ADMIN, Role.ANALYST):
            client = client_for(member_of(organization, role))
            for page in pages:
                assert client.get(page).status_code == 404, (organization.kind, role, page)
            for page in posts:
                assert client.post(page, {"month": "2026-03"}).status_code == 404, (
                    organization.kind,
                    role,
                    page,
                )
            assert contract.number not in client.get("/payments/").content.decode()
    march.refresh_from_db()
    assert march.status == "review"


def test_the_run_page_with_member_lines_is_in_the_access_log(history, plan_analyst):
    contract, march = history
    AccessEvent.objects.all().delete()
    html = client_for(plan_analyst).get(f"/payments/runs/{march.public_id}/?search=W3").content.decode()
    assert "W3" in html and "W1</td>" not in html
    event = AccessEvent.objects.get()
    assert (event.user, event.action, event.object_id) == (
        plan_analyst,
        "payment_run.view",
        str(march.public_id),
    )


def test_payment_pages_take_a_constant_number_of_queries(
    contract_factory,
    provider_scope,
    analyst_scope,
    plan_analyst,
    other_provider,
    django_assert_max_num_queries,
):
    contract = contract_factory()
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("Q1")])
    pay(scope=analyst_scope, contract=contract, month=JAN)
    client = client_for(plan_analyst)
    pages = ["/payments/", f"/payments/contracts/{contract.number}/"]
    counts = {}
    for page in pages:
        with django_assert_max_num_queries(30) as captured:
            assert client.get(page).status_code == 200
        counts[page] = len(captured)
    contract_factory(provider_org=other_provider, markets=("URBAN-E",))
    for month in (FEB, MAR):
        submit_roster(provider_scope=provider_scope, contract=contract, month=month, rows=[member("Q1")])
        pay(scope=analyst_scope, contract=contract, month=month)
    for page in pages:
        with django_assert_max_num_queries(counts[page]):
            assert client.get(page).status_code == 200
