"""What several pricing services share: a message, the run lock's namespace, the progress log entry."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

INVALID_PRICING_FILE_MESSAGE = "The pricing file cannot be priced; every problem is listed with its path."
#: The first key of the PostgreSQL advisory lock a worker holds while it computes a run (the second is the run).
RUN_LOCK_NAMESPACE = 0x50524943  # "PRIC"


def _log_entry(progress: int, message: str) -> dict[str, Any]:
    return {"at": timezone.now().isoformat(timespec="seconds"), "progress": progress, "message": message}
