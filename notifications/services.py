"""Writes of notifications: the sweep that turns worklists into notifications, e-mails and webhook
deliveries (idempotent: one per work item), the delivery of one webhook, and the member's choices.

Worklists are computed, not stored (web.workspace): the sweep (a Celery beat task every few minutes)
compares each member's worklist with the notifications already made. A new item becomes a
notification, e-mailed when the member chose its kind; an item no longer on the worklist is marked
resolved. Running the sweep twice, or again after a crash half-way, makes nothing twice: a
notification is unique per member and item, an e-mail is sent for a notification whose
``emailed_at`` is empty (set after the send), a delivery is unique per endpoint and item.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization, Role
from accounts.tenancy import Scope
from core.domain.canonical import canonical_json
from core.errors import ApplicationError, NotFoundError
from core.worklist import KINDS, WorkItem
from notifications.models import (
    DeliveryStatus,
    Notification,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)
from web.workspace import worklist

logger = logging.getLogger(__name__)

#: A notification made longer ago than this is not e-mailed any more (say, a kind chosen later).
EMAIL_WITHIN = timedelta(days=2)
SIGNATURE_HEADER = "X-Carebundle-Signature"
EVENT_HEADER = "X-Carebundle-Event"
DELIVERY_HEADER = "X-Carebundle-Delivery"


@dataclass
class SweepReport:
    notified: int = 0
    resolved: int = 0
    emailed: int = 0
    deliveries: list[int] | None = None


def _absolute(url: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{url}"


def _preferences(memberships: list[Membership]) -> dict[tuple[int, int], dict[str, NotificationPreference]]:
    by_member: dict[tuple[int, int], dict[str, NotificationPreference]] = defaultdict(dict)
    users = {m.user_id for m in memberships}
    for pref in NotificationPreference.objects.filter(user_id__in=users):
        by_member[(pref.user_id, pref.organization_id)][pref.kind] = pref
    return by_member


def _notify_member(
    scope: Scope, items: list[WorkItem], prefs: dict[str, NotificationPreference], now: datetime
):
    """Make the member's new notifications and resolve the ones done. Returns (made, resolved)."""
    membership = scope.membership
    wanted = [item for item in items if prefs.get(item.kind) is None or prefs[item.kind].in_app]
    keys = {item.key for item in wanted}
    mine = Notification.objects.filter(user_id=membership.user_id, organization_id=membership.organization_id)
    known = set(mine.filter(key__in=keys).values_list("key", flat=True))
    made = Notification.objects.bulk_create(
        [
            Notification(
                user_id=membership.user_id,
                organization_id=membership.organization_id,
                kind=item.kind,
                key=item.key,
                title=item.title[:300],
                detail=item.detail,
                url=item.url,
                due=item.due,
                urgent=item.urgent,
            )
            for item in wanted
            if item.key not in known
        ],
        ignore_conflicts=True,  # a sweep running at the same time made it: still once
    )
    resolved = mine.filter(resolved_at__isnull=True).exclude(key__in=keys).update(resolved_at=now)
    return len(made), resolved


