"""``{% load display %}``: the kernel's way of showing numbers and codes, as template filters.

``{{ amount|money }}`` $1,096.22 · ``{{ amount|amount }}`` 1,096.22 (in a column headed in
dollars) · ``{{ difference|change }}`` +10.55 · ``{{ mm|member_months }}`` 28.00 · ``{{ share|percent }}`` 3.5% ·
``{{ factor|decimal:4 }}`` 1.0712 · ``{{ moment|when }}`` 2026-12-06 10:10 · ``{{ code|label }}`` Medicare Advantage · ``{{ codes|labels }}`` Medicaid, Medicare Advantage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateparse import parse_datetime

from core.domain import display

register = template.Library()

register.filter("money", display.money_text)
register.filter("amount", display.amount_text)
register.filter("change", display.change_text)
register.filter("member_months", display.member_months_text)
register.filter("label", display.code_label)


@register.filter
def percent(value: Any, places: int = 1) -> str:
    return display.percent_text(value, int(places))


#: The one way a moment reads on a page, in the user's time zone (an audit trail adds seconds).
WHEN_FORMAT = "Y-m-d H:i"


@register.filter
def when(value: Any) -> str:
    """A datetime, or an ISO 8601 string as a progress log stores it: ``2026-12-06 10:10``."""
    if value is None or value == "":
        return display.MISSING
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return str(value)
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return date_format(moment, WHEN_FORMAT)


@register.filter
def decimal(value: Any, places: int = 2) -> str:
    """A factor or ratio to ``places`` decimals (the exact figure belongs in a ``title``)."""
    return display.decimal_text(value, int(places))


@register.filter
def labels(codes: Iterable[Any] | None) -> str:
    """A list of codes as their labels, comma-separated."""
    return ", ".join(display.code_label(code) for code in codes or ()) or display.MISSING


register.filter("rate_cell", display.rate_cell_text)
