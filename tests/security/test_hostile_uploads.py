"""Hostile uploads, through the real endpoints: every upload refuses each hostile file with a clear
error and writes nothing of it; and uploaded text is never exported as a live spreadsheet formula.

Each upload endpoint (roster and assessments, the plan's 834, pricing experience, utilisation, the
JSON imports of bundles and assumption sets, and the roster upload page) gets each hostile input
that applies to it: XLSX zip bombs (a sheet that inflates to hundreds of MB, a sheet that declares
16,384 columns by 1,048,576 rows, an XML entity bomb), a corrupt workbook, random bytes named
``.csv`` and ``.xlsx``, a Latin-1 CSV, an empty file, a header-only file, a truncated 834 and a
body over the upload limit. The answer is a 4xx with the error body ``{code, message, details}``
(or, for the roster and the 834, which are processed as a job, a 202 whose job is ``rejected``
with its errors); never a 5xx, never a crash of the reader caught as ``processing_failed``; and
no row of the file is stored: a rejected upload record may be kept (that is the design), its rows
never are.

Decisions pinned here:

- A Latin-1 CSV is refused with a message that names UTF-8 (the readers never guess an encoding:
  docs/formats.md says files are UTF-8; the 834 alone is read as Latin-1 with a warning, see
  tests/enrollment/test_x12_834_reader.py). A UTF-8 BOM is accepted everywhere.
- Uploaded text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is data
  (a roster with such a name is accepted) and every CSV/XLSX the platform writes prefixes it with
  ``'`` (``core.exports.safe_cell``); numbers, negative amounts included, stay numbers.

Uploads are parsed in the request when small (``UPLOAD_SYNC_MAX_BYTES``), by a worker otherwise; the
limit is raised here so that the compressed bombs (under 1 MB) are parsed in the request too; the
worker runs the same services (tests/enrollment/test_enrollment_worker.py,
tests/security/test_probe_findings_a.py).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import random
import signal
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Role
from bundles.demo import home_based_definition
from bundles.models import Bundle, Market
from core.exports import safe_cell
from core.middleware import TOO_LARGE_MESSAGE, human_size
from enrollment.ingest import x12_834
from enrollment.ingest.roster import ASSESSMENT_COLUMNS, ROSTER_COLUMNS
from enrollment.models import (
    Assessment,
    EligibilityFile,
    EligibilitySpan,
    Member,
    MemberMonth,
    RosterEntry,
    RosterSubmission,
)
from payments import services as payment_services
from performance.ingest import COLUMNS as UTILIZATION_COLUMNS
from performance.models import UtilizationRow, UtilizationUpload
from pricing.experience import EXPERIENCE_COLUMNS
from pricing.models import AssumptionSet, ExperienceDataset
from tests.enrollment.conftest import (
    MONTH,
    assessment_row,
    make_834,
    make_active_contract,
    roster_row,
)
from tests.factories import PASSWORD
from tests.fixtures.contracts import csv_bytes, scope_of, second_scope

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://x","y")'
REQUEST_SECONDS = 20  # a hostile file must be refused quickly: a reader that churns through a bomb fails


# --------------------------------------------------------------------------- fixtures
# (the plan, its bundle and the users of each side come from tests/fixtures/contracts.py)
@pytest.fixture(autouse=True)
def _files_and_inline_processing(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_SYNC_MAX_BYTES = 64 * 1024 * 1024


@pytest.fixture
def contract(plan_scope, provider, provider_admin, bundle_version):
    return make_active_contract(
        plan_scope=plan_scope, provider=provider, provider_admin=provider_admin, bundle_version=bundle_version
    )


# --------------------------------------------------------------------------- a time limit per request
class _TooSlow(BaseException):
    """Raised by the alarm: a BaseException, so no ``except Exception`` in the app turns it into an answer."""


@contextlib.contextmanager
def time_limit(seconds: int, what: str):
    def alarm(signum, frame):
        raise _TooSlow(
            f"{what} took more than {seconds}s: the reader churns through the hostile file "
            "instead of refusing it"
        )

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- building hostile files
def table_csv(columns, rows, *, bom: bool = False, encoding: str = "utf-8") -> bytes:
    return csv_bytes(rows, columns, bom=bom, encoding=encoding, extrasaction="ignore")


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _header_row(columns) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return '<row r="1">' + "".join(_cell(f"{letters[i]}1", c) for i, c in enumerate(columns)) + "</row>"


SHEET_OPEN = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def xlsx_with_sheet(chunks) -> bytes:
    """A real workbook (written by openpyxl) whose first sheet's XML is replaced by ``chunks`` (bytes)."""
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(plain.getvalue())) as source,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for info in source.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                with target.open(info.filename, "w", force_zip64=True) as sheet:
                    for chunk in chunks:
                        sheet.write(chunk)
            else:
                target.writestr(info.filename, source.read(info.filename))
    return out.getvalue()


