"""Numbers and codes as people read them: one way for every page, report and PDF (no Django).

- Money reads ``$1,096.22``; a negative amount ``−$1,096.22`` (a minus sign, never parentheses).
  It is rounded half-up to the cent with the kernel's helper, so a page never shows an amount
  rounded differently from the API or the file.
- Member-months read with two decimals and separators (``1,234.73``): the stored six places
  (``0.733333``) are exact for the arithmetic and noise for a reader.
- A share reads as a percentage with one decimal (``0.035`` -> ``3.5%``).
- A code reads by its label (``medicare_advantage`` -> ``Medicare Advantage``); a code without
  a label reads as words (``lost_eligibility`` -> ``Lost eligibility``), never with underscores.

A missing value (``None`` or ``""``) reads ``—``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.domain import codes
from core.domain.money import round_half_up

MINUS = "\u2212"
MISSING = "—"


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _text(value: Any, places: int, prefix: str = "") -> str:
    number = _number(value)
    if number is None:
        return MISSING
    rounded = round_half_up(number, places)
    # The sign is the rounded figure's: -0.001 reads $0.00, not −$0.00.
    return f"{MINUS if rounded < 0 else ''}{prefix}{abs(rounded):,}"


def money_text(value: Any, *, cents: bool = True) -> str:
    """``$1,096.22``; ``−$4.10``; ``$1,096`` with ``cents=False`` (chart axes). Rounded half-up, as
    ``to_cents`` rounds the ledger's amounts."""
    return _text(value, 2 if cents else 0, "$")


def amount_text(value: Any) -> str:
    """Money without the dollar sign, for a column headed in dollars: ``1,096.22``, ``−4.10``."""
    return _text(value, 2)


def change_text(value: Any) -> str:
    """A difference with its sign, for a column of changes: ``+10.55``, ``−4.10``, ``0.00``."""
    number = _number(value)
    if number is None:
        return MISSING
    return ("+" if round_half_up(number, 2) > 0 else "") + amount_text(number)


def decimal_text(value: Any, places: int) -> str:
    """A figure to ``places`` decimals, half-up, with separators: ``28.00``, ``1,234.7``."""
    return _text(value, places)


def member_months_text(value: Any) -> str:
    """Member-months to two decimals: ``0.733333`` -> ``0.73``, ``1234`` -> ``1,234.00``."""
    return decimal_text(value, 2)


def percent_text(value: Any, places: int = 1) -> str:
    """A share as a percentage: ``0.035`` -> ``3.5%``."""
    number = _number(value)
    return MISSING if number is None else f"{decimal_text(number * 100, places)}%"


#: Every code the product stores, by its label (the kernel's maps, so pages and documents agree).
LABELS: dict[str, str] = {
    **codes.LOB_LABELS,
    **codes.PRORATION_LABELS,
    **codes.TIER_RULE_LABELS,
    **codes.ROLE_LABELS,
    **codes.WORK_ITEM_LABELS,
    **codes.CARE_MANAGEMENT_LABELS,
}


def code_label(code: Any) -> str:
    """The label of a code; a code without one reads as words (``lost_eligibility`` -> ``Lost eligibility``)."""
    if code is None or code == "":
        return MISSING
    text = str(code)
    return LABELS.get(text) or (text.replace("_", " ").capitalize() if text.islower() else text)


def rate_cell_text(key: Any) -> str:
    """A rate cell key (``2/URBAN/medicare_advantage``, or a contract's ``medicaid/2/URBAN``) in words:
    ``Tier 2 · URBAN · Medicare Advantage``."""
    if key is None or key == "":
        return MISSING
    parts = str(key).split("/")
    tiers = [f"Tier {p}" for p in parts if p.isdigit()]
    lobs = [code_label(p) for p in parts if p in codes.LOB_LABELS]
    markets = [p for p in parts if not p.isdigit() and p not in codes.LOB_LABELS]
    return " · ".join([*tiers, *markets, *lobs])
