"""Charts as inline SVG, built in Python: the same markup goes into the page and the PDF.

No JavaScript and no CDN: each function takes plain figures (money as decimal strings) and
returns an `<svg>` string with a title and a description for screen readers. Geometry uses
floats; every label is the figure as shown elsewhere (formatted from its Decimal string).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from html import escape

from core.domain.display import money_text

PALETTE = (
    "#1f6f64",
    "#b5572c",
    "#3b7ea1",
    "#8a5a00",
    "#6b4c9a",
    "#4d7c0f",
    "#a8201a",
    "#5b6675",
    "#0f766e",
    "#c2185b",
)
INK = "#1d2530"
MUTED = "#5b6675"
GRID = "#d9dee5"
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def money(value: str | Decimal | float | None, *, cents: bool = True) -> str:
    """$1,234.56 (or $1,235 without cents); a minus sign before the dollar sign."""
    return money_text(value, cents=cents)


def _svg(width: int, height: int, title: str, description: str, body: list[str], chart_id: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'class="chart" data-chart="{chart_id}">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int = 12,
    anchor: str = "start",
    fill: str = INK,
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
        f'font-weight="{weight}" {FONT}>{escape(text)}</text>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, label: str = "") -> str:
    title = f"<title>{escape(label)}</title>" if label else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{fill}">{title}</rect>'
    )


def _legend(items: list[tuple[str, str]], x: float, y: float, width: float) -> tuple[list[str], float]:
    """Legend swatches flowing over lines; returns the markup and the height used."""
    body, cx, cy = [], x, y
    for label, colour in items:
        w = 18 + 7 * len(label) + 16
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 18
        body.append(_rect(cx, cy - 10, 12, 12, colour))
        body.append(_text(cx + 17, cy, label, size=11, fill=MUTED))
        cx += w
    return body, cy - y + 18


def _short(label: str, width: int = 20) -> str:
    return label if len(label) <= width else label[: width - 1].rstrip() + "…"


def _nice_step(span: float, ticks: int = 5) -> float:
    if span <= 0:
        return 1.0
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def cost_by_role(tiers: list[dict], *, market: str) -> str:
    """Stacked horizontal bars: each tier's direct PMPM split by role (trended labor) and non-labor.

    `tiers`: [{"label": "Tier 1 Stable", "parts": [(role, "99.02"), ...], "non_labor": "60.10",
    "total": "166.54"}].
    """
    roles: list[str] = []
    for tier in tiers:
        for role, _ in tier["parts"]:
            if role not in roles:
                roles.append(role)
    colours = {role: PALETTE[i % len(PALETTE)] for i, role in enumerate(roles)}
    colours["Non-labor"] = "#9aa5b1"
    width, left, right, bar, gap, top = 720, 130, 90, 26, 14, 16
    plot = width - left - right
    largest = max((float(t["total"]) for t in tiers), default=1.0) or 1.0
    body = []
    y = top
    for tier in tiers:
        x = float(left)
        body.append(_text(left - 8, y + bar / 2 + 4, _short(tier["label"]), anchor="end"))
        for role, value in [*tier["parts"], ("Non-labor", tier["non_labor"])]:
            w = plot * float(value) / largest
            body.append(_rect(x, y, w, bar, colours[role], f"{role}: {money(value)}"))
            x += w
        body.append(_text(x + 6, y + bar / 2 + 4, money(tier["total"]), weight="bold"))
        y += bar + gap
    legend, used = _legend([(r, colours[r]) for r in [*roles, "Non-labor"]], left, y + 8, plot + right)
    body += legend
    height = int(y + used + 12)
    description = "; ".join(f"{t['label']}: {money(t['total'])} direct PMPM" for t in tiers)
    return _svg(
        width,
        height,
        f"Direct cost per member-month by role and tier, {market}",
        description,
        body,
        "cost-by-role",
    )


def margin_distribution(
    histogram: dict, *, p5: str, p50: str, p95: str, mean: str, loss_probability: float, market: str
) -> str:
    """Histogram of the provider's simulated annual margin, losses shaded, with the percentiles marked."""
    edges = [float(e) for e in histogram["edges"]]
    counts = [int(c) for c in histogram["counts"]]
    width, height, left, right, top, bottom = 720, 300, 60, 20, 34, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    lo, hi = edges[0], edges[-1]
    span = (hi - lo) or 1.0
    peak = max(counts) or 1

    def sx(value: float) -> float:
        return left + plot_w * (value - lo) / span

    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{MUTED}"/>'
    ]
    for i, count in enumerate(counts):
        x0, x1 = sx(edges[i]), sx(edges[i + 1])
        h = plot_h * count / peak
        loss = edges[i + 1] <= 0
        body.append(
            _rect(
                x0,
                top + plot_h - h,
                max(x1 - x0 - 1, 0.5),
                h,
                PALETTE[1] if loss else PALETTE[0],
                f"{money(edges[i], cents=False)} to {money(edges[i + 1], cents=False)}: {count:,} years",
            )
        )
    step = _nice_step(span)
    tick = math.ceil(lo / step) * step
    while tick <= hi:
        x = sx(tick)
        body.append(
            f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 5}" stroke="{MUTED}"/>'
        )
        body.append(
            _text(x, top + plot_h + 18, money(tick, cents=False), size=10, anchor="middle", fill=MUTED)
        )
        tick += step
    markers = [("P5", p5, "#6b4c9a"), ("Median", p50, INK), ("P95", p95, "#6b4c9a")]
    if lo < 0 < hi:
        markers.insert(0, ("Break-even", "0", PALETTE[6]))
    for i, (label, value, colour) in enumerate(markers):
        x = sx(float(value))
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{colour}" '
            f'stroke-dasharray="4 3" stroke-width="1.5"/>'
        )
        body.append(
            _text(
                x,
                top - 8 - 11 * (i % 2),
                f"{label} {money(value, cents=False)}",
                size=10,
                anchor="middle",
                fill=colour,
            )
        )
    body.append(
        _text(
            left,
            height - 12,
            f"Mean {money(mean)}; probability of a loss {loss_probability:.1%}. "
            f"Bars: simulated contract years by margin (losses in orange).",
            size=11,
            fill=MUTED,
        )
    )
    description = (
        f"Provider margin per contract year in {market}: mean {money(mean)}, 5th percentile {money(p5)}, "
        f"median {money(p50)}, 95th percentile {money(p95)}, probability of a loss {loss_probability:.1%}"
    )
    return _svg(
        width,
        height,
        f"Distribution of the provider's annual margin, {market}",
        description,
        body,
        "margin-distribution",
    )


