"""The payment history chart as inline SVG built on the server: amounts paid per month (bars) and
member-months (a line with dots, right-hand axis).

Presentation attributes only (``fill``, ``stroke``, ``font-size``...): no ``style`` attribute and no
script, so the page keeps its Content-Security-Policy without ``'unsafe-inline'``.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

BAR = "#1f6f64"
NEGATIVE = "#a8201a"
LINE = "#b5572c"
INK = "#1d2530"
MUTED = "#5b6675"
GRID = "#d9dee5"
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def money(value: Decimal) -> str:
    text = f"{abs(value):,.2f}"
    return f"−${text}" if value < 0 else f"${text}"


def _nice(value: float) -> float:
    """A round axis maximum at or above ``value``."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _text(x: float, y: float, text: str, *, size: int = 11, anchor: str = "start", fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" {FONT}>'
        f"{escape(text)}</text>"
    )


def history_chart(months: list[dict], *, chart_id: str = "payment-history") -> str:
    """``months``: [{label, total (Decimal), member_months (Decimal)}] oldest first."""
    width, height = 720, 280
    left, right, top, bottom = 78, 64, 30, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    title = "Payments and member-months by month"
    if not months:
        description = "No payment has been posted yet."
        body = [_text(width / 2, height / 2, description, anchor="middle", fill=MUTED)]
    else:
        totals = [float(m["total"]) for m in months]
        mms = [float(m["member_months"]) for m in months]
        top_amount = _nice(max(max(totals), 0.0))
        low_amount = -_nice(-min(totals)) if min(totals) < 0 else 0.0
        top_mm = _nice(max(mms)) if max(mms) > 0 else 1.0
        span = top_amount - low_amount

        def y_amount(v: float) -> float:
            return top + plot_h * (top_amount - v) / span

        def y_mm(v: float) -> float:
            return top + plot_h * (1 - v / top_mm)

        body = []
        for i in range(5):
            value = low_amount + span * i / 4
            y = y_amount(value)
            body.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID}" '
                f'stroke-width="1"/>'
            )
            body.append(
                _text(
                    left - 6,
                    y + 4,
                    money(Decimal(str(round(value)))).replace(".00", ""),
                    size=10,
                    anchor="end",
                    fill=MUTED,
                )
            )
            tick = top_mm * i / 4
            body.append(
                _text(
                    left + plot_w + 6,
                    y_mm(tick) + 4,
                    f"{tick:,.0f}" if tick == int(tick) else f"{tick:,.1f}",
                    size=10,
                    fill=LINE,
                )
            )
        slot = plot_w / len(months)
        bar_w = max(4.0, min(42.0, slot * 0.6))
        zero = y_amount(0)
        points = []
        for i, month in enumerate(months):
            cx = left + slot * (i + 0.5)
            value = totals[i]
            y = y_amount(value)
            label = (
                f"{month['label']}: {money(month['total'])} paid, {month['member_months']:,.2f} member-months"
            )
            body.append(
                f'<rect x="{cx - bar_w / 2:.1f}" y="{min(y, zero):.1f}" width="{bar_w:.1f}" '
                f'height="{abs(zero - y):.1f}" fill="{BAR if value >= 0 else NEGATIVE}">'
                f"<title>{escape(label)}</title></rect>"
            )
            if len(months) <= 12 or i % max(1, len(months) // 12) == 0:
                body.append(
                    _text(cx, top + plot_h + 16, month["label"], size=10, anchor="middle", fill=MUTED)
                )
            points.append((cx, y_mm(mms[i])))
        body.append(
            '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
                LINE, " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            )
        )
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{LINE}"/>' for x, y in points]
        body.append(_text(left, 16, "Paid (bars, left axis)", size=11, fill=BAR))
        body.append(
            _text(left + plot_w, 16, "Member-months (line, right axis)", size=11, anchor="end", fill=LINE)
        )
        description = "; ".join(
            f"{m['label']}: {money(m['total'])}, {m['member_months']:,.2f} member-months" for m in months
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'class="chart" data-chart="{chart_id}"><title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )
