"""The zip of every active contract's rate sheets, built by a real Celery worker, with its progress
on the export row; and the same build run again gives the same zip."""

import io
import zipfile

import pytest

from contracts import services
from contracts.models import RateSheetExport, StoredRateSheet
from tests.factories import ProviderFactory


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


def test_an_export_over_its_soft_time_limit_fails_with_the_reason(
    db, active_contract, plan_scope, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    from contracts.services import rate_sheets
    from contracts.tasks import build_rate_sheet_export

    active_contract(markets=["URBAN"])
    export = RateSheetExport.objects.create(
        organization=plan_scope.organization, requested_by=plan_scope.user
    )

    def out_of_time(*args, **kwargs):
        raise SoftTimeLimitExceeded()  # what Celery raises in the task at its soft time limit

    monkeypatch.setattr(rate_sheets, "rate_sheet", out_of_time)
    result = build_rate_sheet_export.apply(args=[export.pk])
    assert isinstance(result.result, SoftTimeLimitExceeded)
    export.refresh_from_db()
    assert export.status == "failed" and export.finished_at and not export.content
    assert export.error == "Building the zip took longer than the limit of 30 minutes; ask for it again."
