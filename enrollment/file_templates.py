"""The roster and assessment templates a provider downloads (docs/formats.md sections 1 and 2): a CSV with
the header row, and an XLSX with the header on the data sheet plus a short instructions sheet."""

from __future__ import annotations

import io

from enrollment.ingest.roster import (
    ASSESSMENT_COLUMNS,
    ASSESSMENT_OUTCOMES,
    ASSESSMENT_REQUIRED,
    DISENROLLMENT_REASONS,
    ROSTER_COLUMNS,
    ROSTER_REQUIRED,
)

KINDS = ("roster", "assessments")
FORMATS = ("csv", "xlsx")

_MEANINGS = {
    "member_id": "The plan's member id",
    "last_name": "Member's last name",
    "first_name": "Member's first name",
    "birth_date": "YYYY-MM-DD",
    "market": "Market code of the contract (e.g. a county code)",
    "enrollment_start": "First day enrolled in this program, YYYY-MM-DD",
    "enrollment_end": "Last day enrolled (inclusive); empty while enrolled",
    "disenrollment_reason": "Required when enrollment_end is given: "
    + ", ".join(sorted(DISENROLLMENT_REASONS)),
    "tier": "Tier code of the bundle (e.g. 1, 2, 3)",
    "tier_start": (
        "First day this tier applies; default enrollment_start. A member whose tier changed during the "
        "month has one row per tier, with the same enrollment columns"
    ),
    "assessment_date": "YYYY-MM-DD",
    "outcome": ", ".join(sorted(ASSESSMENT_OUTCOMES)),
    "assessor_role": "Role code of the clinician who led it (e.g. np, physician)",
    "referral_date": "Optional: the day the member was referred to the program, YYYY-MM-DD, "
    "not after assessment_date",
}

_NOTES = {
    "roster": [
        "One roster per contract and month lists every member enrolled on any day of that month, including "
        "those who left during it.",
        "Dates are YYYY-MM-DD. End dates are inclusive. Column order is free; header names are matched "
        "case-insensitively. Rows are numbered as the spreadsheet shows them (the header is row 1).",
        "Submitting a month again replaces the earlier version for payment (within the contract's retro window); "
        "the earlier version stays readable.",
        "Save as XLSX (data on the 'roster' sheet) or as CSV UTF-8.",
    ],
    "assessments": [
        "Every initial assessment of the month, whatever its outcome: each is paid at the contract's assessment "
        "fee, once per member per provider in the contract's look-back window.",
        "Dates are YYYY-MM-DD. Save as XLSX (data on the 'assessments' sheet) or as CSV UTF-8.",
    ],
}


def columns(kind: str) -> tuple[tuple[str, ...], frozenset[str]]:
    return (
        (ROSTER_COLUMNS, ROSTER_REQUIRED) if kind == "roster" else (ASSESSMENT_COLUMNS, ASSESSMENT_REQUIRED)
    )


def required_label(kind: str, column: str) -> str:
    cols, required = columns(kind)
    if column in required:
        return "yes"
    return "if enrollment_end" if column == "disenrollment_reason" else "no"


def instructions(kind: str) -> list[dict[str, str]]:
    cols, _ = columns(kind)
    return [{"column": c, "required": required_label(kind, c), "meaning": _MEANINGS.get(c, "")} for c in cols]


def template_csv(kind: str) -> bytes:
    cols, _ = columns(kind)
    return (",".join(cols) + "\r\n").encode()


def template_xlsx(kind: str) -> bytes:
    import openpyxl  # deferred: only this download pays for the import
    from openpyxl.styles import Font

    cols, _ = columns(kind)
    workbook = openpyxl.Workbook()
    data = workbook.active
    data.title = kind
    data.append(list(cols))
    for cell in data[1]:
        cell.font = Font(bold=True)
    for k, column in enumerate(cols):
        data.column_dimensions[openpyxl.utils.get_column_letter(k + 1)].width = max(14, len(column) + 4)
    sheet = workbook.create_sheet("instructions")
    sheet.append([f"carebundle {kind} template"])
    sheet["A1"].font = Font(bold=True, size=13)
    for note in _NOTES[kind]:
        sheet.append([note])
    sheet.append([])
    sheet.append(["column", "required", "meaning"])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for item in instructions(kind):
        sheet.append([item["column"], item["required"], item["meaning"]])
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 18
    sheet.column_dimensions["C"].width = 100
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
