"""The zip of every active contract's rate sheets: a bulk operation (core.bulk), one item per contract
rendering its sheets, and a completion hook assembling the zip. Built by a real Celery worker first; then
the items run here in the test process (the task's body), as in tests/payments/test_month_end.py.

Pinned here: one item per active contract, the zip byte for byte the one made contract by contract,
items and the hook idempotent, a failed contract reported and retried alone, the page and the API
(tenancy, permissions, constant query counts), and an old single-task message still building its zip."""

import io
import zipfile

import pytest
from django.utils import timezone

from accounts.models import Role
from contracts import services
from contracts.models import RateSheetExport, StoredRateSheet
from contracts.services import rate_sheets
from core import bulk
from core.domain.canonical import sha256_hex
from core.errors import PermissionDeniedError
from core.models import BulkItem
from tests.factories import PayerFactory, ProviderFactory
from tests.fixtures.contracts import scope_of


@pytest.mark.worker
def test_zip_of_all_active_rate_sheets_by_a_real_worker(
    transactional_db, celery_worker, wait_for, active_contract, open_contract, plan_cm, api_for
):
    contracts = [
        active_contract(markets=["URBAN"]),
        active_contract(markets=["URBAN"], provider_org=ProviderFactory()),
        active_contract(markets=["RURAL-N"]),
    ]
    draft = open_contract(markets=["RURAL-S"])
    api = api_for(plan_cm)
    started = api.post("/api/v1/contracts/rate-sheet-exports/")
    assert started.status_code == 202
    export_id = started.json()["id"]
    assert started.json()["status"] == "queued" and started.json()["download"] is None

    def finished():
        body = api.get(f"/api/v1/contracts/rate-sheet-exports/{export_id}/").json()
        return body if body["status"] in ("done", "failed") else None

    body = wait_for(finished, timeout=120)
    assert body["status"] == "done", body
    assert (body["done"], body["total"], body["percent"]) == (3, 3, 100)
    response = api.get(body["download"])
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    for contract in contracts:
        assert f"{contract.number}-v1-rate-sheet.pdf" in names
        assert archive.read(f"{contract.number}-v1-rate-sheet.pdf").startswith(b"%PDF")
    assert not any(draft.number in name for name in names)
    manifest = archive.read("manifest.csv").decode().splitlines()
    assert manifest[0] == "contract,version,file,sha256,fingerprint" and len(manifest) == 1 + 3 * 3
    assert StoredRateSheet.objects.count() == 9  # rendered once, stored for every later download
    assert api.get("/api/v1/contracts/rate-sheet-exports/").json()["results"][0]["id"] == export_id


def test_rebuilding_gives_the_same_zip(db, active_contract, plan_scope):
    active_contract(markets=["URBAN"])
    active_contract(markets=["RURAL-N"])
    first = RateSheetExport.objects.create(organization=plan_scope.organization, requested_by=plan_scope.user)
    second = RateSheetExport.objects.create(
        organization=plan_scope.organization, requested_by=plan_scope.user
    )
    one = services.rate_sheet_export_build(export_id=first.pk)
    two = services.rate_sheet_export_build(export_id=second.pk)
    assert one.sha256 == two.sha256 and bytes(one.content) == bytes(two.content)
    assert services.rate_sheet_export_build(export_id=first.pk).sha256 == one.sha256  # a done export is kept


def test_download_before_it_is_ready_says_so(db, plan_cm, api_for, plan_scope):
    export = RateSheetExport.objects.create(
        organization=plan_scope.organization, requested_by=plan_scope.user
    )
    response = api_for(plan_cm).get(f"/api/v1/contracts/rate-sheet-exports/{export.public_id}/download/")
    assert response.status_code == 409 and response.json()["code"] == "not_ready"


# --- spread over the workers: one bulk item per contract, the zip assembled when all are done ---------


@pytest.fixture
def sent(monkeypatch):
    """The item ids each start sends to the workers (a Celery group), recorded instead of sent."""
    batches: list[list[int]] = []
    monkeypatch.setattr(bulk, "_send", batches.append)
    return batches


def run_items(export) -> None:
    """What the workers do: every pending item's task body, in id order (the last closes the operation)."""
    export.refresh_from_db()
    for item_id in (
        export.operation.items.filter(status="pending").order_by("pk").values_list("pk", flat=True)
    ):
        bulk.bulk_item_run(item_id=item_id)
    export.refresh_from_db()


