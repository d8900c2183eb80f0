"""Cross-cutting records: who looked at member data (PHI access log) and idempotent POSTs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.domain.display import code_label

#: How an access log action's verb reads (``roster.download`` -> "Downloaded roster").
ACCESS_VERBS = {
    "view": "Viewed",
    "download": "Downloaded",
    "export": "Exported",
    "list": "Listed",
    "members": "Viewed the members of",
    "share": "Shared",
    "unshare": "Stopped sharing",
}


class AccessEvent(models.Model):
    """One view of a member's data (roster detail, drill-down, statement with member lines), or a
    change of who may see an organisation's work (a bundle version or pricing run shared, unshared).

    Append-only; the plan's and provider's auditors read their own organisation's events.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=64, help_text="e.g. roster.view, statement.download")
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    detail = models.CharField(max_length=300, blank=True)
    path = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["organization", "-at"])]

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.object_type}:{self.object_id} at {self.at:%Y-%m-%d %H:%M}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(organization=organization)

    @property
    def action_label(self) -> str:
        """``roster.view`` -> "Viewed roster", ``payment_run.members`` -> "Viewed the members of payment run"."""
        thing, _, verb = self.action.partition(".")
        return f"{ACCESS_VERBS.get(verb) or code_label(verb)} {code_label(thing).lower()}"

    @property
    def object_label(self) -> str:
        """What was viewed, in words (``roster_submission`` -> "Roster submission")."""
        return code_label(self.object_type)


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key``; a repeat gets it again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat task (beat sends it every minute):
    readiness reads it to know that some worker takes work."""

    name = models.CharField(max_length=200, unique=True, help_text="The worker's hostname")
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class BulkStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Done with failures"


class BulkItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class BulkOperation(models.Model):
    """One piece of work done for many contracts at once (month-end, ...): its items spread over the
    workers (``core.bulk``), its progress is theirs. One per organisation, kind and parameters."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=64, help_text="e.g. payments.month_end")
    title = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=64, help_text="sha256 of the kind and parameters")
    status = models.CharField(max_length=16, choices=BulkStatus.choices, default=BulkStatus.RUNNING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="The latest (re)start")
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why its completion hook stopped, if it did")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="bulk_operation_unique_per_key")
        ]

    def __str__(self) -> str:
        return self.title

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(organization=organization)


class BulkItem(models.Model):
    """One contract's share of a bulk operation; retried alone when it fails."""

    operation = models.ForeignKey(BulkOperation, on_delete=models.CASCADE, related_name="items")
    subject_id = models.PositiveBigIntegerField(help_text="The contract's id")
    label = models.CharField(max_length=200, help_text="The contract's number")
    status = models.CharField(max_length=16, choices=BulkItemStatus.choices, default=BulkItemStatus.PENDING)
    message = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="What the work made (e.g. the run's id)")
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["label", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "subject_id"], name="bulk_item_unique_per_subject")
        ]

    def __str__(self) -> str:
        return f"{self.operation}: {self.label} ({self.status})"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(operation__organization=organization)
