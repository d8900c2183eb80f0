"""Where a settlement gets a period's performance: a port the performance app fills (ADR 0006).

Performance sits above payments, so payments never imports it. ``PerformanceConfig.ready`` registers
``performance.selectors`` here; a settlement (``payments.services``) asks ``performance()``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet

from contracts.models import Contract


class SettlementPeriod(Protocol):
    """A performance period: its code (2026-Q1, CY1...), kind and half-open month range [start, end)."""

    @property
    def code(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def start(self) -> date: ...
    @property
    def end(self) -> date: ...


class PerformanceSource(Protocol):
    def period_of(self, contract: Contract, code: str | None) -> SettlementPeriod:
        """The period a code names for the contract (an ApplicationError when it names none)."""
        ...

    def compute_performance(self, contract: Contract, period: Any, *, series: bool = True) -> dict[str, Any]:
        """The period's measures, composite score, withhold and shared savings (plain data)."""
        ...

    def member_month_rows(self, contract: Contract) -> QuerySet[Any]:
        """The contract's member-months from its current rosters (rows with a ``month``)."""
        ...


_source: PerformanceSource | None = None


def register(source: PerformanceSource) -> None:
    global _source
    _source = source


def performance() -> PerformanceSource:
    if _source is None:
        raise ImproperlyConfigured(
            "No performance source is registered: settlements need the performance app installed."
        )
    return _source