def zip_contract_by_contract(contracts) -> bytes:
    """The zip as the single task made it before: each contract's current sheets, one after another."""
    buffer = io.BytesIO()
    manifest = ["contract,version,file,sha256,fingerprint"]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for contract in sorted(contracts, key=lambda c: c.number):
            contract.refresh_from_db()
            version = contract.current_version
            stamp = (version.activated_at or version.created_at).astimezone(timezone.get_current_timezone())
            for fmt in ("pdf", "xlsx", "csv"):
                content, filename = services.rate_sheet(version=version, fmt=fmt)
                info = zipfile.ZipInfo(filename, date_time=stamp.timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, content)
                manifest.append(
                    f"{contract.number},{version.number},{filename},{sha256_hex(content)},{version.fingerprint}"
                )
        archive.writestr(
            zipfile.ZipInfo("manifest.csv", date_time=(2000, 1, 1, 0, 0, 0)), "\n".join(manifest) + "\n"
        )
    return buffer.getvalue()


@pytest.fixture
def two(active_contract):
    return [active_contract(markets=["URBAN"]), active_contract(markets=["RURAL-N"])]


def test_one_item_per_active_contract_and_the_zip_is_the_one_made_contract_by_contract(
    two, open_contract, plan_scope, sent, django_capture_on_commit_callbacks
):
    draft = open_contract(markets=["RURAL-S"])
    with django_capture_on_commit_callbacks(execute=True):
        export = services.rate_sheet_export_start(scope=plan_scope)
    assert export.status == "queued" and export.total == 2
    operation = export.operation
    assert operation.kind == "contracts.rate_sheets" and operation.params == {"export": str(export.public_id)}
    assert sorted(i.label for i in operation.items.all()) == sorted(c.number for c in two)
    assert sent == [list(operation.items.order_by("pk").values_list("pk", flat=True))]  # one group
    assert draft.pk not in operation.items.values_list("subject_id", flat=True)
    run_items(export)
    assert (export.status, export.done, export.total, export.percent) == ("done", 2, 2, 100)
    assert set(operation.items.values_list("status", flat=True)) == {"done"}
    assert StoredRateSheet.objects.count() == 6
    assert bytes(export.content) == zip_contract_by_contract(two)  # names, timestamps, manifest, bytes
    names = zipfile.ZipFile(io.BytesIO(bytes(export.content))).namelist()
    assert names[-1] == "manifest.csv" and len(names) == 7
    # Every export is an operation of its own, and the same contracts give the same zip.
    again = services.rate_sheet_export_start(scope=plan_scope)
    assert again.operation_id != operation.pk
    run_items(again)
    assert again.sha256 == export.sha256


def test_an_item_or_the_completion_hook_run_twice_gives_the_same_zip(two, plan_scope, sent):
    export = services.rate_sheet_export_start(scope=plan_scope)
    run_items(export)
    first = bytes(export.content)
    item = export.operation.items.first()
    bulk.bulk_item_run(item_id=item.pk)  # a duplicate delivery: left alone
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("done", 1)
    rate_sheets.rate_sheet_export_finish(export.operation)  # the hook again on a done export: kept
    RateSheetExport.objects.filter(pk=export.pk).update(status="running", content=None, sha256="")
    rate_sheets.rate_sheet_export_finish(export.operation)  # and assembled again: the same bytes
    export.refresh_from_db()
    assert export.status == "done" and bytes(export.content) == first
    assert StoredRateSheet.objects.count() == 6  # nothing rendered twice


def test_a_contract_that_fails_is_reported_and_retried_alone(
    two, plan_scope, sent, monkeypatch, django_capture_on_commit_callbacks
):
    good, bad = sorted(two, key=lambda c: c.number)
    real = rate_sheets.rate_sheet

    def broken(*, version, fmt):
        if version.contract_id == bad.pk:
            raise RuntimeError("the font is missing")
        return real(version=version, fmt=fmt)

    monkeypatch.setattr(rate_sheets, "rate_sheet", broken)
    export = services.rate_sheet_export_start(scope=plan_scope)
    run_items(export)
    failed = export.operation.items.get(subject_id=bad.pk)
    assert (failed.status, failed.message) == ("failed", "Stopped: RuntimeError: the font is missing")
    assert export.operation.items.get(subject_id=good.pk).status == "done"
    assert export.status == "failed" and not export.content and (export.done, export.total) == (1, 2)
    assert bad.number in export.error and good.number not in export.error
    assert export.error == (
        f"The rate sheets of 1 contract could not be made: {bad.number} "
        "(Stopped: RuntimeError: the font is missing). Retry them."
    )
    # Retried while still broken: only that contract, failed again.
    with django_capture_on_commit_callbacks(execute=True):
        queued = services.rate_sheet_export_retry_failed(scope=plan_scope, export=export)
    assert [i.pk for i in queued] == [failed.pk] and sent[-1] == [failed.pk]
    run_items(export)
    assert export.status == "failed"
    monkeypatch.setattr(rate_sheets, "rate_sheet", real)  # fixed
    services.rate_sheet_export_retry_failed(scope=plan_scope, export=export)
    export.refresh_from_db()
    assert export.status == "running" and export.error == ""
    run_items(export)
    assert (export.status, export.done, export.total) == ("done", 2, 2)
    assert {i.label: (i.status, i.attempts) for i in export.operation.items.all()} == {
        good.number: ("done", 1),
        bad.number: ("done", 3),
    }
    assert bytes(export.content) == zip_contract_by_contract(two)
    assert services.rate_sheet_export_retry_failed(scope=plan_scope, export=export) == []  # done: kept


