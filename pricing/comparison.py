"""Pricing runs side by side: what each run priced, what differs in their inputs, and the walk.

`build_comparison` turns runs (already scoped by `selectors.pricing_runs_for_comparison`) into
one JSON-ready document; the page, the API, the XLSX and the PDF all show that document, so
their numbers never disagree. The arithmetic is the engine's (`pricing.engine.scenarios`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.domain.display import rate_cell_text
from core.errors import ApplicationError, NotFoundError
from pricing.engine import ENGINE_VERSION
from pricing.engine.scenarios import NothingInCommon, canonical, input_differences, rate_walk, side_by_side
from pricing.models import PricingRun


def run_label(run: PricingRun) -> str:
    """How a person tells runs apart: bundle version, assumption set version, when it finished."""
    finished = timezone.localtime(run.finished_at).strftime("%Y-%m-%d %H:%M") if run.finished_at else ""
    return (
        f"{run.bundle_version.bundle.name} v{run.bundle_version.number} · "
        f"{run.assumption_set_version.assumption_set.name} v{run.assumption_set_version.number} · {finished}"
    ).strip(" ·")


def _run_facts(run: PricingRun, index: int) -> dict[str, Any]:
    return {
        "id": str(run.public_id),
        "column": chr(ord("A") + index),
        "label": run_label(run),
        "bundle": f"{run.bundle_version.bundle.name} v{run.bundle_version.number}",
        "assumption_set": f"{run.assumption_set_version.assumption_set.name} v{run.assumption_set_version.number}",
        "experience": run.experience.name if run.experience else None,
        "markets": list(run.markets),
        "lobs": list(run.lobs),
        "engine_version": run.engine_version,
        "inputs_hash": run.inputs_hash,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "url": reverse("pricing-run-detail", args=[run.public_id]),
    }


def _inputs(run: PricingRun) -> dict[str, Any]:
    """What the run priced, as one tree: the pricing file (defaults written out) and the run's options."""
    inputs = run.inputs
    return {
        **canonical(inputs["pricing_file"]),
        "run": {
            "markets": inputs.get("markets"),
            "lobs": inputs.get("lobs"),
            "seed": inputs.get("seed"),
            **(inputs.get("options") or {}),
        },
    }


def build_comparison(runs: Sequence[PricingRun], *, walk_to: str | None = None) -> dict[str, Any]:
    """The comparison of ``runs`` (the first is the baseline) and the walk from it to ``walk_to``
    (a run id among them; the second run when not given)."""
    facts = [_run_facts(run, i) for i, run in enumerate(runs)]
    target = runs[1]
    if walk_to:
        matches = [run for run in runs[1:] if str(run.public_id) == str(walk_to)]
        if not matches:
            raise NotFoundError(
                "The walk goes to one of the compared runs other than the first.", code="walk_to"
            )
        target = matches[0]
    warnings = [
        f"Run {f['column']} was priced by engine {f['engine_version']}; the walk prices both ends again with "
        f"engine {ENGINE_VERSION}, so its start or end may differ from the stored rates."
        for f in facts
        if f["engine_version"] != ENGINE_VERSION
        and f["id"] in (str(runs[0].public_id), str(target.public_id))
    ]
    return {
        "runs": facts,
        "side_by_side": side_by_side([run.result or {} for run in runs]),
        "input_differences": input_differences([_inputs(run) for run in runs]),
        "walk": _walk(runs[0], target, facts),
        "warnings": warnings,
    }


def _walk(start: PricingRun, end: PricingRun, facts: list[dict[str, Any]]) -> dict[str, Any]:
    columns = {f["id"]: f["column"] for f in facts}
    markets = [m for m in start.markets if m in end.markets]
    lobs = [lob for lob in start.lobs if lob in end.lobs]
    out: dict[str, Any] = {"from": str(start.public_id), "to": str(end.public_id)}
    out["from_column"], out["to_column"] = columns[out["from"]], columns[out["to"]]
    if not markets or not lobs:
        return {
            **out,
            "error": "The two runs price no market and line of business in common, so there is no walk.",
        }
    try:
        walk = rate_walk(start.inputs["pricing_file"], end.inputs["pricing_file"], markets=markets, lobs=lobs)
    except NothingInCommon as exc:
        return {**out, "error": f"{exc} There is no walk between them."}
    return {**out, **walk.as_dict()}


# --- one rate cell of the walk, for the page and the PDF ---------------------------------------------


def cell_key(row: dict[str, Any]) -> str:
    """The rate cell's key as the kernel writes it (``2/URBAN/medicaid``)."""
    return "/".join(p for p in (row["tier"], row["market"], row["lob"]) if p)


def cell_name(row: dict[str, Any]) -> str:
    return rate_cell_text(cell_key(row))


def walk_for_cell(walk: dict[str, Any], key: str | None) -> dict[str, Any] | None:
    """The walk of one rate cell (the first when ``key`` names none), with its market's assessment fee
    and, per step, the smallest and largest change over every cell."""
    rates = walk.get("rates") or []
    if not rates:
        return None
    row = next((r for r in rates if cell_key(r) == key), rates[0])
    fee = next((f for f in walk.get("assessment_fees", []) if f["market"] == row["market"]), None)
    steps = []
    for i, step in enumerate(walk["steps"]):
        changes = [Decimal(r["steps"][i]) for r in rates]
        steps.append(
            {
                "label": step["label"],
                "parts": step["parts"],
                "change": row["steps"][i],
                "fee_change": fee["steps"][i] if fee else None,
                "least": format(min(changes), "f"),
                "most": format(max(changes), "f"),
            }
        )
    return {"key": cell_key(row), "name": cell_name(row), "row": row, "fee": fee, "steps": steps}