_BOMBS: dict[tuple[str, tuple[str, ...]], bytes] = {}


def inflating_bomb(columns) -> bytes:
    """A header row, then empty rows that inflate the sheet XML to 600 MB: under 1 MB on the wire."""
    key = ("inflate", tuple(columns))
    if key not in _BOMBS:
        block = b"<row/>" * (1 << 20)

        def chunks():
            yield (SHEET_OPEN + "<sheetData>" + _header_row(columns)).encode()
            for _ in range(100):
                yield block
            yield b"</sheetData></worksheet>"

        _BOMBS[key] = xlsx_with_sheet(chunks())
    return _BOMBS[key]


def dimension_bomb(columns) -> bytes:
    """A sheet that declares A1:XFD1048576 and has a cell in its very last row and column: a reader that
    trusts the dimension builds a million rows of 16,384 cells."""
    xml = (
        SHEET_OPEN
        + '<dimension ref="A1:XFD1048576"/><sheetData>'
        + _header_row(columns)
        + '<row r="1048576">'
        + _cell("XFD1048576", "x")
        + "</row></sheetData></worksheet>"
    )
    return xlsx_with_sheet([xml.encode()])


def entity_bomb(columns) -> bytes:
    """Billion laughs in the sheet XML."""
    entities = '<!ENTITY a0 "hahahahahahahahahahahahahahahahahahaha">' + "".join(
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<!DOCTYPE worksheet [{entities}]>"
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + _header_row(columns)
        + '<row r="2">'
        + _cell("A2", "&a9;")
        + "</row></sheetData></worksheet>"
    )
    return xlsx_with_sheet([xml.encode()])


def corrupt_xlsx(columns) -> bytes:
    """A workbook whose sheet XML stops in the middle of the second row."""
    xml = SHEET_OPEN + "<sheetData>" + _header_row(columns) + '<row r="2"><c r="A2" t="inlineStr"><is><t>M0'
    return xlsx_with_sheet([xml.encode()])


def garbage(n: int = 4096, seed: int = 834) -> bytes:
    return random.Random(seed).randbytes(n)


def truncated_834() -> bytes:
    from enrollment.calc import add_months

    data = make_834(
        [
            ("M001", "GARCIA", "ANA", "19400517", add_months(MONTH, -3), None),
            ("M002", "LEE", "BO", "19410101", add_months(MONTH, -3), None),
        ]
    )
    cut = data.index(b"REF*0F*M002") + 5  # in the middle of the second member's REF segment
    return data[:cut]


# --------------------------------------------------------------------------- the endpoints
@dataclass
class Outcome:
    status: int
    body: dict
    verdict: str = ""  # for the processed jobs: accepted / rejected / processing
    errors: list[dict] = field(default_factory=list)


def _json(response) -> dict:
    try:
        return response.json()
    except (ValueError, TypeError):
        return {}


GOOD_ROWS = {
    "roster": [roster_row("M001", last_name="Müller", first_name="José"), roster_row("M002", tier="2")],
    "assessments": [assessment_row("M001", last_name="Müller", first_name="José")],
    "utilisation": [
        {
            "member_id": "M001",
            "month": MONTH.isoformat(),
            "ed_visits": "1",
            "inpatient_admissions": "0",
            "icu_admissions": "0",
            "discharges": "0",
            "readmissions_30d": "0",
            "tcoc_amount": "1234.50",
            "satisfaction_score": "",
            "death_place": "",
            "note": "Señora Núñez",
        }
    ],
    "experience": [
        {
            "month": f"{MONTH:%Y-%m}",
            "tier": "1",
            "member_months": "12",
            "cost": "4321.00",
            "note": "Clínica São José",
        }
    ],
}
COLUMNS = {
    "roster": ROSTER_COLUMNS,
    "assessments": ASSESSMENT_COLUMNS,
    "utilisation": (*UTILIZATION_COLUMNS, "note"),
    "experience": (*EXPERIENCE_COLUMNS, "note"),
}


