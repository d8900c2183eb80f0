"""An 834 applied through the service as a stream: a big file, applied batch by batch after a second
read, ends exactly where the same files applied at once end; the size limit is the X12_MAX_BYTES
setting, for the reader and for the upload."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from enrollment import services
from enrollment.ingest import x12_834
from enrollment.ingest.x12_generate import make_834
from enrollment.models import EligibilityFile, EligibilitySpan, Member
from tests.enrollment.conftest import eligibility_upload

pytestmark = pytest.mark.django_db


def x12(members: list[list[str]], *, action: str = "2") -> bytes:
    """An 834 of the given member loops (each a list of segments after its INS's first elements)."""
    segs = [
        "ISA*00*          *00*          *ZZ*MCOPLAN        *ZZ*CAREBUNDLE     *260101*1200*^*00501*000000001*0*T*:",
        "GS*BE*MCOPLAN*CAREBUNDLE*20260101*1200*1*X*005010X220A1",
        "ST*834*0001*005010X220A1",
        f"BGN*00*ELIG*20260101*1200****{action}",
        "N1*P5*HEALTH PLAN*FI*123456789",
        "N1*IN*CAREBUNDLE*FI*987654321",
    ]
    for loop in members:
        segs += loop
    segs.append(f"SE*{len(segs) - 2 + 1}*0001")
    segs += ["GE*1*1", "IEA*1*000000001"]
    return ("~\n".join(segs) + "~\n").encode()


def member(mid, last, first, *, ins03="030", subscriber=True, start="20250101", end=None, hd03="HMO"):
    loop = [
        f"INS*{'Y' if subscriber else 'N'}*{'18' if subscriber else '19'}*{ins03}*XN*A",
        f"REF*0F*{mid}",
        f"NM1*IL*1*{last}*{first}****ZZ*{mid}",
        f"DMG*D8*19400101*{'F' if subscriber else 'M'}",
        f"HD*{ins03}**{hd03}*PALLIATIVE*IND",
    ]
    if start:
        loop.append(f"DTP*348*D8*{start}")
    if end:
        loop.append(f"DTP*349*D8*{end}")
    return loop


FILES = [
    # A full file (BGN08 4): a dependent sent with its subscriber's id does not overwrite the
    # subscriber's details, whether it comes after the subscriber or before.
    x12(
        [
            member("A1", "ONE", "ANA"),
            member("A2", "TWO", "BEN"),
            member("A2", "TWO", "KID", subscriber=False),
            member("A3", "THREE", "DEP", subscriber=False),
            member("A3", "THREE", "CARLA"),
            member("A4", "FOUR", "DORA", start="20250301", end="20251231"),
        ],
        action="4",
    ),
    # An update: additions, a change, terminations (one of a member added in the same file), a
    # reinstatement, a member with no start date (skipped).
    x12(
        [
            member("A5", "FIVE", "EVA", ins03="021", start="20250601"),
            member("A1", "ONE", "ANNA", ins03="001", start=""),
            member("A2", "TWO", "BEN", ins03="024", end="20250831"),
            member("A5", "FIVE", "EVA", ins03="024", start="", end="20250630"),
            member("A6", "SIX", "FAY", ins03="021", start="20250201", hd03="HLT"),
            member("A6", "SIX", "FAY", ins03="024", start="20250201", end=None),
            member("A2", "TWO", "BEN", ins03="025", start="20251001"),
            member("A7", "SEVEN", "GIL", ins03="021", start=""),
            member("A3", "THREE", "KIDDO", ins03="001", subscriber=False, start=""),
        ]
    ),
    # Every member sent as an audit (030) with BGN08 2: still a full file, which replaces the list.
    x12([member("A2", "TWO", "BENJAMIN"), member("A8", "EIGHT", "HAL", start="20250401")]),
]


def state(plan) -> tuple:
    spans = sorted(
        (s.member_id, s.start, s.end, s.lob, s.insurance_line, s.source_file.original_filename)
        for s in EligibilitySpan.objects.filter(payer=plan).select_related("source_file")
    )
    members = sorted(
        (
            m.member_id,
            m.last_name,
            m.first_name,
            m.birth_date,
            m.sex,
            m.market,
            m.source_file.original_filename,
        )
        for m in Member.objects.filter(payer=plan).select_related("source_file")
    )
    files = [
        (f.status, f.member_count, f.full_file, f.counts, f.acknowledgement, f.error_count, f.warning_count)
        for f in EligibilityFile.objects.filter(payer=plan).order_by("pk")
    ]
    return spans, members, files


def load_all(scope) -> None:
    for k, data in enumerate(FILES):
        record = services.eligibility_file_load(
            scope=scope, file=eligibility_upload(data, f"file{k}.834"), run_inline=True
        )
        assert record.status == "accepted", record.acknowledgement


def clear(plan) -> None:
    EligibilitySpan.objects.filter(payer=plan).delete()
    Member.objects.filter(payer=plan).delete()
    EligibilityFile.objects.filter(payer=plan).delete()


def test_a_big_file_applied_batch_by_batch_ends_as_the_file_applied_at_once(analyst_scope, plan, monkeypatch):
    load_all(analyst_scope)
    at_once = state(plan)
    assert at_once[2][0][3]["members"] == 4 and at_once[2][2][2] is True  # the third file is a full file
    clear(plan)
    reads = []
    parse = services.parse_834

    def counted(*args, **kwargs):
        reads.append(1)
        return parse(*args, **kwargs)

    # Every file is "big": read twice, its members applied one at a time.
    monkeypatch.setattr(services, "ELIGIBILITY_HELD_MEMBERS", 0)
    monkeypatch.setattr(services, "ELIGIBILITY_BATCH", 1)
    monkeypatch.setattr(services, "parse_834", counted)
    load_all(analyst_scope)
    assert len(reads) == 2 * len(FILES)
    assert state(plan) == at_once


def test_a_file_over_the_x12_limit_is_rejected_and_changes_nothing(analyst_scope, plan, settings):
    load_all(analyst_scope)
    before = state(plan)
    settings.X12_MAX_BYTES = len(FILES[0]) - 1
    record = services.eligibility_file_load(
        scope=analyst_scope, file=eligibility_upload(FILES[0], "big.834"), run_inline=True
    )
    assert record.status == "rejected"
    assert [e["code"] for e in record.acknowledgement["errors"]] == [x12_834.FILE_TOO_LARGE]
    assert record.acknowledgement["errors"][0]["message"] == (
        f"the file is {len(FILES[0]):,} bytes; the limit is {settings.X12_MAX_BYTES:,}"
    )
    spans, members, files = state(plan)
    assert (spans, members, files[:-1]) == before


def test_an_834_upload_may_be_as_big_as_the_x12_limit(analyst_api, settings):
    data = make_834(30)  # ~7.5 KB
    settings.MAX_UPLOAD_BYTES = 1000
    settings.X12_MAX_BYTES = 100_000
    post = analyst_api.post
    response = post(
        "/api/v1/eligibility-files/", {"file": SimpleUploadedFile("e.834", data)}, format="multipart"
    )
    assert response.status_code == 202, response.content
    # Any other upload keeps the general limit.
    other = post("/api/v1/bundles/import/", {"file": SimpleUploadedFile("b.json", data)}, format="multipart")
    assert other.status_code == 413 and other.json()["code"] == "upload_too_large"
    # And an 834 over the X12 limit is refused before it is read.
    settings.X12_MAX_BYTES = 5000
    response = post(
        "/api/v1/eligibility-files/", {"file": SimpleUploadedFile("e.834", data)}, format="multipart"
    )
    assert response.status_code == 413 and response.json()["details"]["limit_bytes"] == 5000
    # Its own limit, even when the general one is higher.
    settings.MAX_UPLOAD_BYTES = 1_000_000
    response = post(
        "/api/v1/eligibility-files/", {"file": SimpleUploadedFile("e.834", data)}, format="multipart"
    )
    assert response.status_code == 413 and response.json()["details"]["limit_bytes"] == 5000
