"""The performance report PDF (WeasyPrint, imported when rendering)."""

from __future__ import annotations

import logging

from django.template.loader import render_to_string
from django.utils import timezone

from performance import charts


def render_html(contract, performance: dict) -> str:
    return render_to_string(
        "performance/report_pdf.html",
        {
            "contract": contract,
            "p": performance,
            "charts": charts.charts_for(performance),
            "generated": timezone.now(),
            "web": False,
        },
    )


def render_pdf(contract, performance: dict) -> bytes:
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    from weasyprint import HTML

    return HTML(string=render_html(contract, performance), base_url=None).write_pdf()