class Endpoints:
    def __init__(self, contract, provider_api, analyst_api):
        self.contract, self.provider_api, self.analyst_api = contract, provider_api, analyst_api

    def post(self, target: str, name: str, content: bytes) -> Outcome:
        with time_limit(REQUEST_SECONDS, f"the {target} upload of {name}"):
            return getattr(self, f"_{target}")(SimpleUploadedFile(name, content))

    def _roster_job(self, data) -> Outcome:
        response = self.provider_api.post(
            f"/api/v1/contracts/{self.contract.public_id}/rosters/", data, format="multipart"
        )
        body = _json(response)
        if response.status_code != 202:
            return Outcome(response.status_code, body)
        detail = self.provider_api.get(body["status_url"]).json()
        return Outcome(202, body, detail["status"], detail["errors"])

    def _roster(self, upload) -> Outcome:
        return self._roster_job({"month": f"{MONTH:%Y-%m}", "file": upload})

    def _assessments(self, upload) -> Outcome:
        good = SimpleUploadedFile("roster.csv", table_csv(ROSTER_COLUMNS, GOOD_ROWS["roster"]))
        return self._roster_job({"month": f"{MONTH:%Y-%m}", "file": good, "assessments": upload})

    def _eligibility(self, upload) -> Outcome:
        response = self.analyst_api.post("/api/v1/eligibility-files/", {"file": upload}, format="multipart")
        body = _json(response)
        if response.status_code != 202:
            return Outcome(response.status_code, body)
        ack = self.analyst_api.get(body["acknowledgement_url"]).json()
        return Outcome(202, body, ack["status"], ack["errors"])

    def _experience(self, upload) -> Outcome:
        response = self.analyst_api.post(
            "/api/v1/pricing/experience/", {"name": "hostile", "file": upload}, format="multipart"
        )
        return Outcome(response.status_code, _json(response))

    def _utilisation(self, upload) -> Outcome:
        response = self.analyst_api.post("/api/v1/performance/uploads/", {"file": upload}, format="multipart")
        return Outcome(response.status_code, _json(response))


@pytest.fixture
def endpoints(contract, provider_api, analyst_api):
    return Endpoints(contract, provider_api, analyst_api)


def stored_rows() -> dict[str, int]:
    """Rows a file's content would create (upload records themselves may be kept as rejected)."""
    return {
        "RosterEntry": RosterEntry.objects.count(),
        "MemberMonth": MemberMonth.objects.count(),
        "Assessment": Assessment.objects.count(),
        "accepted RosterSubmission": RosterSubmission.objects.filter(status="accepted").count(),
        "Member": Member.objects.count(),
        "EligibilitySpan": EligibilitySpan.objects.count(),
        "accepted EligibilityFile": EligibilityFile.objects.filter(status="accepted").count(),
        "UtilizationRow": UtilizationRow.objects.count(),
        "accepted UtilizationUpload": UtilizationUpload.objects.filter(status="accepted").count(),
        "valid ExperienceDataset": ExperienceDataset.objects.filter(status="valid").count(),
        "Bundle": Bundle.objects.count(),
        "AssumptionSet": AssumptionSet.objects.count(),
    }


def assert_error_body(outcome: Outcome) -> str:
    body = outcome.body
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] and body["code"] != "server_error", body
    assert isinstance(body["message"], str) and len(body["message"]) > 10, body
    return body["message"] + " " + json.dumps(body["details"], ensure_ascii=False)


def assert_refused(outcome: Outcome) -> str:
    """4xx with the error body, or a job rejected with its errors; returns the text a person reads."""
    assert outcome.status < 500, (outcome.status, outcome.body)
    if outcome.status == 202:
        assert outcome.verdict == "rejected", (outcome.verdict, outcome.errors)
        assert outcome.errors, "a rejected job lists its errors"
        for error in outcome.errors:
            assert error["message"] and len(error["message"]) > 10, error
            # the service's catch-all: the reader crashed instead of refusing the file
            assert error["code"] != "processing_failed", error
        return " ".join(e["message"] for e in outcome.errors)
    assert 400 <= outcome.status < 500, (outcome.status, outcome.body)
    text = assert_error_body(outcome)
    assert "processing_failed" not in text and "Traceback" not in text, text
    return text


