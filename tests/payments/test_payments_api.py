"""The payments API: start a month (202), read a run, approve it, download its statement (PDF, CSV, an 820
that pyx12 validates); idempotent POSTs; tenancy (404 everywhere for another plan or provider, and a
provider never sees a run in review); the PHI access log; constant query counts on lists."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from accounts.models import Role
from core.models import AccessEvent
from payments.models import LedgerEntry, PaymentRun
from tests.factories import PayerFactory, ProviderFactory
from tests.fixtures.x12 import pyx12_check
from tests.payments.conftest import FEB, JAN, assessment, calculate, member, pay, submit_roster

pytestmark = pytest.mark.django_db
M = Decimal
D = dt.date


@pytest.fixture
def paid_contract(contract_factory, provider_scope, analyst_scope):
    """January paid and February in review, with a retroactive change, an assessment and a withhold."""
    contract = contract_factory(withhold_percentage=M("0.05"), proration_rule="daily")
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        rows=[member("P1", last="Núñez", first="José"), member("P2", tier="2")],
        assessments=[assessment("P3", D(2026, 1, 12), outcome="declined")],
    )
    pay(scope=analyst_scope, contract=contract, month=JAN)
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        today=D(2026, 2, 20),
        rows=[member("P1", last="Núñez", first="José"), member("P2", tier="3")],
        assessments=[assessment("P3", D(2026, 1, 12), outcome="declined")],
    )
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=FEB,
        rows=[
            member("P1", last="Núñez", first="José"),
            member("P2", tier="3", end=D(2026, 2, 14)),
            member("P4", start=D(2026, 2, 10)),
        ],
    )
    return contract


def test_starting_a_month_answers_202_and_the_run_shows_its_lines(
    paid_contract, analyst_api, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("payments.tasks.calculate_run.delay", lambda run_id: queued.append(run_id))
    with django_capture_on_commit_callbacks(execute=True):
        response = analyst_api.post(
            f"/api/v1/contracts/{paid_contract.public_id}/payment-runs/", {"month": "2026-02"}, format="json"
        )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "calculating" and body["created"] is True and body["kind"] == "payment"
    run = PaymentRun.objects.get(public_id=body["id"])
    assert queued == [run.pk]
    from payments.services import payment_run_calculate

    payment_run_calculate(run_id=run.pk)
    detail = analyst_api.get(body["url"]).json()
    assert detail["status"] == "review"
    assert [
        (x["kind"], x["rate_cell"], x["member_months"], x["rate"], x["amount"]) for x in detail["lines"]
    ] == [
        ("member_months", "1/URBAN/medicaid", "1.678571", "300.0000", "503.57"),  # P1 28/28 + P4 19/28
        ("member_months", "3/URBAN/medicaid", "0.500000", "612.3500", "306.18"),  # P2 14/28
        ("retro_adjustment", "", "0.000000", None, "162.35"),  # P2 was tier 3 in January
        ("withhold", "", "0.000000", "0.0500", "-40.49"),  # 5% of 809.75 = 40.4875
        # January's net is now 750.00 + 162.35 = 912.35: 5% = 45.6175 -> 45.62, 37.50 held, 8.12 more
        ("withhold_adjustment", "", "0.000000", "0.0500", "-8.12"),
    ]
    assert detail["lines"][-1]["service_month"] == "2026-01"
    assert detail["lines"][-1]["description"] == "5.00% of the net change for 2026-01"
    assert detail["total"] == "923.49" == str(sum(M(x["amount"]) for x in detail["lines"]))
    changes = detail["changes"]
    assert changes["members_joined"] == 1 and changes["members_left"] == 0
    assert changes["total_difference"] == str(M("923.49") - PaymentRun.objects.get(month=JAN).total)
    assert [c["tier"] for c in changes["cells"] if c["changed"]] == ["1", "2", "3"]


def test_approve_posts_and_a_second_approve_conflicts(
    paid_contract, analyst_api, analyst2_api, analyst_scope
):
    run = calculate(scope=analyst_scope, contract=paid_contract, month=FEB)
    own = analyst_api.post(
        f"/api/v1/payment-runs/{run.public_id}/approve/"
    )  # four eyes: not who requested it
    assert own.status_code == 400 and own.json()["code"] == "four_eyes_required"
    assert not LedgerEntry.objects.filter(run=run).exists()
    response = analyst2_api.post(f"/api/v1/payment-runs/{run.public_id}/approve/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved" and response.json()["statement"]["x12_820"].endswith(
        ".820"
    )
    assert sum(LedgerEntry.objects.filter(run=run).values_list("amount", flat=True)) == run.total
    again = analyst2_api.post(f"/api/v1/payment-runs/{run.public_id}/approve/")
    assert again.status_code == 409 and again.json()["code"] == "run_not_in_review"


def test_post_endpoints_replay_with_an_idempotency_key(
    paid_contract, analyst_api, analyst2_api, analyst_scope
):
    url = f"/api/v1/contracts/{paid_contract.number}/payment-runs/"
    first = analyst_api.post(url, {"month": "2026-02"}, format="json", HTTP_IDEMPOTENCY_KEY="feb-run")
    replay = analyst_api.post(url, {"month": "2026-02"}, format="json", HTTP_IDEMPOTENCY_KEY="feb-run")
    assert first.status_code == replay.status_code == 202
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert PaymentRun.objects.filter(month=FEB).count() == 1
    other = analyst_api.post(url, {"month": "2026-01"}, format="json", HTTP_IDEMPOTENCY_KEY="feb-run")
    assert other.status_code == 422
    run = calculate(scope=analyst_scope, contract=paid_contract, month=FEB)
    approve = f"/api/v1/payment-runs/{run.public_id}/approve/"
    a = analyst2_api.post(approve, HTTP_IDEMPOTENCY_KEY="approve-feb")
    b = analyst2_api.post(approve, HTTP_IDEMPOTENCY_KEY="approve-feb")
    assert a.status_code == b.status_code == 200 and b["Idempotent-Replayed"] == "true"
    assert LedgerEntry.objects.filter(run=run).count() == run.lines.count()


def test_bad_input_and_states_have_the_error_body(contract_factory, analyst_api, provider_api):
    contract = contract_factory()
    url = f"/api/v1/contracts/{contract.public_id}/payment-runs/"
    bad = analyst_api.post(url, {"month": "February"}, format="json")
    assert (
        bad.status_code == 400
        and bad.json()["code"] == "validation_error"
        and "month" in bad.json()["details"]
    )
    none = analyst_api.post(url, {"month": "2026-01"}, format="json")
    assert none.status_code == 409 and none.json()["code"] == "no_accepted_roster"
    outside = analyst_api.post(url, {"month": "2020-01"}, format="json")
    assert outside.status_code == 400 and outside.json()["code"] == "contract_not_in_force"
    forbidden = provider_api.post(url, {"month": "2026-01"}, format="json")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "permission_denied"


def test_the_statement_downloads_pdf_csv_and_an_820_that_pyx12_validates(
    paid_contract, analyst_api, provider_api, analyst_scope, tmp_path
):
    run = pay(scope=analyst_scope, contract=paid_contract, month=FEB)
    base = f"/api/v1/payment-runs/{run.public_id}/statement"
    for client in (analyst_api, provider_api):
        pdf = client.get(f"{base}.pdf")
        assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
        assert (
            pdf["Content-Disposition"]
            == f'attachment; filename="{paid_contract.number}-2026-02-statement.pdf"'
        )
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
        for figure in (
            "$503.57",
            "$306.18",
            "$162.35",
            "\u2212$40.49",
            "\u2212$8.12",
            "$923.49",
            "Year to date",
        ):
            assert figure in text, figure
        assert "Núñez" not in text and "P4" not in text  # summary only: no member in the PDF
        rows = list(csv.DictReader(io.StringIO(client.get(f"{base}.csv").content.decode())))
        assert {(r["member_id"], r["line"], r["service_month"], r["tier"], r["amount"]) for r in rows} == {
            ("P1", "member_months", "2026-02", "1", "300.00"),
            ("P4", "member_months", "2026-02", "1", "203.57"),
            ("P2", "member_months", "2026-02", "3", "306.18"),
            ("P2", "retro_adjustment", "2026-01", "3", "162.35"),
            ("", "withhold", "2026-02", "", "-40.49"),
            ("", "withhold_adjustment", "2026-01", "", "-8.12"),
        }
        assert sum(M(r["amount"]) for r in rows) == run.total
        assert rows[0]["last_name"] == "Núñez"
        x12 = client.get(f"{base}.820")
        assert x12.status_code == 200 and x12["Content-Type"] == "application/edi-x12"
        text = x12.content.decode("ascii")
        ok, messages = pyx12_check(text, tmp_path)
        assert ok, messages
        segments = [s.strip().split("*") for s in text.split("~") if s.strip()]
        assert segments[3][:3] == ["BPR", "I", "923.49"]
        # January's withhold adjustment: in the organisation-level withhold loop, with January's dates
        at = segments.index(["RMR", "CT", paid_contract.number, "", "-8.12"])
        assert segments[at + 1 : at + 3] == [
            ["REF", "ZZ", "WITHHOLD ADJUSTMENT"],
            ["DTM", "582", "", "", "", "RD8", "20260101-20260131"],
        ]
        assert ["NM1", "IL", "1", "NUNEZ", "JOSE", "", "", "", "N", "P1"] in segments
        assert ["ADX", "162.35", "53"] in segments and [
            "DTM",
            "582",
            "",
            "",
            "",
            "RD8",
            "20260201-20260228",
        ] in segments


def test_an_820_is_refused_before_approval(paid_contract, analyst_api, analyst_scope):
    run = calculate(scope=analyst_scope, contract=paid_contract, month=FEB)
    response = analyst_api.get(f"/api/v1/payment-runs/{run.public_id}/statement.820")
    assert response.status_code == 409 and response.json()["code"] == "run_not_approved"
    assert analyst_api.get(f"/api/v1/payment-runs/{run.public_id}/statement.pdf").status_code == 200


def test_statement_downloads_and_member_lines_are_in_the_access_log(
    paid_contract, analyst_api, provider_api, analyst_scope, plan_analyst, provider_admin
):
    run = pay(scope=analyst_scope, contract=paid_contract, month=FEB)
    AccessEvent.objects.all().delete()
    base = f"/api/v1/payment-runs/{run.public_id}/"
    for path in ("statement.pdf", "statement.csv", "statement.820", "members/"):
        assert analyst_api.get(base + path).status_code == 200
    assert provider_api.get(base + "statement.csv").status_code == 200
    events = list(AccessEvent.objects.order_by("pk").values_list("user", "action", "object_id"))
    assert events == [
        (plan_analyst.pk, "statement.download.pdf", str(run.public_id)),
        (plan_analyst.pk, "statement.download.csv", str(run.public_id)),
        (plan_analyst.pk, "statement.download.820", str(run.public_id)),
        (plan_analyst.pk, "payment_run.members", str(run.public_id)),
        (provider_admin.pk, "statement.download.csv", str(run.public_id)),
    ]


def test_a_provider_never_sees_a_run_in_review(paid_contract, provider_api, analyst_scope):
    january = PaymentRun.objects.get(month=JAN)
    review = calculate(scope=analyst_scope, contract=paid_contract, month=FEB)
    listed = provider_api.get(f"/api/v1/contracts/{paid_contract.public_id}/payment-runs/").json()["results"]
    assert [r["id"] for r in listed] == [str(january.public_id)]
    for suffix in ("", "members/", "statement.pdf", "statement.csv", "statement.820"):
        response = provider_api.get(f"/api/v1/payment-runs/{review.public_id}/{suffix}")
        assert response.status_code == 404 and response.json()["code"] == "not_found", suffix
    assert provider_api.post(f"/api/v1/payment-runs/{review.public_id}/approve/").status_code == 404
    history = provider_api.get(f"/api/v1/contracts/{paid_contract.public_id}/payment-history/").json()
    assert [m["month"] for m in history["months"]] == ["2026-01"]


def test_another_plan_or_provider_gets_404_on_every_payment_endpoint(
    paid_contract, analyst_scope, api_for, member_of
):
    run = pay(scope=analyst_scope, contract=paid_contract, month=FEB)
    c, r = paid_contract.public_id, run.public_id
    reads = [
        f"/api/v1/contracts/{c}/payment-runs/",
        f"/api/v1/contracts/{c}/payment-history/",
        f"/api/v1/contracts/{c}/ledger/",
        f"/api/v1/payment-runs/{r}/",
        f"/api/v1/payment-runs/{r}/members/",
        f"/api/v1/payment-runs/{r}/statement.pdf",
        f"/api/v1/payment-runs/{r}/statement.csv",
        f"/api/v1/payment-runs/{r}/statement.820",
    ]
    writes = [
        (f"/api/v1/contracts/{c}/payment-runs/", {"month": "2026-02"}),
        (f"/api/v1/payment-runs/{r}/approve/", {}),
    ]
    for organization in (PayerFactory(), ProviderFactory()):
        for role in (Role.ADMIN, Role.ANALYST, Role.AUDITOR):
            client = api_for(member_of(organization, role))
            for path in reads:
                assert client.get(path).status_code == 404, (organization.kind, role, path)
            for path, data in writes:
                assert client.post(path, data, format="json").status_code == 404, (
                    organization.kind,
                    role,
                    path,
                )
    assert PaymentRun.objects.filter(contract=paid_contract).count() == 2


def test_history_and_ledger_for_both_sides(paid_contract, analyst_api, provider_api, analyst_scope):
    pay(scope=analyst_scope, contract=paid_contract, month=FEB)
    for client in (analyst_api, provider_api):
        history = client.get(f"/api/v1/contracts/{paid_contract.number}/payment-history/").json()
        jan, feb = history["months"]
        assert (jan["month"], feb["month"], feb["total"]) == ("2026-01", "2026-02", "923.49")
        assert M(feb["withhold"]) == M("-40.49") + M("-8.12")
        assert M(feb["ytd"]) == M(jan["total"]) + M("923.49")
        assert history["years"][0]["year"] == 2026 and history["years"][0]["total"] == feb["ytd"]
        ledger = client.get(f"/api/v1/contracts/{paid_contract.number}/ledger/").json()
        assert [e["sequence"] for e in ledger["results"]] == list(range(1, ledger["count"] + 1))
        assert sum(M(e["amount"]) for e in ledger["results"]) == M(feb["ytd"])


def test_list_endpoints_take_a_constant_number_of_queries(
    contract_factory, provider_scope, analyst_scope, analyst_api, django_assert_max_num_queries
):
    contract = contract_factory()
    for month in (JAN, FEB):
        submit_roster(provider_scope=provider_scope, contract=contract, month=month, rows=[member("Q1")])
    pay(scope=analyst_scope, contract=contract, month=JAN)
    urls = [
        f"/api/v1/contracts/{contract.public_id}/payment-runs/",
        f"/api/v1/contracts/{contract.public_id}/ledger/",
    ]
    counts = {}
    for url in urls:
        with django_assert_max_num_queries(12) as captured:
            assert analyst_api.get(url).status_code == 200
        counts[url] = len(captured)
    pay(scope=analyst_scope, contract=contract, month=FEB)
    for url in urls:
        with django_assert_max_num_queries(counts[url]):
            assert analyst_api.get(url).status_code == 200
