"""Cells of the CSV and XLSX files the platform writes, safe to open in a spreadsheet.

Uploaded text (a member's name, a market's name, a column header) ends up in the files we
export. A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or a
carriage return before one) as a formula: ``=HYPERLINK("http://evil", "click")`` in a name
would become a live link in the plan's payment statement. Following the OWASP guidance on CSV
injection, such a *text* cell is written with a leading single quote, which the spreadsheet
shows as text. Numbers stay numbers: a number (``Decimal``, ``int``, ``float``) is never
touched, and neither is a string that is a plain number (``-12.50`` in a CSV is an amount).

Every CSV and XLSX writer passes its rows through :func:`safe_row` (or its cells through
:func:`safe_cell`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # OWASP: these start a formula
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` unchanged, unless it is text a spreadsheet would run as a formula: then ``'`` + value.

    A carriage return inside text becomes a line feed: our CSV writers end their lines with a
    line feed, and Python's ``csv`` module quotes a cell only for the characters of that line
    terminator, so a bare carriage return would be written unquoted and start a new row (with a
    formula of its choosing) in a spreadsheet. A line feed is quoted: a line break inside the cell.
    """
    if not isinstance(value, str):
        return value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        if value.startswith("\n"):
            return "'" + value
    if value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """A row with every cell through :func:`safe_cell`."""
    return [safe_cell(value) for value in values]
