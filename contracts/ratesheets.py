"""Rate sheets: one version's rates and terms as a PDF for people and XLSX / CSV for systems.

Each renderer takes the version's document (``contracts.selectors.version_document`` plus its
``fingerprint``) and returns bytes; storing them once is ``contracts.services.rate_sheet``'s job.
Dates in files follow docs/formats.md: the end date is inclusive (the last day in force).
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string

from contracts import rules
from core.domain.codes import PRORATION_LABELS, PRORATION_WORDS, TIER_RULE_LABELS, TIER_RULE_WORDS, lob_label
from core.exports import safe_cell, safe_row

MARKETS_PER_TABLE = 6
CSV_COLUMNS = [
    "contract",
    "version",
    "effective_start",
    "effective_end",
    "line_of_business",
    "tier",
    "tier_name",
    "market",
    "market_name",
    "item",
    "value",
    "fingerprint",
]
RATE_COLUMNS = [
    "contract",
    "version",
    "line_of_business",
    "tier",
    "tier_name",
    "market",
    "market_name",
    "pmpm",
]


#: A phased version's rate cells carry their phase code in a last column (CSV and XLSX), only on a
#: phased version's sheet: an unphased sheet keeps the pinned columns of docs/formats.md section 8.
PHASE_COLUMN = "phase"


def phased(document: dict[str, Any]) -> bool:
    return bool(document.get("phases"))


def describe_phases(document: dict[str, Any]) -> str:
    """The phases in words, e.g. "Months 1-2 (initial) from month 1; Month 3 on (ongoing) from month 3"."""
    return "; ".join(
        f"{p['name']} ({p['code']}) from month {p['from_month']}" for p in document.get("phases") or []
    )


#: The episode terms, in the files only when the version sets them (a monthly bundle's sheet keeps its bytes).
EPISODE_TERMS = ("episode_days", "episode_installments", "episode_early_exit", "episode_renewal")


def rate_item(document: dict[str, Any]) -> str:
    """What a rate cell's value is: a case rate per episode on an episode bundle, else a PMPM."""
    return "episode_rate" if document.get("episode_days") else "pmpm"


def _episode_terms(document: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(key, document[key]) for key in EPISODE_TERMS if document.get(key) is not None]


def _episode_facts(document: dict[str, Any]) -> list[tuple[str, Any]]:
    """The episode terms in words, then as values (none on a monthly bundle)."""
    if not document.get("episode_days"):
        return []
    return [("Episode", rules.describe_episode(document)), *_episode_terms(document)]


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def last_day(document: dict[str, Any]) -> date | None:
    """The inclusive last day of the period as written (files and people count inclusively)."""
    end = _date(document["effective_end"])
    return end - timedelta(days=1) if end else None