# --------------------------------------------------------------------------- the hostile inputs
TABULAR = ("roster", "assessments", "utilisation", "experience")
ALL = (*TABULAR, "eligibility")


def _latin1(target: str) -> tuple[str, bytes]:
    return f"{target}.csv", table_csv(COLUMNS[target], GOOD_ROWS[target], encoding="latin-1")


HOSTILE = {
    # name: (targets, build(target) -> (filename, bytes), words one of which the message must contain)
    "xlsx_inflating_bomb": (TABULAR, lambda t: (f"{t}.xlsx", inflating_bomb(COLUMNS[t])), ()),
    "xlsx_dimension_bomb": (TABULAR, lambda t: (f"{t}.xlsx", dimension_bomb(COLUMNS[t])), ()),
    "xlsx_entity_bomb": (TABULAR, lambda t: (f"{t}.xlsx", entity_bomb(COLUMNS[t])), ()),
    "xlsx_corrupt": (TABULAR, lambda t: (f"{t}.xlsx", corrupt_xlsx(COLUMNS[t])), ()),
    "garbage_named_csv": (ALL, lambda t: (f"{t}.csv", garbage()), ()),
    "garbage_named_xlsx": (ALL, lambda t: (f"{t}.xlsx", garbage(seed=1)), ()),
    "garbage_zip_header": (ALL, lambda t: (f"{t}.xlsx", b"PK\x03\x04" + garbage(seed=2)), ()),
    "latin1_csv": (TABULAR, _latin1, ("UTF-8",)),
    "empty_file": (ALL, lambda t: (f"{t}.csv", b""), ("empty",)),
    "blank_lines_only": (ALL, lambda t: (f"{t}.csv", b"\r\n \r\n\r\n"), ()),
    "header_only": (TABULAR, lambda t: (f"{t}.csv", table_csv(COLUMNS[t], [])), ("no data", "empty")),
    "header_only_xlsx": (
        ("roster", "utilisation"),
        lambda t: (
            f"{t}.xlsx",
            xlsx_with_sheet(
                [(SHEET_OPEN + "<sheetData>" + _header_row(COLUMNS[t]) + "</sheetData></worksheet>").encode()]
            ),
        ),
        ("no data", "empty"),
    ),
    "json_deeply_nested": (
        ("roster", "assessments"),
        lambda t: (f"{t}.json", b"[" * 100_000 + b"]" * 100_000),
        ("nested",),
    ),
    "json_not_records": (("roster",), lambda t: (f"{t}.json", b'{"rows": "nope"}'), ()),
    "truncated_834": (("eligibility",), lambda t: ("eligibility.834", truncated_834()), ()),
    "not_x12": (("eligibility",), lambda t: ("eligibility.834", b"member_id,last_name\nM001,GARCIA\n"), ()),
}
CASES = [
    pytest.param(target, name, id=f"{name}-{target}")
    for name, (targets, _, _) in HOSTILE.items()
    for target in targets
]


@pytest.mark.parametrize(("target", "hostile"), CASES)
def test_each_hostile_file_is_refused_with_a_clear_error_and_nothing_stored(endpoints, target, hostile):
    _targets, build, words = HOSTILE[hostile]
    filename, content = build(target)
    before = stored_rows()
    outcome = endpoints.post(target, filename, content)
    text = assert_refused(outcome)
    if words:
        assert any(w.lower() in text.lower() for w in words), text
    assert stored_rows() == before


def test_a_bomb_is_small_on_the_wire_and_huge_inflated():
    data = inflating_bomb(ROSTER_COLUMNS)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        inflated = sum(i.file_size for i in archive.infolist())
    assert len(data) < 1024 * 1024 and inflated > 600 * 1000 * 1000


def test_every_cut_of_an_834_is_refused_by_the_reader_without_an_exception():
    data = truncated_834()
    whole = make_834([("M001", "GARCIA", "ANA", "19400517", MONTH, None)])
    for cut in range(0, len(whole), 7):
        result = x12_834.parse_834(whole[:cut])
        assert not result.accepted and result.errors, cut
    assert not x12_834.parse_834(data).accepted


