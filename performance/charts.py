"""Performance charts as inline SVG built on the server.

Presentation attributes only (``fill``, ``stroke``, ``font-size``, ``stroke-dasharray``...): no
``style`` attribute and no script, so pages keep a Content-Security-Policy without
``'unsafe-inline'``; the same SVG goes into the PDF report.
"""

from __future__ import annotations

import math
from html import escape

BAR = "#1f6f64"
BEFORE = "#b5572c"
LINE = "#1f4e8c"
TARGET = "#a8201a"
INK = "#1d2530"
MUTED = "#5b6675"
GRID = "#d9dee5"
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def _nice(value: float) -> float:
    """A round axis maximum at or above ``value`` whose quarters are round too (4 grid steps)."""
    if value <= 0:
        return 1.0
    quarter = value / 4
    magnitude = 10 ** math.floor(math.log10(quarter))
    for step in (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 8, 10):
        if step * magnitude >= quarter:
            return 4 * step * magnitude
    return 40 * magnitude


def _tick(value: float) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _text(x: float, y: float, text: str, *, size: int = 11, anchor: str = "start", fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" {FONT}>'
        f"{escape(text)}</text>"
    )


def _svg(chart_id: str, title: str, description: str, body: list[str], width: int, height: int) -> str:
    return (
        f'<svg id="{escape(chart_id)}" class="chart" role="img" aria-labelledby="{escape(chart_id)}-title '
        f'{escape(chart_id)}-desc" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def _axis(left: float, top: float, plot_w: float, plot_h: float, maximum: float, fmt=None) -> list[str]:
    fmt = fmt or _tick
    out = []
    for i in range(5):
        value = maximum * i / 4
        y = top + plot_h - plot_h * i / 4
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID}" '
            f'stroke-width="1"/>'
        )
        out.append(_text(left - 6, y + 4, fmt(value), size=10, anchor="end", fill=MUTED))
    return out


def _month_label(iso: str) -> str:
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    return f"{months[int(iso[5:7]) - 1]} {iso[2:4]}"


def enrollment_chart(points: list[dict], *, chart_id: str = "chart-enrollment") -> str:
    """Member-months by month (bars) with the member count written above each bar."""
    width, height, left, right, top, bottom = 720, 240, 60, 16, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    title = "Member-months by month"
    values = [float(p["member_months"]) for p in points]
    if not points or max(values, default=0) <= 0:
        return _svg(
            chart_id,
            title,
            "No member-months in this period.",
            [_text(width / 2, height / 2, "No member-months in this period.", anchor="middle", fill=MUTED)],
            width,
            height,
        )
    top_value = _nice(max(values))
    body = [_text(left, 16, title, size=13)] + _axis(left, top, plot_w, plot_h, top_value)
    slot = plot_w / len(points)
    for i, (p, v) in enumerate(zip(points, values, strict=True)):
        h = plot_h * v / top_value
        x = left + i * slot + slot * 0.15
        if v > 0:
            body.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{BAR}"><title>{escape(p["month"][:7])}: {v:,.1f} member-months, '
                f"{p['members']} members</title></rect>"
            )
        body.append(
            _text(
                x + slot * 0.35,
                height - bottom + 14,
                _month_label(p["month"]),
                size=9,
                anchor="middle",
                fill=MUTED,
            )
        )
    description = ", ".join(f"{p['month'][:7]}: {float(p['member_months']):,.1f}" for p in points)
    return _svg(chart_id, title, "Member-months by month: " + description, body, width, height)


def before_after_chart(groups: list[dict], *, chart_id: str = "chart-before-after") -> str:
    """ED visits and admissions per 1,000 member-months: before enrollment vs after."""
    width, height, left, right, top, bottom = 720, 240, 60, 16, 44, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    title = "Per 1,000 member-months, before vs after enrollment"
    values = [float(g[k]) for g in groups for k in ("before", "after") if g.get(k) is not None]
    if not values:
        return _svg(
            chart_id,
            title,
            "No utilisation data yet.",
            [_text(width / 2, height / 2, "No utilisation data yet.", anchor="middle", fill=MUTED)],
            width,
            height,
        )
    top_value = _nice(max(values))
    body = [
        _text(left, 16, title, size=13),
        f'<rect x="{left}" y="24" width="10" height="10" fill="{BEFORE}"/>',
        _text(left + 14, 33, "Before enrollment (baseline)", size=10),
        f'<rect x="{left + 200}" y="24" width="10" height="10" fill="{BAR}"/>',
        _text(left + 214, 33, "After enrollment", size=10),
    ] + _axis(left, top, plot_w, plot_h, top_value)
    slot = plot_w / len(groups)
    parts = []
    for i, g in enumerate(groups):
        for j, (key, colour) in enumerate((("before", BEFORE), ("after", BAR))):
            if g.get(key) is None:
                continue
            v = float(g[key])
            h = max(plot_h * v / top_value, 0.5)
            x = left + i * slot + slot * (0.2 + 0.3 * j)
            body.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.28:.1f}" height="{h:.1f}" '
                f'fill="{colour}"/>'
            )
            body.append(_text(x + slot * 0.14, top + plot_h - h - 4, f"{v:,.1f}", size=10, anchor="middle"))
        body.append(_text(left + i * slot + slot / 2, height - 12, g["label"], size=11, anchor="middle"))
        parts.append(f"{g['label']}: before {g.get('before') or 'n/a'}, after {g.get('after') or 'n/a'}")
    return _svg(chart_id, title, "; ".join(parts), body, width, height)


