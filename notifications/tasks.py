"""Notification tasks: thin, idempotent (each calls one service; see notifications.services)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from notifications import services

#: Attempts of a webhook delivery: the first and this many retries, waiting 1, 2, 4, 8, 16, 32, 60 and 60
#: minutes (about three hours in all); then the delivery is marked failed.
WEBHOOK_MAX_RETRIES = 8


@shared_task(name="notifications.sweep", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def sweep() -> dict:
    """Worklists to notifications, e-mails and webhook deliveries; each new delivery is queued."""
    report = services.notifications_sweep()
    for delivery_id in report.deliveries or []:
        deliver_webhook.delay(delivery_id)
    return {"notified": report.notified, "resolved": report.resolved, "emailed": report.emailed}


@shared_task(
    bind=True,
    name="notifications.deliver_webhook",
    acks_late=True,
    autoretry_for=(services.DeliveryFailed, OperationalError),
    retry_backoff=60,
    retry_backoff_max=60 * 60,
    retry_jitter=False,  # the waits above, as documented to the plan (docs/formats.md)
    max_retries=WEBHOOK_MAX_RETRIES,
)
def deliver_webhook(self, delivery_id: int) -> str:
    """One attempt at a delivery; Celery retries with backoff until delivered or the last attempt."""
    delivery = services.webhook_deliver(
        delivery_id=delivery_id, final=self.request.retries >= WEBHOOK_MAX_RETRIES
    )
    return delivery.status if delivery is not None else "missing"
