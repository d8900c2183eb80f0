"""Notifications of the worklist's items (issue 16): in the app (the bell) and by e-mail, each user
choosing which kinds; and webhooks a plan registers for the same items, signed and retried, with a
log of every attempt.

A notification or a delivery is made once per work item (``core.worklist.WorkItem.key``): the sweep
that makes them (``notifications.services.notifications_sweep``) can run any number of times.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.worklist import KINDS

KIND_CHOICES = list(KINDS.items())


class Notification(models.Model):
    """One work item told to one member of one organisation."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    key = models.CharField(max_length=64, help_text="The work item's identity (WorkItem.key)")
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    url = models.CharField(max_length=500)
    due = models.DateField(null=True, blank=True)
    urgent = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="When it left the worklist (done)")
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "key"], name="notification_once_per_item")
        ]
        indexes = [models.Index(fields=["user", "organization", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.title}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(organization=organization)


class NotificationPreference(models.Model):
    """A member's choice for one kind: shown in the app (default) and e-mailed (not by default)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization", "kind"], name="notification_preference_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: in app {self.in_app}, e-mail {self.email}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(organization=organization)


def new_secret() -> str:
    return secrets.token_hex(32)


class WebhookEndpoint(models.Model):
    """A URL an organisation registered to be told of its work items, signed with its secret."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=64, default=new_secret)
    kinds = models.JSONField(default=list, blank=True, help_text="The kinds to send; empty: every kind")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.url

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(organization=organization)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One work item sent to one endpoint: its body (fixed when made), and the outcome of the attempts."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    key = models.CharField(max_length=64)
    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    body = models.TextField(help_text="The JSON sent, exactly (the signature is over these bytes)")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "key"], name="webhook_delivery_once")]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.kind} {self.status}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(endpoint__organization=organization)
