"""Moved to :mod:`core.domain.money`; this name stays only until payments/services imports the kernel."""

from core.domain.money import CENT, to_cents

__all__ = ["CENT", "to_cents"]