def ffs_vs_bundle(roles: list[dict], *, cost: str, ffs: str, bundle: str, title: str) -> str:
    """Per role: cost against FFS revenue; then all roles: cost, FFS revenue and the bundle payment (PMPM).

    `roles`: [{"role": "np", "cost": "99.02", "ffs": "120.50"}, ...].
    """
    width, left, right, bar, top = 720, 130, 90, 12, 12
    plot = width - left - right
    values = (
        [float(r["cost"]) for r in roles]
        + [float(r["ffs"]) for r in roles]
        + [float(cost), float(ffs), float(bundle)]
    )
    largest = max(values, default=1.0) or 1.0
    colours = {"Cost": "#9aa5b1", "FFS revenue": PALETTE[2], "Bundle payment": PALETTE[0]}
    body = []
    y = float(top)
    groups = [(r["role"], [("Cost", r["cost"]), ("FFS revenue", r["ffs"])]) for r in roles]
    groups.append(("All roles", [("Cost", cost), ("FFS revenue", ffs), ("Bundle payment", bundle)]))
    for label, bars in groups:
        height = bar * len(bars)
        body.append(
            _text(
                left - 8,
                y + height / 2 + 4,
                _short(label),
                anchor="end",
                weight="bold" if len(bars) == 3 else "normal",
            )
        )
        for name, value in bars:
            w = plot * float(value) / largest
            body.append(_rect(left, y, w, bar - 1, colours[name], f"{label} {name}: {money(value)}"))
            body.append(_text(left + w + 5, y + bar - 2, money(value), size=10, fill=MUTED))
            y += bar
        y += 10
    legend, used = _legend(list(colours.items()), left, y + 8, plot + right)
    body += legend
    height = int(y + used + 12)
    description = (
        f"Per member-month: cost {money(cost)}, fee-for-service revenue {money(ffs)}, bundle payment "
        f"{money(bundle)}; "
        + "; ".join(f"{r['role']}: cost {money(r['cost'])}, FFS {money(r['ffs'])}" for r in roles)
    )
    return _svg(width, height, title, description, body, "ffs-vs-bundle")


def tornado(
    rows: list[dict], *, base: float, label: Callable[[float], str], title: str, chart_id: str
) -> str:
    """A tornado: per assumption, a bar from its lowest to its highest figure across its range, around
    the run's figure (the vertical line); the largest swing on top.

    `rows`: [{"label": "Productivity", "low_end": "0.7", "high_end": "0.8", "at_low": 281.0,
    "at_high": 255.3}] (the figure with the assumption at the low and at the high end of its range).
    """
    width, left, right, bar, gap, top = 720, 210, 120, 18, 8, 28
    plot = width - left - right
    figures = [v for r in rows for v in (r["at_low"], r["at_high"])] + [base]
    lo, hi = min(figures), max(figures)
    span = (hi - lo) or 1.0

    def x(value: float) -> float:
        return left + plot * (value - lo) / span

    body = [_text(x(base), 16, f"run: {label(base)}", size=11, anchor="middle", fill=MUTED)]
    y = top
    for row in rows:
        a, b = row["at_low"], row["at_high"]
        body.append(_text(left - 8, y + bar / 2 + 4, _short(row["label"], 30), anchor="end", size=11))
        low_x, high_x = x(min(a, b)), x(max(a, b))
        # the assumption's low end in one colour, its high end in the other
        left_colour, right_colour = (PALETTE[2], PALETTE[1]) if a <= b else (PALETTE[1], PALETTE[2])
        body.append(
            _rect(
                low_x,
                y,
                x(base) - low_x,
                bar,
                left_colour,
                f"{row['label']} {row['low_end'] if a <= b else row['high_end']}: {label(min(a, b))}",
            )
        )
        body.append(
            _rect(
                x(base),
                y,
                high_x - x(base),
                bar,
                right_colour,
                f"{row['label']} {row['high_end'] if a <= b else row['low_end']}: {label(max(a, b))}",
            )
        )
        body.append(
            _text(
                high_x + 4, y + bar / 2 + 4, f"{label(min(a, b))} to {label(max(a, b))}", size=10, fill=MUTED
            )
        )
        y += bar + gap
    body.append(
        f'<line x1="{x(base):.1f}" y1="{top - 4}" x2="{x(base):.1f}" y2="{y:.1f}" stroke="{INK}" stroke-width="1.5"/>'
    )
    legend, used = _legend(
        [("Low end of the range", PALETTE[2]), ("High end of the range", PALETTE[1])],
        left,
        y + 14,
        plot + right,
    )
    body += legend
    description = "; ".join(
        f"{r['label']}: {label(r['at_low'])} at {r['low_end']}, {label(r['at_high'])} at {r['high_end']}"
        for r in rows
    )
    return _svg(width, int(y + used + 18), title, description, body, chart_id)