def _email_member(membership: Membership, prefs: dict[str, NotificationPreference], now: datetime) -> int:
    """E-mail the member's notifications of the kinds chosen that were not e-mailed yet, in one message."""
    kinds = [kind for kind, pref in prefs.items() if pref.email]
    user = membership.user
    if not kinds or not user.email:
        return 0
    pending = list(
        Notification.objects.filter(
            user_id=user.pk,
            organization_id=membership.organization_id,
            kind__in=kinds,
            emailed_at__isnull=True,
            resolved_at__isnull=True,
            created_at__gte=now - EMAIL_WITHIN,
        ).order_by("-urgent", "due", "pk")
    )
    if not pending:
        return 0
    organization = membership.organization.display_name
    lines = [f"- {n.get_kind_display()}: {n.title}\n  {n.detail}\n  {_absolute(n.url)}" for n in pending]
    send_mail(
        subject=f"{len(pending)} new item{'s' if len(pending) != 1 else ''} need you ({organization})",
        message=(
            f"In carebundle, for {organization}:\n\n"
            + "\n\n".join(lines)
            + "\n\nChoose what is e-mailed to you "
            f"under Notifications: {_absolute('/notifications/')}"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    Notification.objects.filter(pk__in=[n.pk for n in pending]).update(emailed_at=timezone.now())
    return len(pending)


def _organization_scope(organization: Organization) -> Scope:
    """The organisation as a whole (every kind an administrator sees), for its webhooks."""
    return Scope(Membership(organization=organization, role=Role.ADMIN))


def webhook_body(endpoint: WebhookEndpoint, item: WorkItem) -> str:
    """The JSON an endpoint receives for an item: what the workspace API says of it, and who it is for."""
    return canonical_json(
        {
            "event": item.kind,
            "id": item.key,
            "organization": str(endpoint.organization.public_id),
            "item": {
                "kind": item.kind,
                "label": item.label,
                "title": item.title,
                "detail": item.detail,
                "url": _absolute(item.url),
                "due": item.due,
                "urgent": item.urgent,
            },
        }
    )


def _queue_deliveries(now: datetime) -> list[int]:
    """A pending delivery for each active endpoint and each new item of its kinds. Returns their ids."""
    endpoints = list(WebhookEndpoint.objects.filter(active=True).select_related("organization"))
    by_org: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        by_org[endpoint.organization_id].append(endpoint)
    made: list[WebhookDelivery] = []
    for org_endpoints in by_org.values():
        items = worklist(scope=_organization_scope(org_endpoints[0].organization))
        for endpoint in org_endpoints:
            keys = [item.key for item in items]
            known = set(endpoint.deliveries.filter(key__in=keys).values_list("key", flat=True))
            made += WebhookDelivery.objects.bulk_create(
                [
                    WebhookDelivery(
                        endpoint=endpoint, key=item.key, kind=item.kind, body=webhook_body(endpoint, item)
                    )
                    for item in items
                    if endpoint.wants(item.kind) and item.key not in known
                ],
                ignore_conflicts=True,
            )
    # The ids of what this sweep made, and of anything left pending by a crash before it was queued.
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, attempts=0).values_list("pk", flat=True)
    )


def notifications_sweep(*, now: datetime | None = None) -> SweepReport:
    """Every member's new work items notified (and e-mailed as chosen), done ones resolved, and a webhook
    delivery made for each new item of an organisation with endpoints. Idempotent."""
    now = now or timezone.now()
    report = SweepReport()
    memberships = list(
        Membership.objects.active()
        .filter(user__is_active=True)
        .select_related("user", "organization")
        .order_by("pk")
    )
    preferences = _preferences(memberships)
    for membership in memberships:
        prefs = preferences.get((membership.user_id, membership.organization_id), {})
        try:
            with transaction.atomic():
                scope = Scope(membership)
                made, resolved = _notify_member(scope, worklist(scope=scope), prefs, now)
            report.notified += made
            report.resolved += resolved
            report.emailed += _email_member(membership, prefs, now)
        except (
            Exception
        ):  # one member's failure (a mail server) must not stop the others'; next sweep retries
            logger.exception("Notifications for membership %s could not be made or sent", membership.pk)
    report.deliveries = _queue_deliveries(now)
    return report


# --- webhook delivery -----------------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of the exact body with the endpoint's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class DeliveryFailed(Exception):
    """The endpoint did not take the delivery (a network error or a status other than 2xx): retry."""


#: Seconds to wait for an endpoint's answer.
WEBHOOK_TIMEOUT = 10
PRIVATE_ADDRESS_MESSAGE = (
    "A webhook must go to a public address: {host} is a private, loopback or reserved address."
)
SCHEME_MESSAGE = "A webhook URL must start with https:// (http:// only on a developer's machine)."


