"""What happens when claims load, registered by the apps above (ADR 0006: no import points up).

Performance derives utilisation from the standing claims of the members a file touched; it
registers that in ``PerformanceConfig.ready``. A hook runs inside the load's transaction, so a
file and everything made from it land together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

ClaimsLoaded = Callable[..., Any]
_loaded: list[ClaimsLoaded] = []


def on_claims_loaded(hook: ClaimsLoaded) -> None:
    """``hook(upload=..., member_ids=...)`` runs after a claims file loads, in its transaction."""
    if hook not in _loaded:
        _loaded.append(hook)


def claims_loaded(*, upload: Any, member_ids: Iterable[str]) -> None:
    members = sorted(set(member_ids))
    for hook in _loaded:
        hook(upload=upload, member_ids=members)