def long_date(value: date | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else ""


def amount(value: str | Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.2f}"


def _chunks(items: list, most: int) -> list[list]:
    """Split into the fewest parts of at most ``most`` items, as even as possible (20 -> 5 x 4)."""
    if not items:
        return [[]]
    parts = -(-len(items) // most)
    size = -(-len(items) // parts)
    return [items[i : i + size] for i in range(0, len(items), size)]


def sheet_context(document: dict[str, Any], *, draft: bool) -> dict[str, Any]:
    """Everything the PDF template shows, already in words and formatted numbers."""
    markets = [{"code": m, "name": document["market_names"].get(m, m)} for m in document["markets"]]
    tables = []
    for lob in document["lines_of_business"]:
        parts = _chunks(markets, MARKETS_PER_TABLE)
        for index, part in enumerate(parts):
            rows = []
            for tier in document["tiers"]:
                for phase in document.get("phases") or [None]:  # a phased version: a row per phase
                    code = phase["code"] if phase else ""
                    rows.append(
                        {
                            "tier": tier,
                            "phase": phase,
                            "cells": [
                                amount(
                                    document["rates"].get(rules.rate_key(lob, tier["code"], m["code"], code))
                                )
                                for m in part
                            ],
                        }
                    )
            tables.append(
                {
                    "lob": lob_label(lob),
                    "markets": part,
                    "rows": rows,
                    "part": index + 1,
                    "parts": len(parts),
                }
            )
    start, through = _date(document["effective_start"]), last_day(document)
    quality = []
    for term in document["quality_terms"]:
        measure = rules.QUALITY_MEASURES[term["measure"]]
        target = Decimal(term["target"])
        shown = rules.percent(target) if measure.unit == "rate" else rules.plain_number(target)
        name = (
            measure.name.replace("N days", f"{term['n_days']} days") if term.get("n_days") else measure.name
        )
        quality.append(
            {
                "name": name,
                "target": f"{'≤' if term['direction'] == 'lower' else '≥'} {shown}{' days' if measure.unit == 'days' else ''}",
                "better": "Lower is better" if term["direction"] == "lower" else "Higher is better",
                "weight": rules.percent(term["weight"]),
                "minimum": f"{term['minimum_denominator']:,} {measure.denominator}"
                if term["minimum_denominator"]
                else "—",
            }
        )
    version = document["version"]
    return {
        "d": document,
        "draft": draft,
        "version_label": f"Version {version}" + (f" (amendment {version - 1})" if version > 1 else ""),
        "effective_from": long_date(start),
        "amends": document.get("amends")
        and {
            "version": document["amends"]["version"],
            "effective_from": long_date(_date(document["amends"]["effective_start"])),
        },
        "effective_through": long_date(through),
        "lobs": [lob_label(lob) for lob in document["lines_of_business"]],
        "markets": markets,
        "tables": tables,
        "phases": document.get("phases") or [],
        "fees": [{"market": m, "fee": amount(document["assessment_fees"].get(m["code"]))} for m in markets],
        "lookback": document["assessment_lookback_months"],
        "proration_label": PRORATION_LABELS[document["proration_rule"]],
        "proration_words": PRORATION_WORDS[document["proration_rule"]],
        "tier_rule_label": TIER_RULE_LABELS[document["tier_rule"]],
        "tier_rule_words": TIER_RULE_WORDS[document["tier_rule"]],
        "withhold": rules.percent(document["withhold_percentage"]),
        "withhold_words": rules.describe_withhold(document["withhold_percentage"]),
        "quality": quality,
        "shared_savings_words": rules.describe_shared_savings(document["shared_savings_terms"]),
        "quality_bonus_words": rules.describe_quality_bonus(document.get("quality_bonus")),
        "per_episode": bool(document.get("episode_days")),
        "episode_words": rules.describe_episode(document),
        "fingerprint": document["fingerprint"],
        "fingerprint_grouped": rules.grouped(document["fingerprint"]),
        "negotiation": negotiation_words(document),
    }


def negotiation_words(document: dict[str, Any]) -> str:
    """ "Negotiated in round N (the provider's offer)" for a countered version; '' when never negotiated."""
    negotiation = document.get("negotiation")
    if not negotiation:
        return ""
    whose = "the plan's" if negotiation["side"] == "payer" else "the provider's"
    return f"Negotiated in round {negotiation['round']} ({whose} offer)"


def render_html(document: dict[str, Any], *, draft: bool = False) -> str:
    return render_to_string("contracts/rate_sheet_pdf.html", sheet_context(document, draft=draft))


def html_to_pdf(html: str) -> bytes:
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)  # one INFO line per step otherwise
    from weasyprint import HTML

    return HTML(string=html, base_url=None).write_pdf()


def render_pdf(document: dict[str, Any], *, draft: bool = False) -> bytes:
    return html_to_pdf(render_html(document, draft=draft))


def _frozen_time(document: dict[str, Any]) -> datetime:
    # Workbook timestamps come from the terms, so the same terms give the same file.
    start = _date(document["effective_start"])
    return datetime(start.year, start.month, start.day)  # noqa: DTZ001 - a file property, no zone


def _bonus_facts(document: dict[str, Any]) -> list[tuple[str, Any]]:
    """The quality bonus as typed fractions for systems (none without a bonus)."""
    bonus = document.get("quality_bonus")
    if not bonus:
        return []
    return [
        ("Quality bonus threshold (fraction)", Decimal(bonus["threshold"])),
        ("Quality bonus (fraction of member-month payments)", Decimal(bonus["percentage"])),
    ]


def render_xlsx(document: dict[str, Any], *, draft: bool = False) -> bytes:
    """Typed cells (numbers are numbers, dates are dates), a frozen header row on every table sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="E4ECEA")
    money_format = "#,##0.00"
    workbook = Workbook()
    workbook.properties.creator = document["payer"]["name"]
    workbook.properties.title = f"Rate sheet {document['contract']} v{document['version']}"
    workbook.properties.identifier = document["fingerprint"]
    workbook.properties.keywords = f"fingerprint:{document['fingerprint']}"
    workbook.properties.created = workbook.properties.modified = _frozen_time(document)

    def table(
        sheet, header: list[str], rows: list[list[Any]], widths: dict[int, int], formats: dict[int, str]
    ):
        sheet.append(safe_row(header))
        for cell in sheet[1]:
            cell.font, cell.fill = bold, header_fill
        for row in rows:
            sheet.append(safe_row(row))
        for col, fmt in formats.items():
            for (cell,) in sheet.iter_rows(min_row=2, min_col=col, max_col=col):
                cell.number_format = fmt
        for col, width in widths.items():
            sheet.column_dimensions[get_column_letter(col)].width = width
        sheet.freeze_panes = "A2"
        if rows:
            sheet.auto_filter.ref = sheet.dimensions

    summary = workbook.active
    summary.title = "Rate sheet"
    start, through = _date(document["effective_start"]), last_day(document)
    facts: list[tuple[str, Any]] = [
        ("Contract", document["contract"]),
        ("Version", document["version"]),
        (
            "Status",
            "DRAFT - not binding"
            if draft
            else "Agreed terms"
            if document["status"] != "proposed"
            else "Proposed",
        ),
        ("Payer", document["payer"]["name"]),
        ("Provider", document["provider"]["name"]),
        ("Provider NPI", document["provider"].get("npi") or ""),
        ("Bundle", document["bundle"]["label"]),
        ("Effective from", start),
        ("Effective through", through or "until terminated"),
        (
            "Lines of business",
            ", ".join(lob_label(x) for x in document["lines_of_business"]),
        ),
        ("Markets", ", ".join(document["markets"])),
        ("Assessment look-back (months)", document["assessment_lookback_months"]),
        ("Proration rule", document["proration_rule"]),
        ("Tier rule", document["tier_rule"]),
        ("Retro window (months)", document["retro_window_months"]),
        ("Roster due day", document["roster_due_day"]),
        *([("Phases of enrollment", describe_phases(document))] if phased(document) else []),
        *_episode_facts(document),
        ("Withhold (fraction)", Decimal(document["withhold_percentage"])),
        ("Quality bonus", rules.describe_quality_bonus(document.get("quality_bonus"))),
        *_bonus_facts(document),
        ("Termination notice (days)", document["termination_notice_days"]),
        ("Shared savings", rules.describe_shared_savings(document["shared_savings_terms"])),
        *([("Negotiation", negotiation_words(document))] if document.get("negotiation") else []),
        ("Fingerprint (sha256)", document["fingerprint"]),
    ]
    table(summary, ["term", "value"], [list(f) for f in facts], {1: 30, 2: 72}, {})
    for (cell,) in summary.iter_rows(min_row=2, min_col=2, max_col=2):
        if isinstance(cell.value, date):
            cell.number_format = "yyyy-mm-dd"
        elif isinstance(cell.value, Decimal):
            cell.number_format = "0.00%"
        cell.alignment = Alignment(horizontal="left", wrap_text=True)

    tier_names = {t["code"]: t["name"] for t in document["tiers"]}
    rates = workbook.create_sheet("Rates")
    rows = []
    for lob, tier, market, phase in rules.rate_cells(document):
        value = document["rates"].get(rules.rate_key(lob, tier, market, phase))
        rows.append(
            [
                document["contract"],
                document["version"],
                lob,
                tier,
                tier_names.get(tier, ""),
                market,
                document["market_names"].get(market, market),
                None if value is None else Decimal(value),
                *([phase] if phased(document) else []),
            ]
        )
    header = RATE_COLUMNS[:-1] + [rate_item(document)] + ([PHASE_COLUMN] if phased(document) else [])
    widths = {1: 16, 2: 9, 3: 20, 4: 7, 5: 14, 6: 12, 7: 32, 8: 12} | ({9: 12} if phased(document) else {})
    table(rates, header, rows, widths, {8: money_format})

    fees = workbook.create_sheet("Assessment fees")
    table(
        fees,
        ["contract", "version", "market", "market_name", "assessment_fee", "lookback_months"],
        [
            [
                document["contract"],
                document["version"],
                m,
                document["market_names"].get(m, m),
                Decimal(document["assessment_fees"][m]) if m in document["assessment_fees"] else None,
                document["assessment_lookback_months"],
            ]
            for m in document["markets"]
        ],
        {1: 16, 2: 9, 3: 12, 4: 32, 5: 16, 6: 16},
        {5: money_format},
    )

    quality = workbook.create_sheet("Quality")
    table(
        quality,
        ["measure", "name", "direction", "target", "weight", "minimum_denominator"],
        [
            [
                t["measure"],
                rules.QUALITY_MEASURES[t["measure"]].name,
                t["direction"],
                Decimal(t["target"]),
                Decimal(t["weight"]),
                t["minimum_denominator"],
            ]
            for t in document["quality_terms"]
        ],
        {1: 30, 2: 46, 3: 10, 4: 10, 5: 10, 6: 20},
        {5: "0.00%"},
    )

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def render_csv(document: dict[str, Any], *, draft: bool = False) -> bytes:
    """One row per rate cell, assessment fee and term; every row carries the fingerprint."""
    through = last_day(document)
    base = [
        document["contract"],
        document["version"],
        document["effective_start"],
        through.isoformat() if through else "",
    ]
    fp = document["fingerprint"]
    tier_names = {t["code"]: t["name"] for t in document["tiers"]}
    out = io.StringIO()
    # a phased version's rows end with the rate cell's phase (empty on fee and term rows)
    writer = _SafeWriter(csv.writer(out, lineterminator="\n"), extra=1 if phased(document) else 0)
    writer.writerow(CSV_COLUMNS + ([PHASE_COLUMN] if phased(document) else []))
    for lob, tier, market, phase in rules.rate_cells(document):
        writer.writerow(
            base
            + [
                lob,
                tier,
                tier_names.get(tier, ""),
                market,
                document["market_names"].get(market, market),
                rate_item(document),
                document["rates"].get(rules.rate_key(lob, tier, market, phase), ""),
                fp,
                *([phase] if phased(document) else []),
            ]
        )
    for market in document["markets"]:
        writer.writerow(
            base
            + [
                "",
                "",
                "",
                market,
                document["market_names"].get(market, market),
                "assessment_fee",
                document["assessment_fees"].get(market, ""),
                fp,
            ]
        )
    terms = [
        (key, document[key])
        for key in (
            "assessment_lookback_months",
            "proration_rule",
            "tier_rule",
            "retro_window_months",
            "roster_due_day",
            "withhold_percentage",
            "termination_notice_days",
        )
    ]
    for term in document["quality_terms"]:
        for field in ("target", "weight", "direction", "minimum_denominator"):
            terms.append((f"quality.{term['measure']}.{field}", term[field]))
    for field, value in sorted((document["shared_savings_terms"] or {}).items()):
        terms.append((f"shared_savings.{field}", value))
    for field, value in sorted((document.get("quality_bonus") or {}).items()):
        terms.append((f"quality_bonus.{field}", value))
    if document.get("single_approval_limit") is not None:  # only when set: older sheets keep their bytes
        terms.append(("single_approval_limit", document["single_approval_limit"]))
    if document.get("recovery_offset_share") is not None:  # likewise
        terms.append(("recovery_offset_share", document["recovery_offset_share"]))
    terms += _episode_terms(document)
    if document.get("negotiation"):  # only a countered version's: older sheets keep their bytes
        terms.append(("negotiated_round", document["negotiation"]["round"]))
        terms.append(("negotiated_offer_of", document["negotiation"]["side"]))
    if draft:
        terms.append(("status", "DRAFT - not binding"))
    for key, value in terms:
        writer.writerow(base + ["", "", "", "", "", key, value, fp])
    return out.getvalue().encode("utf-8")


class _SafeWriter:
    """A ``csv.writer`` whose text cells are neutralised against formula injection (``core.exports``);
    a row shorter than the header by up to ``extra`` cells is padded with empty ones."""

    def __init__(self, writer, extra: int = 0) -> None:
        self._writer = writer
        self._width = len(CSV_COLUMNS) + extra

    def writerow(self, row: list[Any]) -> None:
        row = list(row) + [""] * (self._width - len(row))
        self._writer.writerow([safe_cell(value) for value in row])