def check_destination(url: str) -> None:
    """Refuse a URL that would make the platform call into its own network (SSRF): a scheme other than
    https (http too on a developer's machine), or a host that resolves to a private, loopback,
    link-local or reserved address, unless ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES``. Checked when the
    endpoint is registered and again before each attempt (a name can be pointed elsewhere later)."""
    parsed = urllib.parse.urlsplit(url)
    schemes = {"https", "http"} if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES or settings.DEBUG else {"https"}
    if parsed.scheme not in schemes or not parsed.hostname:
        raise ApplicationError(SCHEME_MESSAGE, code="invalid_webhook_url", details={"url": [SCHEME_MESSAGE]})
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parsed.hostname, parsed.port or 443)}
    except OSError as exc:
        message = f"The host {parsed.hostname} cannot be found."
        raise ApplicationError(message, code="invalid_webhook_url", details={"url": [message]}) from exc
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            message = PRIVATE_ADDRESS_MESSAGE.format(host=parsed.hostname)
            raise ApplicationError(message, code="invalid_webhook_url", details={"url": [message]})


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer, not a new destination
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` as JSON; the answer's status code. Raises ``OSError`` when nothing answered."""
    request = urllib.request.Request(  # noqa: S310 - check_destination let only http(s) through
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with _opener.open(request, timeout=WEBHOOK_TIMEOUT) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def webhook_deliver(*, delivery_id: int, final: bool = False) -> WebhookDelivery | None:
    """POST a delivery's body, signed, to its endpoint; record the attempt. A delivered (or given-up)
    delivery is left alone, so a repeated task sends nothing twice. Raises ``DeliveryFailed`` for the
    task to retry; on the ``final`` attempt the delivery is marked failed instead."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return delivery
        body = delivery.body.encode()
        headers = {
            SIGNATURE_HEADER: signature(delivery.endpoint.secret, body),
            EVENT_HEADER: delivery.kind,
            DELIVERY_HEADER: str(delivery.public_id),
        }
        code, error = None, ""
        try:
            check_destination(delivery.endpoint.url)
            code = _post(delivery.endpoint.url, body, headers)
            if not 200 <= code < 300:
                error = f"The endpoint answered {code}."
        except ApplicationError as exc:
            error = exc.message[:300]
        except OSError as exc:
            error = f"Could not reach the endpoint: {exc}"[:300]
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        delivery.last_status_code = code
        delivery.last_error = error
        if not error:
            delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, delivery.last_attempt_at
        elif final:
            delivery.status = DeliveryStatus.FAILED
        delivery.save()
    if error and not final:
        raise DeliveryFailed(error)
    return delivery


# --- the member's choices and reads ---------------------------------------------------------------


def preferences_save(*, scope: Scope, choices: dict[str, dict[str, bool]]) -> None:
    """Set the member's choice for each kind given: ``{kind: {"in_app": bool, "email": bool}}``."""
    unknown = sorted(set(choices) - set(KINDS))
    if unknown:
        raise ApplicationError(
            "Unknown notification kind.", code="validation_error", details={"kinds": unknown}
        )
    with transaction.atomic():
        for kind, choice in choices.items():
            NotificationPreference.objects.update_or_create(
                user_id=scope.membership.user_id,
                organization_id=scope.organization.pk,
                kind=kind,
                defaults={
                    "in_app": bool(choice.get("in_app", True)),
                    "email": bool(choice.get("email", False)),
                },
            )


def notification_read(*, scope: Scope, notification: Notification) -> Notification:
    if (
        notification.user_id != scope.membership.user_id
        or notification.organization_id != scope.organization.pk
    ):
        raise NotFoundError()
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_read_all(*, scope: Scope) -> int:
    return Notification.objects.filter(
        user_id=scope.membership.user_id, organization_id=scope.organization.pk, read_at__isnull=True
    ).update(read_at=timezone.now())


# --- webhook endpoints ----------------------------------------------------------------------------


def webhook_create(*, scope: Scope, url: str, kinds: list[str] | None = None) -> WebhookEndpoint:
    scope.require("webhook.manage")
    kinds = list(kinds or [])
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ApplicationError(
            "Unknown notification kind.", code="validation_error", details={"kinds": unknown}
        )
    check_destination(url)
    return WebhookEndpoint.objects.create(
        organization=scope.organization, url=url, kinds=kinds, created_by_id=scope.membership.user_id
    )


def webhook_deactivate(*, scope: Scope, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    scope.require("webhook.manage")
    endpoint.active = False
    endpoint.save(update_fields=["active"])
    return endpoint