# --------------------------------------------------------------------------- a UTF-8 BOM is welcome
@pytest.mark.parametrize("target", ["roster", "utilisation", "experience"])
def test_a_csv_with_a_utf8_bom_is_accepted(endpoints, target):
    content = table_csv(COLUMNS[target], GOOD_ROWS[target], bom=True)
    outcome = endpoints.post(target, f"{target}.csv", content)
    if target == "roster":
        assert outcome.status == 202 and outcome.verdict == "accepted", outcome.errors
        assert RosterEntry.objects.filter(last_name="Müller", first_name="José").count() == 1
    else:
        assert outcome.status == 201, outcome.body
    if target == "utilisation":
        assert UtilizationRow.objects.count() == 1
    if target == "experience":
        assert ExperienceDataset.objects.get().status == "valid"


# --------------------------------------------------------------------------- the size limit
@pytest.mark.parametrize("target", ALL)
def test_an_upload_over_the_configured_limit_is_413_with_a_clear_message(endpoints, settings, target):
    settings.MAX_UPLOAD_BYTES = 10_000
    settings.X12_MAX_BYTES = 10_000  # the 834's own limit (2 GB by default: it is read as a stream)
    before = stored_rows()
    counts = (
        RosterSubmission.objects.count(),
        EligibilityFile.objects.count(),
        UtilizationUpload.objects.count(),
        ExperienceDataset.objects.count(),
    )
    outcome = endpoints.post(target, f"{target}.csv", b"x" * 20_000)
    assert outcome.status == 413
    text = assert_error_body(outcome)
    assert outcome.body["code"] == "upload_too_large"
    assert outcome.body["message"] == TOO_LARGE_MESSAGE.format(limit="9.8 KB") and "9.8 KB" in text
    assert outcome.body["details"] == {"limit_bytes": 10_000}
    assert stored_rows() == before
    assert (
        RosterSubmission.objects.count(),
        EligibilityFile.objects.count(),
        UtilizationUpload.objects.count(),
        ExperienceDataset.objects.count(),
    ) == counts  # refused before anything is kept


def test_the_limit_reads_as_a_person_reads_sizes():
    assert [human_size(n) for n in (200 * 1024 * 1024, 1536 * 1024, 10_000, 900, 3 * 1024**3)] == [
        "200 MB",
        "1.5 MB",
        "9.8 KB",
        "900 bytes",
        "3 GB",
    ]


# --------------------------------------------------------------------------- the JSON imports
JSON_IMPORTS = {"bundle": "/api/v1/bundles/import/", "assumptions": "/api/v1/pricing/assumption-sets/import/"}
JSON_HOSTILE = {
    "garbage": garbage(),
    "latin1": json.dumps(
        {"format": "carebundle.pricing/1", "bundle": {"name": "Señora"}}, ensure_ascii=False
    ).encode("latin-1"),
    "empty": b"",
    "not_an_object": b"[1, 2, 3]",
    "a_string": b'"hello"',
    "deeply_nested": b"[" * 100_000 + b"]" * 100_000,
    "huge_number": b'{"format": 1' + b"0" * 5000 + b"}",
    "truncated": json.dumps({"format": "carebundle.pricing/1", "bundle": home_based_definition()}).encode()[
        :300
    ],
}


@pytest.mark.parametrize("target", list(JSON_IMPORTS))
@pytest.mark.parametrize("hostile", list(JSON_HOSTILE))
def test_json_imports_refuse_hostile_bodies_with_the_error_body(analyst_api, target, hostile):
    before = stored_rows()
    with time_limit(REQUEST_SECONDS, f"the {target} import"):
        response = analyst_api.generic(
            "POST", JSON_IMPORTS[target], JSON_HOSTILE[hostile], content_type="application/json"
        )
    outcome = Outcome(response.status_code, _json(response))
    assert_refused(outcome)
    assert stored_rows() == before


@pytest.mark.parametrize("target", list(JSON_IMPORTS))
def test_json_imports_refuse_a_multipart_file_with_the_error_body(analyst_api, target):
    before = stored_rows()
    response = analyst_api.post(
        JSON_IMPORTS[target], {"file": SimpleUploadedFile("bundle.json", garbage())}, format="multipart"
    )
    assert_refused(Outcome(response.status_code, _json(response)))
    assert stored_rows() == before


