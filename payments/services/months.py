"""Rate cell keys of payments (the month arithmetic is the kernel's, :mod:`core.domain.months`)."""

from __future__ import annotations


def cell_key(tier: str, market: str, lob: str) -> str:
    return f"{tier}/{market}/{lob}"
