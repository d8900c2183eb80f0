"""Contract tasks: the daily expiry and the zip of rate sheets. Each takes ids and calls one service."""

from __future__ import annotations

from celery import shared_task

from contracts.services.lifecycle import contracts_expire_due
from contracts.services.rate_sheets import rate_sheet_export_queue


@shared_task(name="contracts.expire_due")
def expire_due_contracts() -> list[str]:
    """Daily (CELERY_BEAT_SCHEDULE): active contracts whose end date has come become expired."""
    return contracts_expire_due()


@shared_task(name="contracts.build_rate_sheet_export", acks_late=True)
def build_rate_sheet_export(export_id: int) -> str:
    """Spreads an export over the workers (core.run_bulk_item, one per contract). Kept so that messages
    queued before the export was a bulk operation still build their zip; it renders nothing itself."""
    return rate_sheet_export_queue(export_id=export_id).status