def test_an_item_over_its_soft_time_limit_fails_with_the_reason(two, plan_scope, sent, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    def out_of_time(*args, **kwargs):
        raise SoftTimeLimitExceeded()  # what Celery raises in the task at its soft time limit

    monkeypatch.setattr(rate_sheets, "rate_sheet", out_of_time)
    export = services.rate_sheet_export_start(scope=plan_scope)
    run_items(export)
    messages = set(export.operation.items.values_list("message", flat=True))
    assert len(messages) == 1
    assert messages.pop().startswith("Rendering its rate sheets took longer than the limit of ")
    assert export.status == "failed" and not export.content


def test_a_queued_message_of_the_old_single_task_spreads_the_export(two, plan_scope, sent):
    from contracts.tasks import build_rate_sheet_export

    export = RateSheetExport.objects.create(
        organization=plan_scope.organization, requested_by=plan_scope.user
    )
    assert build_rate_sheet_export.apply(args=[export.pk]).result == "queued"
    export.refresh_from_db()
    assert export.operation.items.count() == 2 and export.total == 2
    run_items(export)
    assert export.status == "done" and bytes(export.content) == zip_contract_by_contract(two)


def test_no_active_contract_gives_a_zip_of_the_manifest_alone(plan_scope, sent):
    export = services.rate_sheet_export_start(scope=plan_scope)
    export.refresh_from_db()
    assert (export.status, export.total) == ("done", 0)
    archive = zipfile.ZipFile(io.BytesIO(bytes(export.content)))
    assert archive.namelist() == ["manifest.csv"]


# --- the page and the API -------------------------------------------------------------------------


def test_the_page_shows_each_contract_and_the_retry_button_when_one_failed(
    two, plan_scope, plan_cm, sent, monkeypatch, client
):
    good, bad = sorted(two, key=lambda c: c.number)
    real = rate_sheets.rate_sheet

    def broken(*, version, fmt):
        if version.contract_id == bad.pk:
            raise RuntimeError("boom")
        return real(version=version, fmt=fmt)

    monkeypatch.setattr(rate_sheets, "rate_sheet", broken)
    export = services.rate_sheet_export_start(scope=plan_scope)
    client.force_login(plan_cm)
    url = f"/contracts/rate-sheet-exports/{export.public_id}/"
    waiting = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="load delay:1s"' in waiting and waiting.count('data-testid="export-item"') == 2
    run_items(export)
    page = client.get(url).content.decode()
    assert page.count('data-testid="export-item"') == 2 and "Stopped: RuntimeError: boom" in page
    assert "Retry the failed contracts" in page and 'hx-trigger="load delay:1s"' not in page
    monkeypatch.setattr(rate_sheets, "rate_sheet", real)
    response = client.post(f"{url}retry/")
    assert response.status_code == 302 and response["Location"] == url
    run_items(export)
    page = client.get(url).content.decode()
    assert "Download the zip" in page and "Retry the failed contracts" not in page


def test_the_api_retries_a_failed_export(two, plan_scope, plan_cm, api_for, sent, monkeypatch):
    good, bad = sorted(two, key=lambda c: c.number)
    real = rate_sheets.rate_sheet

    def broken(*, version, fmt):
        if version.contract_id == bad.pk:
            raise RuntimeError("boom")
        return real(version=version, fmt=fmt)

    monkeypatch.setattr(rate_sheets, "rate_sheet", broken)
    api = api_for(plan_cm)
    started = api.post("/api/v1/contracts/rate-sheet-exports/")
    assert started.status_code == 202 and started.json()["status"] == "queued"
    export = RateSheetExport.objects.get(public_id=started.json()["id"])
    url = f"/api/v1/contracts/rate-sheet-exports/{export.public_id}/"
    assert api.get(url).json()["done"] == 0
    run_items(export)
    body = api.get(url).json()
    assert (body["status"], body["done"], body["total"], body["download"]) == ("failed", 1, 2, None)
    assert bad.number in body["error"]
    monkeypatch.setattr(rate_sheets, "rate_sheet", real)
    retried = api.post(f"{url}retry/")
    assert retried.status_code == 202 and retried.json()["status"] == "running"
    run_items(export)
    body = api.get(url).json()
    assert (body["status"], body["done"], body["percent"]) == ("done", 2, 100) and body["download"]


def test_another_plan_gets_404_and_providers_and_read_only_roles_may_not_start_or_retry(
    two, plan, plan_scope, member_of, api_for, sent, client, provider_admin
):
    export = services.rate_sheet_export_start(scope=plan_scope)
    run_items(export)
    RateSheetExport.objects.filter(pk=export.pk).update(status="failed")
    page = f"/contracts/rate-sheet-exports/{export.public_id}/"
    api_url = f"/api/v1/contracts/rate-sheet-exports/{export.public_id}/"
    stranger = member_of(PayerFactory(), Role.CONTRACT_MANAGER)
    api = api_for(stranger)
    assert api.get(api_url).status_code == 404
    assert api.post(f"{api_url}retry/").status_code == 404
    client.force_login(stranger)
    assert client.get(page).status_code == 404
    assert client.post(f"{page}retry/").status_code == 404
    for user in (member_of(plan, Role.AUDITOR), member_of(plan, Role.ANALYST)):
        api = api_for(user)
        assert api.post("/api/v1/contracts/rate-sheet-exports/").status_code == 403
        assert api.post(f"{api_url}retry/").status_code == 403
        client.force_login(user)
        assert client.post(f"{page}retry/").status_code == 403
        with pytest.raises(PermissionDeniedError):
            services.rate_sheet_export_retry_failed(scope=scope_of(user, plan), export=export)
    api = api_for(provider_admin)
    assert api.post("/api/v1/contracts/rate-sheet-exports/").status_code == 403
    assert api.post(f"{api_url}retry/").status_code == 404  # not theirs
    assert RateSheetExport.objects.count() == 1 and BulkItem.objects.exclude(attempts=1).count() == 0


def test_export_pages_and_endpoints_take_a_constant_number_of_queries(
    active_contract, plan_scope, plan_cm, api_for, sent, client, django_assert_max_num_queries
):
    active_contract(markets=["URBAN"])
    first = services.rate_sheet_export_start(scope=plan_scope)
    run_items(first)
    client.force_login(plan_cm)
    api = api_for(plan_cm)
    urls = {
        "page list": "/contracts/rate-sheet-exports/",
        "page detail": f"/contracts/rate-sheet-exports/{first.public_id}/",
        "api list": "/api/v1/contracts/rate-sheet-exports/",
        "api detail": f"/api/v1/contracts/rate-sheet-exports/{first.public_id}/",
    }
    counts = {}
    for name, url in urls.items():
        get = api.get if name.startswith("api") else client.get
        with django_assert_max_num_queries(25) as captured:
            assert get(url).status_code == 200
        counts[name] = len(captured)
    active_contract(markets=["RURAL-N"])
    active_contract(markets=["RURAL-S"])
    last = services.rate_sheet_export_start(scope=plan_scope)  # running: two more contracts
    services.rate_sheet_export_start(scope=plan_scope)
    for key in ("page detail", "api detail"):
        urls[key] = urls[key].replace(str(first.public_id), str(last.public_id))
    for name, url in urls.items():
        get = api.get if name.startswith("api") else client.get
        with django_assert_max_num_queries(counts[name]):
            assert get(url).status_code == 200


def test_a_zip_that_cannot_be_assembled_fails_the_export_and_a_retry_assembles_it(
    two, plan_scope, plan_cm, api_for, sent, monkeypatch
):
    real = rate_sheets.rate_sheet_zip

    def broken(versions):
        raise OSError("no space left on device")

    monkeypatch.setattr(rate_sheets, "rate_sheet_zip", broken)
    export = services.rate_sheet_export_start(scope=plan_scope)
    run_items(export)
    api = api_for(plan_cm)
    url = f"/api/v1/contracts/rate-sheet-exports/{export.public_id}/"
    body = api.get(url).json()
    assert body["status"] == "failed" and body["download"] is None
    assert body["error"] == "Finishing stopped: OSError: no space left on device"
    monkeypatch.setattr(rate_sheets, "rate_sheet_zip", real)
    assert api.post(f"{url}retry/").status_code == 202  # no contract failed: the zip is assembled again
    body = api.get(url).json()
    assert body["status"] == "done" and body["error"] == ""
    assert set(export.operation.items.values_list("attempts", flat=True)) == {1}  # nothing rendered again
