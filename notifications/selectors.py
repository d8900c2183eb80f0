"""Reads of notifications: a member reads only their own (in the organisation they act for); webhook
endpoints and their deliveries are the organisation's, read by its administrators."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.tenancy import Scope, scoped
from core.errors import NOT_FOUND_MESSAGE, NotFoundError, uuid_or_404
from core.worklist import KINDS
from notifications.models import Notification, NotificationPreference, WebhookDelivery, WebhookEndpoint


def notification_list(*, scope: Scope, unread: bool | None = None) -> QuerySet[Notification]:
    """The member's notifications, newest first."""
    notes = scoped(Notification.objects.filter(user_id=scope.membership.user_id), scope)
    if unread is not None:
        notes = notes.filter(read_at__isnull=unread)
    return notes.order_by("-created_at", "-pk")


def unread_count(*, scope: Scope) -> int:
    """Unread and still to do (an item done since is not counted)."""
    return notification_list(scope=scope, unread=True).filter(resolved_at__isnull=True).count()


def notification_get(*, scope: Scope, notification_id) -> Notification:
    try:
        return notification_list(scope=scope).get(public_id=uuid_or_404(notification_id))
    except Notification.DoesNotExist as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc


def preferences(*, scope: Scope) -> list[dict]:
    """Every kind with the member's choice (the defaults where none was made): in the app, not e-mailed."""
    chosen = {
        p.kind: p
        for p in scoped(NotificationPreference.objects.filter(user_id=scope.membership.user_id), scope)
    }
    return [
        {
            "kind": kind,
            "label": label,
            "in_app": chosen[kind].in_app if kind in chosen else True,
            "email": chosen[kind].email if kind in chosen else False,
        }
        for kind, label in KINDS.items()
    ]


def webhook_list(*, scope: Scope) -> QuerySet[WebhookEndpoint]:
    scope.require("webhook.manage")
    return scoped(WebhookEndpoint.objects.all(), scope).order_by("created_at", "pk")


def webhook_get(*, scope: Scope, endpoint_id) -> WebhookEndpoint:
    try:
        endpoint = scoped(WebhookEndpoint.objects.all(), scope).get(public_id=uuid_or_404(endpoint_id))
    except WebhookEndpoint.DoesNotExist as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc
    scope.require("webhook.manage")
    return endpoint


def delivery_list(*, scope: Scope, endpoint: WebhookEndpoint | None = None) -> QuerySet[WebhookDelivery]:
    """The delivery log, newest first."""
    scope.require("webhook.manage")
    deliveries = scoped(WebhookDelivery.objects.select_related("endpoint"), scope)
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    return deliveries.defer("body").order_by("-created_at", "-pk")