@pytest.mark.parametrize("target", list(JSON_IMPORTS))
def test_json_imports_over_the_limit_are_413(analyst_api, settings, target):
    settings.MAX_UPLOAD_BYTES = 10_000
    response = analyst_api.generic(
        "POST", JSON_IMPORTS[target], b" " * 20_000, content_type="application/json"
    )
    assert response.status_code == 413 and response.json()["code"] == "upload_too_large"


# --------------------------------------------------------------------------- the roster upload page
@pytest.fixture
def provider_browser(provider_admin):
    client = Client()
    assert client.login(username=provider_admin.username, password=PASSWORD)
    return client


WEB_CASES = [
    "xlsx_inflating_bomb",
    "xlsx_dimension_bomb",
    "xlsx_corrupt",
    "garbage_named_csv",
    "garbage_named_xlsx",
    "latin1_csv",
    "empty_file",
    "header_only",
]


@pytest.mark.parametrize("hostile", WEB_CASES)
def test_the_roster_page_refuses_each_hostile_file_with_a_message(provider_browser, contract, hostile):
    filename, content = HOSTILE[hostile][1]("roster")
    before = stored_rows()
    with time_limit(REQUEST_SECONDS, "the roster page"):
        response = provider_browser.post(
            "/rosters/",
            {
                "contract": str(contract.public_id),
                "month": f"{MONTH:%Y-%m}",
                "file": SimpleUploadedFile(filename, content),
            },
            follow=True,
        )
    assert response.status_code < 500
    page = response.content.decode()
    if response.redirect_chain:  # kept as a rejected version: the page says so and lists the errors
        assert response.status_code == 200
        assert "Roster rejected" in page, page[:2000]
        submission = RosterSubmission.objects.get()
        assert submission.status == "rejected"
        assert not submission.issues.filter(code="processing_failed").exists()
    else:  # refused by the form (an empty file): the form shows why
        assert response.status_code == 400
        assert "empty" in page.lower()
    assert stored_rows() == before


def test_the_roster_page_answers_413_over_the_limit(provider_browser, contract, settings):
    settings.MAX_UPLOAD_BYTES = 10_000
    response = provider_browser.post(
        "/rosters/",
        {
            "contract": str(contract.public_id),
            "month": f"{MONTH:%Y-%m}",
            "file": SimpleUploadedFile("roster.csv", b"x" * 20_000),
        },
    )
    assert response.status_code == 413
    assert TOO_LARGE_MESSAGE.format(limit="9.8 KB") in response.content.decode()
    assert not RosterSubmission.objects.exists()