def labour_for_cell(document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Each role's labour PMPM in one rate cell, run by run."""
    return [row for row in document["side_by_side"]["labour"] if cell_key(row) == key]


def refuse_unknown_cell(walk: dict[str, Any], key: str | None) -> None:
    if key and walk.get("rates") and not any(cell_key(r) == key for r in walk["rates"]):
        raise ApplicationError("The walk has no such rate cell.", code="unknown_cell")


# --- files -----------------------------------------------------------------------------------------


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def render_file(
    document: dict[str, Any], kind: str, *, cell: str | None = None, organization: Any = None
) -> bytes:
    """The comparison as ``kind`` ("xlsx" or "pdf"): the same document the page shows."""
    if kind == "xlsx":
        return render_xlsx(document)
    return render_pdf(document, cell=cell, organization=organization)


def content_type(kind: str) -> str:
    return XLSX_TYPE if kind == "xlsx" else "application/pdf"


def filename(document: dict[str, Any], extension: str) -> str:
    ids = "-".join(f["id"][:8] for f in document["runs"])
    return f"pricing-comparison-{ids}.{extension}"


def render_xlsx(document: dict[str, Any]) -> bytes:
    """Every table of the comparison, one sheet each; money as numbers; the walk for every cell."""
    from io import BytesIO

    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    from core.exports import safe_row

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="E4ECEA")
    runs = document["runs"]
    columns = [f"{r['column']}: {r['label']}" for r in runs]
    book = Workbook()

    def sheet(title: str, header: list[str], rows: list[list[Any]], figures_from: int | None = None) -> None:
        """``figures_from``: the first column of money and figures, written as numbers."""
        ws = book.create_sheet(title)
        ws.append(safe_row(header))
        for cell in ws[1]:
            cell.font, cell.fill = bold, fill
        for row in rows:
            if figures_from is not None:
                row = [*row[:figures_from], *(None if v is None else Decimal(v) for v in row[figures_from:])]
            ws.append(safe_row(row))
        ws.freeze_panes = "A2"
        for letter, width in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", [22, 16, 12, 12, *[18] * 22], strict=False):
            ws.column_dimensions[letter].width = width

    book.remove(book.active)
    sheet(
        "Runs",
        [
            "Column",
            "Run",
            "Bundle",
            "Assumption set",
            "Experience",
            "Markets",
            "Lines of business",
            "Engine",
            "Inputs hash",
            "Run id",
        ],
        [
            [
                r["column"],
                r["label"],
                r["bundle"],
                r["assumption_set"],
                r["experience"] or "",
                ", ".join(r["markets"]),
                ", ".join(r["lobs"]),
                r["engine_version"],
                r["inputs_hash"],
                r["id"],
            ]
            for r in runs
        ],
    )
    table = document["side_by_side"]
    changes = [f"{r['column']} - A" for r in runs[1:]]
    sheet(
        "Rates",
        ["Tier", "Market", "Line of business", *columns, *changes],
        [[r["tier"], r["market"], r["lob"] or "", *r["values"], *r["changes"][1:]] for r in table["rates"]],
        figures_from=3,
    )
    sheet(
        "Assessment fees",
        ["Market", *columns, *changes],
        [[r["market"], *r["values"], *r["changes"][1:]] for r in table["assessment_fees"]],
        figures_from=1,
    )
    sheet(
        "Labour by role",
        ["Tier", "Market", "Line of business", "Role", *columns, *changes],
        [
            [r["tier"], r["market"], r["lob"] or "", r["role"], *r["values"], *r["changes"][1:]]
            for r in table["labour"]
        ],
        figures_from=4,
    )
    risk_rows = []
    for r in table["risk"]:
        for key, name in (
            ("probability_of_loss", "Probability of a loss"),
            ("margin_mean", "Mean margin"),
            ("margin_p5", "Margin, 5th percentile"),
        ):
            risk_rows.append([r["market"], name, *r[key]])
    sheet("Risk", ["Market", "Figure", *columns], risk_rows, figures_from=2)
    sheet(
        "Inputs that differ",
        ["Input", *columns],
        [
            [row["path"], *[v if v is not None else "(none)" for v in row["values"]]]
            for row in document["input_differences"]
        ],
    )
    walk = document["walk"]
    if walk.get("error"):
        sheet("Walk", ["Walk"], [[walk["error"]]])
    else:
        cells = walk["rates"]
        header = [
            "Step",
            *(cell_name(c) for c in cells),
            *(f"Assessment fee · {f['market']}" for f in walk["assessment_fees"]),
        ]
        rows = [
            [
                f"Run {walk['from_column']}",
                *(c["start"] for c in cells),
                *(f["start"] for f in walk["assessment_fees"]),
            ]
        ]
        for i, step in enumerate(walk["steps"]):
            rows.append(
                [
                    step["label"],
                    *(c["steps"][i] for c in cells),
                    *(f["steps"][i] for f in walk["assessment_fees"]),
                ]
            )
        rows.append(
            [
                f"Run {walk['to_column']}",
                *(c["end"] for c in cells),
                *(f["end"] for f in walk["assessment_fees"]),
            ]
        )
        sheet(f"Walk {walk['from_column']} to {walk['to_column']}", header, rows, figures_from=1)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def render_pdf(document: dict[str, Any], *, cell: str | None = None, organization: Any = None) -> bytes:
    from weasyprint import HTML  # heavy: imported only for the PDF

    html = render_to_string(
        "pricing/comparison_pdf.html",
        {"doc": document, "cell_walk": walk_for_cell(document["walk"], cell), "payer": organization},
    )
    return HTML(string=html).write_pdf()
