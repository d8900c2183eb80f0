"""What several pricing services share: a message, the run lock's namespace, the progress log entry."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from core.errors import PermissionDeniedError

INVALID_PRICING_FILE_MESSAGE = "The pricing file cannot be priced; every problem is listed with its path."
#: The first key of the PostgreSQL advisory lock a worker holds while it computes a run (the second is the run).
RUN_LOCK_NAMESPACE = 0x50524943  # "PRIC"


NOT_OWNER_MESSAGE = "Only the organisation that owns a pricing run can change it or work from it."


def require_run_owner(scope, run, permission: str) -> None:
    """``permission``, on a run of the scope's own organisation: a run shared with it is read-only
    (no cancel, what-if, sensitivity analysis, nor sharing it on)."""
    scope.require(permission)
    if run.payer_id != scope.organization.pk:
        raise PermissionDeniedError(NOT_OWNER_MESSAGE)


def _log_entry(progress: int, message: str) -> dict[str, Any]:
    return {"at": timezone.now().isoformat(timespec="seconds"), "progress": progress, "message": message}