# --------------------------------------------------------------------------- formula injection
def _csv_cells(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


INJECTIONS = {  # member: (last name as uploaded, the statement's cell)
    "M001": (FORMULA, "'" + FORMULA),
    "M002": ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    "M003": ("-2+3", "'-2+3"),
    "M004": ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    "M005": ("\t=1+1", "'=1+1"),  # the reader strips the tab; what is left is still a formula
    "M006": ('GARCIA\r=HYPERLINK("http://x","y")', 'GARCIA\n=HYPERLINK("http://x","y")'),  # quoted, one cell
    "M007": ("O'BRIEN", "O'BRIEN"),
}


def test_a_formula_in_a_member_name_is_data_and_is_neutralised_in_the_payment_statement(
    endpoints, contract, analyst_api, plan, plan_analyst, provider_api
):
    rows = [roster_row(member_id, last_name=last) for member_id, (last, _) in INJECTIONS.items()]
    rows.append(roster_row("M008", first_name="-"))
    outcome = endpoints.post("roster", "roster.json", json.dumps(rows).encode())
    assert outcome.status == 202 and outcome.verdict == "accepted", outcome.errors
    assert RosterEntry.objects.filter(last_name=FORMULA).exists()  # stored as sent: it is data

    scope = scope_of(plan_analyst, plan)
    run, _ = payment_services.payment_run_start(scope=scope, contract=contract, month=MONTH, enqueue=False)
    payment_services.payment_run_calculate(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "review", run.error
    run = payment_services.payment_run_approve(scope=second_scope(scope), run=run)
    for api in (analyst_api, provider_api):
        response = api.get(f"/api/v1/payment-runs/{run.public_id}/statement.csv")
        assert response.status_code == 200
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"\r" not in content  # a bare carriage return would start a row of its own in a spreadsheet
        table = _csv_cells(content)
        header, lines = table[0], table[1:]
        column = header.index
        members = [line for line in lines if line[column("member_id")]]
        last = {line[column("member_id")]: line[column("last_name")] for line in members}
        assert {m: last[m] for m in INJECTIONS} == {m: cell for m, (_, cell) in INJECTIONS.items()}
        assert {line[column("first_name")] for line in members if line[column("member_id")] == "M008"} == {
            "'-"
        }
        amounts = [line[column("amount")] for line in lines]
        assert amounts and all(_is_number(a) for a in amounts)  # amounts are plain numbers, never prefixed
        assert not any(_is_formula(cell) for line in lines for cell in line)


def _is_formula(cell: str) -> bool:
    return cell.startswith(("=", "+", "@", "\t", "\r")) or (cell.startswith("-") and not _is_number(cell))


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def test_formulas_in_a_rejected_roster_are_neutralised_in_its_error_report(endpoints, provider_browser):
    header = [*ROSTER_COLUMNS, FORMULA]  # an unknown column: reported (a warning) under its own name
    rows = [
        {**roster_row("M001"), FORMULA: "x", "tier": "@SUM(1+1)"},
        {**roster_row("M002"), "member_id": "-1+1"},
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    outcome = endpoints.post("roster", "roster.csv", out.getvalue().encode())
    assert outcome.status == 202 and outcome.verdict == "rejected"
    submission = RosterSubmission.objects.get()
    response = provider_browser.get(f"/rosters/{submission.public_id}/errors.csv")
    assert response.status_code == 200
    table = _csv_cells(b"".join(response.streaming_content))
    assert table[0] == ["severity", "file", "row", "column", "code", "message"]
    cells = [cell for line in table[1:] for cell in line]
    assert "'" + FORMULA in cells  # the unknown column's name
    assert not any(_is_formula(cell) for cell in cells)


def test_formulas_in_names_are_neutralised_in_the_rate_sheets(
    plan, member_of, provider, provider_admin, bundle_version, analyst_api
):
    Market.objects.filter(organization=plan, code="URBAN").update(name=FORMULA)
    provider.legal_name = provider.short_name = "@evil provider"
    provider.save(update_fields=["legal_name", "short_name"])
    plan_scope = scope_of(member_of(plan, Role.CONTRACT_MANAGER), plan)
    contract = make_active_contract(
        plan_scope=plan_scope, provider=provider, provider_admin=provider_admin, bundle_version=bundle_version
    )
    response = analyst_api.get(f"/api/v1/contracts/{contract.public_id}/rate-sheet.csv")
    assert response.status_code == 200, response.content[:500]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    table = _csv_cells(content)
    header = table[0]
    names = {
        line[header.index("market_name")] for line in table[1:] if line[header.index("market")] == "URBAN"
    }
    assert names == {"'" + FORMULA}
    assert not any(_is_formula(cell) for line in table[1:] for cell in line)

    response = analyst_api.get(f"/api/v1/contracts/{contract.public_id}/rate-sheet.xlsx")
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    book = openpyxl.load_workbook(io.BytesIO(content))
    cells = [
        cell
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.value is not None
    ]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "no cell is a formula"
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert "'" + FORMULA in texts and "'@evil provider" in texts
    pmpm = [c.value for c in book["Rates"]["H"][1:]]
    assert pmpm and all(isinstance(v, int | float) for v in pmpm)  # numbers are numeric cells


def test_safe_cell_prefixes_formulas_and_leaves_numbers_alone():
    assert [safe_cell(v) for v in (FORMULA, "+x", "-x", "@x", "\tx", "\rx", "-", "a=b", "", "O'Brien")] == [
        "'" + FORMULA,
        "'+x",
        "'-x",
        "'@x",
        "'\tx",
        "'\nx",
        "'-",
        "a=b",
        "",
        "O'Brien",
    ]
    assert [safe_cell(v) for v in ("-12.50", "+3", "-1e5", ".5")] == ["-12.50", "+3", "-1e5", ".5"]
    assert [safe_cell(v) for v in (Decimal("-12.50"), -3, -1.5, None, MONTH)] == [
        Decimal("-12.50"),
        -3,
        -1.5,
        None,
        MONTH,
    ]
    assert safe_cell("A\r\nB\rC") == "A\nB\nC"