def measure_chart(series: dict, *, chart_id: str) -> str:
    """One measure by month: the rate (line and dots), its 95% interval (whiskers), the target (dashed)."""
    width, height, left, right, top, bottom = 720, 220, 60, 16, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    unit = series["unit"]
    scale = 100.0 if unit == "rate" else 1.0
    suffix = "%" if unit == "rate" else ""
    title = series["name"]
    points = series["points"]
    rated = [p for p in points if p["rate"] is not None]
    target = float(series["target"]) * scale if series.get("target") not in (None, "") else None
    highs = [float(p["ci_high"] or p["rate"]) * scale for p in rated]
    maximum = max(highs + ([target] if target is not None else []) + [0.0])
    if unit == "rate":
        top_value = 100.0
    else:
        top_value = _nice(maximum)

    def fmt(v: float) -> str:
        return _tick(v) + suffix

    body = [_text(left, 16, title, size=13)] + _axis(left, top, plot_w, plot_h, top_value, fmt)
    if not rated:
        body.append(
            _text(width / 2, top + plot_h / 2, "No data in these months.", anchor="middle", fill=MUTED)
        )
    slot = plot_w / max(len(points), 1)

    def y(v: float) -> float:
        return top + plot_h - plot_h * min(v, top_value) / top_value

    if target is not None:
        body.append(
            f'<line x1="{left}" y1="{y(target):.1f}" x2="{left + plot_w}" y2="{y(target):.1f}" '
            f'stroke="{TARGET}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        body.append(
            _text(
                left + plot_w - 4,
                y(target) - 4,
                f"target {target:,.1f}{suffix}",
                size=10,
                anchor="end",
                fill=TARGET,
            )
        )
    line = []
    for i, p in enumerate(points):
        x = left + i * slot + slot / 2
        body.append(
            _text(x, height - bottom + 14, _month_label(p["month"]), size=9, anchor="middle", fill=MUTED)
        )
        if p["rate"] is None:
            continue
        v = float(p["rate"]) * scale
        if p["ci_low"] is not None and p["ci_high"] is not None:
            lo, hi = float(p["ci_low"]) * scale, float(p["ci_high"]) * scale
            body.append(
                f'<line x1="{x:.1f}" y1="{y(lo):.1f}" x2="{x:.1f}" y2="{y(hi):.1f}" stroke="{MUTED}" '
                f'stroke-width="1"/>'
            )
            for yy in (y(lo), y(hi)):
                body.append(
                    f'<line x1="{x - 4:.1f}" y1="{yy:.1f}" x2="{x + 4:.1f}" y2="{yy:.1f}" stroke="{MUTED}" '
                    f'stroke-width="1"/>'
                )
        line.append(f"{x:.1f},{y(v):.1f}")
        body.append(
            f'<circle cx="{x:.1f}" cy="{y(v):.1f}" r="3.5" fill="{LINE}"><title>{escape(p["month"][:7])}: '
            f"{v:,.2f}{suffix}</title></circle>"
        )
    if len(line) > 1:
        body.insert(
            len(body) - len(line),
            f'<polyline points="{" ".join(line)}" fill="none" stroke="{LINE}" stroke-width="2"/>',
        )
    description = f"{title} by month against its target" + (
        f" of {target:,.1f}{suffix}" if target is not None else ""
    )
    return _svg(chart_id, title, description, body, width, height)


def charts_for(performance: dict) -> dict:
    series = performance.get("series") or {}
    return {
        "enrollment": enrollment_chart(series.get("enrollment", [])),
        "before_after": before_after_chart(series.get("before_after", [])),
        "measures": [measure_chart(s, chart_id=f"chart-{s['measure']}") for s in series.get("measures", [])],
    }
