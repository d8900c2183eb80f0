"""A plan's own fee schedule (issue 17, point 4): a CSV validated row by row (every kind of error),
versioned, named by a run whose fee-for-service comparison then pays the plan's rates; page, API,
tenancy."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from pricing import services
from pricing.fee_schedules import TEMPLATE, rates_on, read_fee_schedule
from pricing.models import FeeScheduleVersion, PricingRun
from tests.factories import PASSWORD, PayerFactory, ProviderFactory
from tests.pricing.test_pricing_runs_api import RUNS, body_for

GOOD = (
    "code,modifier,rate,effective_start,effective_end\n"
    "99349,,88.10,2026-01-01,\n"
    "99214,,61.00,2026-01-01,\n"
    "99345,,150.25,2026-01-01,2026-06-30\n"
    "99345,,155.00,2026-07-01,\n"
    "99487,,95.40,2026-01-01,\n"
    "99490,25,40.00,2026-01-01,\n"
)


def _read(text: str):
    return read_fee_schedule(io.BytesIO(text.encode()))


def _csv(text: str, name: str = "schedule.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


# --- the file (pure) ----------------------------------------------------------------------------------


def test_a_good_file_reads_every_row_and_the_rates_of_a_day():
    read = _read(GOOD)
    assert read.valid and read.row_count == 6 and len(read.rows) == 6
    assert rates_on(read.rows, date(2026, 7, 1))["99345"] == "155.00"
    assert rates_on(read.rows, date(2026, 6, 30))["99345"] == "150.25"  # the end is inclusive
    assert rates_on(read.rows, date(2025, 12, 31)) == {}
    assert rates_on(read.rows, date(2026, 3, 1))["99490:25"] == "40.00"  # a modifier's own rate
    assert _read(TEMPLATE).valid  # the downloadable template is a valid file


@pytest.mark.parametrize(
    ("text", "row", "column", "code"),
    [
        ("", 1, "", "empty_file"),
        ("code,modifier,rate,effective_start\n", 2, "", "no_data_rows"),
        ("code,rate\n99349,1\n", 1, "effective_start", "missing_column"),
        ("code,code,rate,effective_start\n99349,99349,1,2026-01-01\n", 1, "code", "duplicate_column"),
        ("code,rate,effective_start\n,1,2026-01-01\n", 2, "code", "required"),
        ("code,rate,effective_start\n9934,1,2026-01-01\n", 2, "code", "invalid_code"),
        ("code,modifier,rate,effective_start\n99349,2,1,2026-01-01\n", 2, "modifier", "invalid_modifier"),
        ("code,rate,effective_start\n99349,,2026-01-01\n", 2, "rate", "invalid_number"),
        ("code,rate,effective_start\n99349,$88,2026-01-01\n", 2, "rate", "invalid_number"),
        ("code,rate,effective_start\n99349,-0.01,2026-01-01\n", 2, "rate", "out_of_range"),
        ("code,rate,effective_start\n99349,100000.01,2026-01-01\n", 2, "rate", "out_of_range"),
        ("code,rate,effective_start\n99349,88.105,2026-01-01\n", 2, "rate", "too_precise"),
        ("code,rate,effective_start\n99349,88,2026-13-01\n", 2, "effective_start", "invalid_date"),
        (
            "code,rate,effective_start,effective_end\n99349,88,2026-01-01,soon\n",
            2,
            "effective_end",
            "invalid_date",
        ),
        (
            "code,rate,effective_start,effective_end\n99349,88,2026-02-01,2026-01-31\n",
            2,
            "effective_end",
            "end_before_start",
        ),
        (
            "code,rate,effective_start,effective_end\n99349,88,2026-01-01,2026-06-30\n99349,90,2026-06-30,\n",
            3,
            "effective_start",
            "overlapping_period",
        ),
        (
            "code,rate,effective_start\n99349,88,2026-01-01\n99349,90,2026-03-01\n",
            3,
            "effective_start",
            "overlapping_period",
        ),
    ],
)
def test_every_kind_of_error_has_its_row_and_column(text, row, column, code):
    read = _read(text)
    assert not read.valid and read.rows == []
    problem = read.issues[0]
    assert (problem.row, problem.column, problem.code) == (row, column, code)


def test_every_error_of_a_file_is_reported_and_the_edges_are_accepted():
    text = (
        "code,modifier,rate,effective_start,effective_end\n"
        "99349,,0,2026-01-01,2026-01-01\n"  # a zero rate, a one-day period
        "99349,,100000,2026-01-02,\n"  # the largest rate, the day after
        "99349,GT,88,2026-01-01,\n"  # the same code with a modifier is another rate
        "bad,,x,2026-02-30,\n"
        "G0511,,-1,2026-01-01,\n"
    )
    read = _read(text)
    assert [(p.row, p.column) for p in read.issues] == [
        (5, "code"),
        (5, "rate"),
        (5, "effective_start"),
        (6, "rate"),
    ]
    assert read.row_count == 5
    assert _read(text.rsplit("bad", 1)[0]).valid
    assert _read("CODE , Rate,EFFECTIVE_START\ng0511,72,2026-01-01\n").rows[0]["code"] == "G0511"


def test_a_file_that_is_not_utf8_is_refused_at_its_row():
    read = read_fee_schedule(
        io.BytesIO(b"code,rate,effective_start\n99349,88,2026-01-01\n99\xe9,1,2026-01-01\n")
    )
    assert not read.valid and (read.issues[0].row, read.issues[0].code) == (3, "not_utf8")


# --- through the platform -----------------------------------------------------------------------------


@pytest.fixture
def web(analyst) -> Client:
    client = Client()
    assert client.login(username=analyst.username, password=PASSWORD)
    return client


@pytest.mark.django_db
def test_upload_versions_and_a_rejected_upload_that_loads_nothing(scope):
    first = services.fee_schedule_upload(scope=scope, name="Medi-Cal 2026", file=_csv(GOOD))
    assert first.is_valid and first.number == 1 and first.row_count == 6 and first.file_sha256
    bad = services.fee_schedule_upload(
        scope=scope, name="Medi-Cal 2026", file=_csv("code,rate,effective_start\n1,x,y\n")
    )
    assert not bad.is_valid and bad.number is None and bad.rows == [] and bad.error_count == 3
    assert bad.file.read().startswith(b"code,rate")  # the file is kept
    second = services.fee_schedule_upload(
        scope=scope, name="Medi-Cal 2026", file=_csv(GOOD), notes="July update"
    )
    assert second.number == 2 and second.schedule == first.schedule
    assert FeeScheduleVersion.objects.filter(schedule=first.schedule).count() == 3
    # a version is what runs priced with: it never changes
    with pytest.raises(IntegrityError):
        FeeScheduleVersion.objects.filter(pk=first.pk).update(rows=[])


@pytest.mark.django_db
def test_a_run_named_with_a_schedule_pays_its_rates_in_the_comparison(
    analyst_api, scope, bundle_version, assumption_version
):
    version = services.fee_schedule_upload(scope=scope, name="Medi-Cal 2026", file=_csv(GOOD))
    body = body_for(
        bundle_version,
        assumption_version,
        fee_schedule_id=str(version.schedule.public_id),
        markets=["URBAN"],
        lobs=["medicaid"],
    )
    response = analyst_api.post(RUNS, body, format="json")
    assert response.status_code == 202, response.content
    run = PricingRun.objects.get(public_id=response.json()["id"])
    midpoint = date.fromisoformat(run.inputs["pricing_file"]["assumptions"]["rating_period_midpoint"])
    assert run.inputs["fee_schedule"]["version"] == 1
    assert run.inputs["fee_schedule"]["rates"] == rates_on(version.rows, midpoint)
    run = services.pricing_run_execute(run_id=run.pk)
    comparison = run.result["comparison"]
    assert (
        comparison["fee_schedule"]["kind"] == "plan" and comparison["fee_schedule"]["name"] == "Medi-Cal 2026"
    )
    for cell in comparison["cells"]:
        for role in cell["by_role"].values():
            for service in role["services"]:
                assert service["amount"] == run.inputs["fee_schedule"]["rates"].get(service["code"], "0.00")
    # a run without one keeps Medicare's
    plain = analyst_api.post(
        RUNS, body_for(bundle_version, assumption_version, markets=["URBAN"]), format="json"
    )
    plain_run = services.pricing_run_execute(run_id=PricingRun.objects.get(public_id=plain.json()["id"]).pk)
    assert plain_run.result["comparison"]["fee_schedule"]["kind"] == "medicare_pfs"
    assert plain_run.inputs_hash != run.inputs_hash


@pytest.mark.django_db
def test_a_schedule_with_no_valid_version_or_another_plans_cannot_be_named(
    analyst_api, scope, bundle_version, assumption_version, member_of
):
    bad = services.fee_schedule_upload(scope=scope, name="Draft", file=_csv("code\n"))
    body = body_for(bundle_version, assumption_version, fee_schedule_id=str(bad.schedule.public_id))
    response = analyst_api.post(RUNS, body, format="json")
    assert response.status_code == 409 and response.json()["code"] == "fee_schedule_rejected"
    from tests.pricing.conftest import scope_of

    other = member_of(PayerFactory(), Role.ANALYST)
    theirs = services.fee_schedule_upload(scope=scope_of(other), name="Theirs", file=_csv(GOOD))
    body = body_for(bundle_version, assumption_version, fee_schedule_id=str(theirs.schedule.public_id))
    assert analyst_api.post(RUNS, body, format="json").status_code == 404
    assert not PricingRun.objects.exists()


@pytest.mark.django_db
def test_the_api_uploads_lists_and_reads(analyst_api):
    response = analyst_api.post(
        "/api/v1/pricing/fee-schedules/", {"name": "Medi-Cal 2026", "file": _csv(GOOD)}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == 1 and len(body["rows"]) == 6 and body["status"] == "valid"
    schedule_id = body["schedule_id"]
    assert response["Location"] == f"/api/v1/pricing/fee-schedules/{schedule_id}/versions/1/"
    rejected = analyst_api.post(
        "/api/v1/pricing/fee-schedules/",
        {"name": "Medi-Cal 2026", "file": _csv("code,rate,effective_start\n99349,1.001,2026-01-01\n")},
        format="multipart",
    )
    assert rejected.status_code == 400 and rejected.json()["code"] == "invalid_fee_schedule"
    problems = rejected.json()["details"]["problems"]
    assert [(p["row"], p["column"], p["code"]) for p in problems] == [(2, "rate", "too_precise")]
    listing = analyst_api.get("/api/v1/pricing/fee-schedules/").json()
    assert listing == [{"id": schedule_id, "name": "Medi-Cal 2026", "latest_version": 1, "uploads": 2}]
    detail = analyst_api.get(f"/api/v1/pricing/fee-schedules/{schedule_id}/").json()
    assert [v["status"] for v in detail["versions"]] == ["rejected", "valid"]
    assert analyst_api.get(f"/api/v1/pricing/fee-schedules/{schedule_id}/versions/2/").status_code == 404


@pytest.mark.django_db
def test_the_pages_upload_show_errors_and_rates(web, analyst):
    page = web.get("/pricing/fee-schedules/")
    assert page.status_code == 200 and "No fee schedule yet" in page.content.decode()
    assert web.get("/pricing/fee-schedules/template.csv").content.decode() == TEMPLATE
    response = web.post("/pricing/fee-schedules/", {"name": "Medi-Cal 2026", "file": _csv(GOOD)})
    assert response.status_code == 302
    detail = web.get(response["Location"]).content.decode()
    assert 'data-testid="fee-schedule-rates"' in detail and "150.25" in detail
    response = web.post(
        "/pricing/fee-schedules/",
        {"name": "Medi-Cal 2026", "file": _csv("code,rate,effective_start\nabc,1,2026-01-01\n")},
    )
    detail = web.get(response["Location"]).content.decode()
    assert 'data-testid="fee-schedule-errors"' in detail and "Runs still price with v1" in detail
    missing = web.post("/pricing/fee-schedules/", {"name": ""})
    assert missing.status_code == 400
    form = web.get("/pricing/runs/new/").content.decode()
    assert "Medi-Cal 2026 v1" in form and "Medicare physician fee schedule 2025" in form


@pytest.mark.django_db
def test_pages_do_not_grow_their_queries_with_schedules_and_versions(web, scope):
    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert web.get(url).status_code == 200
        return len(ctx.captured_queries)

    first = services.fee_schedule_upload(scope=scope, name="A", file=_csv(GOOD))
    detail = f"/pricing/fee-schedules/{first.schedule.public_id}/"
    before = count("/pricing/fee-schedules/"), count(detail)
    for name in ("B", "C"):
        services.fee_schedule_upload(scope=scope, name=name, file=_csv(GOOD))
    services.fee_schedule_upload(scope=scope, name="A", file=_csv(GOOD))
    assert (count("/pricing/fee-schedules/"), count(detail)) == before


@pytest.mark.django_db
def test_another_organisation_gets_404_and_read_only_roles_cannot_upload(scope, plan, member_of, api_for):
    version = services.fee_schedule_upload(scope=scope, name="Medi-Cal 2026", file=_csv(GOOD))
    schedule_id = version.schedule.public_id
    for user in (member_of(PayerFactory(), Role.ANALYST), member_of(ProviderFactory(), Role.ADMIN)):
        client = api_for(user)
        assert client.get(f"/api/v1/pricing/fee-schedules/{schedule_id}/").status_code == 404
        assert client.get(f"/api/v1/pricing/fee-schedules/{schedule_id}/versions/1/").status_code == 404
        web = Client()
        assert web.login(username=user.username, password=PASSWORD)
        assert web.get(f"/pricing/fee-schedules/{schedule_id}/").status_code == 404
    assert api_for(member_of(PayerFactory(), Role.ANALYST)).get("/api/v1/pricing/fee-schedules/").json() == []
    auditor = api_for(member_of(plan, Role.AUDITOR))
    assert auditor.get(f"/api/v1/pricing/fee-schedules/{schedule_id}/").status_code == 200
    response = auditor.post(
        "/api/v1/pricing/fee-schedules/", {"name": "X", "file": _csv(GOOD)}, format="multipart"
    )
    assert response.status_code == 403
    assert FeeScheduleVersion.objects.count() == 1


def test_rates_are_money_to_the_cent():
    read = _read("code,rate,effective_start\n99349,88.1,2026-01-01\n99350,7,2026-01-01\n")
    assert [Decimal(r["rate"]) for r in read.rows] == [Decimal("88.1"), Decimal("7")]
